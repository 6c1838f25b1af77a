"""The seed's spelling ``python -m deep_audio.bin.transfer_learning``: :mod:`deep_audio.cli.transfer_learning`."""

from deep_audio.cli.transfer_learning import *  # noqa: F401,F403
from deep_audio.cli.transfer_learning import main

if __name__ == "__main__":
    main()
