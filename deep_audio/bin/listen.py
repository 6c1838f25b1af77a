"""The seed-style spelling ``python -m deep_audio.bin.listen``: ``deep-audio listen``
(:mod:`deep_audio.cli.listen`)."""

from deep_audio.cli.listen import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
