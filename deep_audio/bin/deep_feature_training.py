"""The seed's spelling ``python -m deep_audio.bin.deep_feature_training``:
``deep-audio deep-feature-train`` (:mod:`deep_audio.cli.deep_feature_train`)."""

from deep_audio.cli.deep_feature_train import main, train_deep_feature_classifier

__all__ = ["main", "train_deep_feature_classifier"]

if __name__ == "__main__":
    raise SystemExit(main())
