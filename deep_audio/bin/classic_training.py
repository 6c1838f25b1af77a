"""The seed's spelling ``python -m deep_audio.bin.classic_training``: :mod:`deep_audio.cli.classic_train`."""

from deep_audio.cli.classic_train import *  # noqa: F401,F403
from deep_audio.cli.classic_train import main

if __name__ == "__main__":
    main()
