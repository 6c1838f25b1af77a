"""The seed's spelling ``python -m deep_audio.bin.classic_training``: :mod:`deep_audio.cli.classic_training`."""

from deep_audio.cli.classic_training import *  # noqa: F401,F403
from deep_audio.cli.classic_training import main

if __name__ == "__main__":
    main()
