"""The seed's spelling ``python -m deep_audio.bin.similar_sounds``: :mod:`deep_audio.cli.similar_sounds`."""

from deep_audio.cli.similar_sounds import *  # noqa: F401,F403
from deep_audio.cli.similar_sounds import main

if __name__ == "__main__":
    main()
