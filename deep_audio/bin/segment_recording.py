"""The seed's spelling ``python -m deep_audio.bin.segment_recording``: ``deep-audio segment``
(:mod:`deep_audio.cli.segment`)."""

from deep_audio.cli.segment import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
