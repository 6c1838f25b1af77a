"""The seed's spelling ``python -m deep_audio.bin.onnx_classify``: :mod:`deep_audio.cli.onnx_classify`."""

from deep_audio.cli.onnx_classify import *  # noqa: F401,F403
from deep_audio.cli.onnx_classify import main

if __name__ == "__main__":
    main()
