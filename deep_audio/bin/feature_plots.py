"""The seed's spelling ``python -m deep_audio.bin.feature_plots``: :mod:`deep_audio.cli.feature_plots`."""

from deep_audio.cli.feature_plots import *  # noqa: F401,F403
from deep_audio.cli.feature_plots import main

if __name__ == "__main__":
    main()
