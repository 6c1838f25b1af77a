"""The seed's spelling ``python -m deep_audio.bin.model_architecture``: ``deep-audio architecture``
(:mod:`deep_audio.cli.architecture`)."""

from deep_audio.cli.architecture import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
