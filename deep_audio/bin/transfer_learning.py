"""The seed's spelling ``python -m deep_audio.bin.transfer_learning``: ``deep-audio transfer``
(:mod:`deep_audio.cli.transfer`)."""

from deep_audio.cli.transfer import main, transfer_learning

__all__ = ["main", "transfer_learning"]

if __name__ == "__main__":
    raise SystemExit(main())
