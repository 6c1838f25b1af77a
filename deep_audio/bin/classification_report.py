"""Score a model on folders of labelled files (one folder per class).

    python -m deep_audio.bin.classification_report -m models/classical_vs_metal_cnn.pt -i test/classical test/metal

Prints per-class precision, recall and F1, accuracy and the confusion matrix, and saves
the confusion matrix as a PNG (default: beside the model).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from deep_audio.bin import _cli
from deep_audio.device import resolve_device
from deep_audio.inference import evaluate_folders
from deep_audio.models import load_model
from deep_audio.plots import plot_confusion_matrix


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser("Per-class precision/recall/F1, accuracy and confusion matrix.")
    _cli.add_model(parser)
    _cli.add_inputs(parser, help="class folders named as the model's classes")
    parser.add_argument("--plot", metavar="PNG",
                        help="confusion-matrix image (default: MODEL.confusion.png)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto, ...")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16", "auto"])
    return parser


def run(args: argparse.Namespace) -> int:
    model = load_model(args.model, device=resolve_device(args.device))
    report = evaluate_folders(model, args.input, precision=args.precision)
    print(report.format())
    plot = Path(args.plot) if args.plot else Path(args.model).with_suffix(".confusion.png")
    plot_confusion_matrix(report.confusion, report.class_names, plot,
                          title=f"{Path(args.model).stem}: accuracy "
                                f"{report.scores['accuracy']:.3f}")
    print(f"\nconfusion matrix image: {plot}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
