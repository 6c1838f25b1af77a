"""The seed's spelling ``python -m deep_audio.bin.basic_test``: ``deep-audio test``
(:mod:`deep_audio.cli.test`)."""

from deep_audio.cli.test import classify_file, main

__all__ = ["classify_file", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
