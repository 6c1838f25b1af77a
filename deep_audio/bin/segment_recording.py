"""The seed's spelling ``python -m deep_audio.bin.segment_recording``: :mod:`deep_audio.cli.segment_recording`."""

from deep_audio.cli.segment_recording import *  # noqa: F401,F403
from deep_audio.cli.segment_recording import main

if __name__ == "__main__":
    main()
