"""The seed's spelling ``python -m deep_audio.bin.classification_report``: ``deep-audio report``
(:mod:`deep_audio.cli.report`)."""

from deep_audio.cli.report import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
