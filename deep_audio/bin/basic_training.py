"""The seed's spelling ``python -m deep_audio.bin.basic_training``: :mod:`deep_audio.cli.train`."""

from deep_audio.cli.train import *  # noqa: F401,F403
from deep_audio.cli.train import main

if __name__ == "__main__":
    main()
