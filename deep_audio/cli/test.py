"""Classify audio files with a trained model: one line per file, or per segment.

-m is a model file written by deep_audio (.pt), or its ONNX export (.onnx, written by
'deep-audio export'), which runs with onnxruntime and never imports torch. Each line
gives the file, its class, that class's probability and every class's probability;
--segments adds one line per segment with its start and end seconds. Several model
files (-m a.pt b.pt c.pt: seeds of one recipe, same classes) classify as one ensemble,
their posteriors averaged. One file that cannot be used is an error (exit status 2, one
line naming the file and why); among several, each such file is skipped with a warning
and the status is 1.

Examples:
  deep-audio test -m models/classical_vs_metal_cnn.pt -i song.wav more.flac
  deep-audio test -m models/classical_vs_metal_cnn.pt -i song.wav --segments
  deep-audio test -m models/classical_vs_metal_cnn.onnx -i song.wav
  deep-audio test -m seed0.pt seed1.pt seed2.pt -i song.wav
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from deep_audio.cli import common as _cli
from deep_audio.predict.classify import classify_file

__all__ = ["classify_file", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", required=True, metavar="MODEL", nargs="+",
                        help="a model file (.pt), or its ONNX export (.onnx); several: an "
                             "ensemble, their posteriors averaged (same classes and segments)")
    _cli.add_inputs(parser, help="audio files")
    parser.add_argument("--segments", action="store_true",
                        help="also one line per segment with start/end seconds")
    _cli.add_config(parser, flags=("device", "precision"))


def run(args: argparse.Namespace) -> int:
    settings = _cli.config_from_args(args).training  # an .onnx model never imports torch
    return _cli.classify_and_print(args.model, args.input, segments=args.segments,
                                   precision=settings.precision, device=settings.device)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
