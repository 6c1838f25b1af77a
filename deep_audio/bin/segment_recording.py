"""The seed's spelling ``python -m deep_audio.bin.segment_recording``: :mod:`deep_audio.cli.segment`."""

from deep_audio.cli.segment import *  # noqa: F401,F403
from deep_audio.cli.segment import main

if __name__ == "__main__":
    main()
