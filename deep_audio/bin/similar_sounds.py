"""The seed's spelling ``python -m deep_audio.bin.similar_sounds``: :mod:`deep_audio.cli.similar`."""

from deep_audio.cli.similar import *  # noqa: F401,F403
from deep_audio.cli.similar import main

if __name__ == "__main__":
    main()
