"""The seed's spelling ``python -m deep_audio.bin.classic_training``: ``deep-audio classic-train``
(:mod:`deep_audio.cli.classic_train`)."""

from deep_audio.cli.classic_train import extract_features_and_train, main

__all__ = ["extract_features_and_train", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
