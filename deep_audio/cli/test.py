"""Classify audio files with a trained model.

    python -m deep_audio.cli.basic_test -m models/classical_vs_metal_cnn.pt -i song.wav [--segments]

One file that cannot be used is an error (exit status 2, one line naming the file and
why); among several, each such file is skipped with a warning and the status is 1.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from deep_audio.cli import common as _cli
from deep_audio.device import resolve_device
from deep_audio.predict import classify_file
from deep_audio.models import load_model

__all__ = ["classify_file", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser("Classify audio files; one line per file, or per segment.")
    _cli.add_model(parser)
    _cli.add_inputs(parser, help="audio files")
    parser.add_argument("--segments", action="store_true",
                        help="one row per segment with start/end seconds")
    _cli.add_config(parser, flags=("device", "precision"))
    return parser


def run(args: argparse.Namespace) -> int:
    settings = _cli.config_from_args(args).training
    model = load_model(args.model, device=resolve_device(settings.device))
    return _cli.classify_and_print(model, args.input, segments=args.segments,
                                   precision=settings.precision)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
