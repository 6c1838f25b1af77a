"""The seed's spelling ``python -m deep_audio.bin.similar_sounds``: ``deep-audio similar``
(:mod:`deep_audio.cli.similar`)."""

from deep_audio.cli.similar import build_index, main, nearest

__all__ = ["build_index", "main", "nearest"]

if __name__ == "__main__":
    raise SystemExit(main())
