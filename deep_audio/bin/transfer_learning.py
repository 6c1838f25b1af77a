"""The seed's spelling ``python -m deep_audio.bin.transfer_learning``: :mod:`deep_audio.cli.transfer`."""

from deep_audio.cli.transfer import *  # noqa: F401,F403
from deep_audio.cli.transfer import main

if __name__ == "__main__":
    main()
