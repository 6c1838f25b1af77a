"""The seed's spelling ``python -m deep_audio.bin.classic_test``: :mod:`deep_audio.cli.classic_test`."""

from deep_audio.cli.classic_test import *  # noqa: F401,F403
from deep_audio.cli.classic_test import main

if __name__ == "__main__":
    main()
