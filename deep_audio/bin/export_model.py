"""The seed's spelling ``python -m deep_audio.bin.export_model``: :mod:`deep_audio.cli.export`."""

from deep_audio.cli.export import *  # noqa: F401,F403
from deep_audio.cli.export import main

if __name__ == "__main__":
    main()
