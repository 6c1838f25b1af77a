"""Classify audio files with a classic (skops) model.

    python -m deep_audio.bin.classic_test -m classical_vs_metal_svm -i song1.wav song2.wav

One line per file: path, class, its probability, then the probability of every class.
A bare model name is looked up in ``training.models_dir`` of configs/default.yaml
(``--models-dir``, ``-c YAML`` or ``--set`` to change); the feature windows are the
model file's.
"""

from __future__ import annotations

import argparse
import logging
from typing import Sequence

from deep_audio.bin import _cli
from deep_audio.classic import classify_file, file_classification, find_classic_model
from deep_audio.classic.model_file import load_classic_model
from deep_audio.errors import DeepAudioError

__all__ = ["file_classification", "main"]
logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser("Classify audio files with a classic model (.skops).")
    _cli.add_model(parser)
    _cli.add_inputs(parser, help="audio files")
    _cli.add_config(parser, flags=("models_dir",))
    return parser


def run(args: argparse.Namespace) -> int:
    config = _cli.config_from_args(args)
    model = load_classic_model(find_classic_model(args.model, config.training.models_dir))
    names = model["class_names"]
    print("file\tclass\tprobability\t" + "\t".join(f"p({name})" for name in names))
    failed = 0
    for path in args.input:
        try:
            index, probabilities = classify_file(path, model)
        except DeepAudioError as error:
            logger.warning("skipping %s", error)
            failed += 1
            continue
        print(f"{path}\t{names[index]}\t{probabilities[index]:.3f}\t"
              + _cli.probability_columns(probabilities))
    return _cli.exit_status(len(args.input) - failed, len(args.input), what="classified")


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
