"""The seed's spelling ``python -m deep_audio.bin.export_model``: ``deep-audio export``
(:mod:`deep_audio.cli.export`)."""

from deep_audio.cli.export import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
