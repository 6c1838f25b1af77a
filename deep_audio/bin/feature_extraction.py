"""The seed's spelling ``python -m deep_audio.bin.feature_extraction``: ``deep-audio features``
(:mod:`deep_audio.cli.features`)."""

from deep_audio.cli.features import directory_feature_extraction, main

__all__ = ["directory_feature_extraction", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
