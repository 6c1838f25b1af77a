"""The seed's spelling ``python -m deep_audio.bin.deep_feature_test``:
``deep-audio deep-feature-test`` (:mod:`deep_audio.cli.deep_feature_test`)."""

from deep_audio.cli.deep_feature_test import deep_file_classification, main

__all__ = ["deep_file_classification", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
