"""The seed's spelling ``python -m deep_audio.bin.basic_test``: :mod:`deep_audio.cli.test`."""

from deep_audio.cli.test import *  # noqa: F401,F403
from deep_audio.cli.test import main

if __name__ == "__main__":
    main()
