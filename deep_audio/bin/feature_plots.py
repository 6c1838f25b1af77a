"""The seed's spelling ``python -m deep_audio.bin.feature_plots``: :mod:`deep_audio.cli.plot`."""

from deep_audio.cli.plot import *  # noqa: F401,F403
from deep_audio.cli.plot import main

if __name__ == "__main__":
    main()
