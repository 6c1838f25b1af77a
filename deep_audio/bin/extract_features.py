"""The seed's spelling ``python -m deep_audio.bin.extract_features``: :mod:`deep_audio.cli.extract_features`."""

from deep_audio.cli.extract_features import *  # noqa: F401,F403
from deep_audio.cli.extract_features import main

if __name__ == "__main__":
    main()
