"""The seed's spelling ``python -m deep_audio.bin.basic_training``: :mod:`deep_audio.cli.basic_training`."""

from deep_audio.cli.basic_training import *  # noqa: F401,F403
from deep_audio.cli.basic_training import main

if __name__ == "__main__":
    main()
