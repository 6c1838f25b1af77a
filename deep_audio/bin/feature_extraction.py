"""The seed's spelling ``python -m deep_audio.bin.feature_extraction``: :mod:`deep_audio.cli.feature_extraction`."""

from deep_audio.cli.feature_extraction import *  # noqa: F401,F403
from deep_audio.cli.feature_extraction import main

if __name__ == "__main__":
    main()
