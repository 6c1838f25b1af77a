"""The seed's spelling ``python -m deep_audio.bin.extract_features``: ``deep-audio embed``
(:mod:`deep_audio.cli.embed`)."""

from deep_audio.cli.embed import extract_deep_features, main

__all__ = ["extract_deep_features", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
