"""The seed's spelling ``python -m deep_audio.bin.model_architecture``: :mod:`deep_audio.cli.architecture`."""

from deep_audio.cli.architecture import *  # noqa: F401,F403
from deep_audio.cli.architecture import main

if __name__ == "__main__":
    main()
