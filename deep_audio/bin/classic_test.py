"""The seed's spelling ``python -m deep_audio.bin.classic_test``: ``deep-audio classic-test``
(:mod:`deep_audio.cli.classic_test`)."""

from deep_audio.cli.classic_test import file_classification, main

__all__ = ["file_classification", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
