"""Export a trained model to ONNX and/or TorchScript, and check the copies against PyTorch.

Writes OUT.onnx (front end included, dynamic batch, opset 18, class names and settings
in its metadata; 'deep-audio test -m OUT.onnx' runs it without torch) and
OUT.torchscript.pt, then runs each on the same segments as PyTorch (generated noise,
tones and silence, plus the segments of any -i files) and fails when a logit differs by
more than --atol.

Examples:
  deep-audio export -m models/cnn.pt
  deep-audio export -m models/cnn.pt -o exported/cnn --format onnx -i song.wav
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deep_audio.cli import common as _cli
from deep_audio.export import LOGIT_ATOL, probe_segments, to_onnx, to_torchscript, verify
from deep_audio.io.model_files import load_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _cli.add_model(parser)
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="output path without suffix (default: the model's, beside it)")
    parser.add_argument("--format", nargs="+", choices=["onnx", "torchscript"],
                        default=["onnx", "torchscript"])
    parser.add_argument("-i", "--input", nargs="*", default=[], metavar="AUDIO",
                        help="audio files whose segments are also compared")
    parser.add_argument("--atol", type=float, default=LOGIT_ATOL,
                        help="largest accepted |logit difference|")


def run(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    base = Path(args.output) if args.output else Path(args.model).with_suffix("")
    plan = model.plan
    segments = [probe_segments(plan.segment_samples, plan.sample_rate, seed=0)]
    segments += [plan.cut(plan.read(path))[1] for path in args.input]
    waveforms = np.concatenate(segments)
    for kind in args.format:
        if kind == "onnx":
            path = to_onnx(model, base.with_name(base.name + ".onnx"))
        else:
            path = to_torchscript(model, base.with_name(base.name + ".torchscript.pt"))
        print(verify(model, path, waveforms=waveforms, atol=args.atol).format())
    return 0


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
