"""Classify audio files with a classic model (.skops).

One line per file: path, class, its probability, then the probability of every class.
A bare model name is looked up in training.models_dir of configs/default.yaml
(--models-dir, -c YAML or --set to change); the feature windows are the model file's.

Examples:
  deep-audio classic-test -m classical_vs_metal_svm -i song1.wav song2.wav

From Python, pyAudioAnalysis's call:
  from deep_audio.classic import file_classification
  wclass, p, classes = file_classification("song1.wav", "classical_vs_metal_svm", "svm")
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator, Sequence

from deep_audio.classic import ClassicModel, file_classification
from deep_audio.cli import common as _cli
from deep_audio.errors import DeepAudioError
from deep_audio.predict.predictor import FileResult

__all__ = ["file_classification", "main"]
logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _cli.add_model(parser)
    _cli.add_inputs(parser, help="audio files")
    _cli.add_config(parser, flags=("models_dir",))


def run(args: argparse.Namespace) -> int:
    config = _cli.config_from_args(args)
    model = ClassicModel.load(args.model, models_dir=config.training.models_dir)
    printed = _cli.print_results(classified_files(model, args.input), model.class_names)
    return _cli.exit_status(printed, len(args.input), what="classified")


def classified_files(model: ClassicModel, paths: Sequence[str]) -> Iterator[FileResult]:
    """Each usable file's result, in input order; unusable files are logged and skipped."""
    for path in paths:
        try:
            _, probabilities = model.classify_file(path)
        except DeepAudioError as error:
            logger.warning("skipping %s", error)
            continue
        yield FileResult.from_posteriors(path, model.class_names, probabilities)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
