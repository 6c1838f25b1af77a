"""The older spelling ``python -m deep_audio.bin.onnx_classify``: ``deep-audio test`` with
an ``.onnx`` model (:mod:`deep_audio.cli.test`), which never imports torch."""

from deep_audio.cli.test import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
