"""Classify audio files with an exported ONNX model, without torch (onnxruntime only).

    python -m deep_audio.cli.onnx_classify -m models/cnn.onnx -i song.wav [more.flac ...]
        [--segments]

Prints what ``deep_audio.cli.basic_test`` prints for a PyTorch model: one line per file
(class, probability, every class's posterior) or, with ``--segments``, one line per
segment; a file that is unreadable or too short is refused the same way. Needs numpy,
soundfile, soxr, PyYAML and onnxruntime; torch is never imported.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from deep_audio.cli import common as _cli
from deep_audio.predict.onnx import OnnxClassifier


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser("Classify audio files with an ONNX model and onnxruntime.")
    parser.add_argument("-m", "--model", required=True, metavar="MODEL.onnx",
                        help="an ONNX file written by deep_audio.cli.export_model")
    _cli.add_inputs(parser, help="audio files")
    parser.add_argument("--segments", action="store_true",
                        help="one row per segment with start/end seconds")
    return parser


def run(args: argparse.Namespace) -> int:
    return _cli.classify_and_print(OnnxClassifier(args.model), args.input,
                                   segments=args.segments)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
