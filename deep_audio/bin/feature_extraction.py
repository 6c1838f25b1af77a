"""The seed's spelling ``python -m deep_audio.bin.feature_extraction``: :mod:`deep_audio.cli.features`."""

from deep_audio.cli.features import *  # noqa: F401,F403
from deep_audio.cli.features import main

if __name__ == "__main__":
    main()
