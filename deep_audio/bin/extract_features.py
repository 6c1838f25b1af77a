"""The seed's spelling ``python -m deep_audio.bin.extract_features``: :mod:`deep_audio.cli.embed`."""

from deep_audio.cli.embed import *  # noqa: F401,F403
from deep_audio.cli.embed import main

if __name__ == "__main__":
    main()
