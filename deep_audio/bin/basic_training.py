"""The seed's spelling ``python -m deep_audio.bin.basic_training``: ``deep-audio train``
(:mod:`deep_audio.cli.train`)."""

from deep_audio.cli.train import main, train_model

__all__ = ["main", "train_model"]

if __name__ == "__main__":
    raise SystemExit(main())
