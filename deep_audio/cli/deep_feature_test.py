"""Classify audio files with a classifier on a network's deep features (.skops).

One line per file: path, class, its probability, then the probability of every class;
with --segments, one line per segment as well (the classifier on each segment's
embedding; not for classifiers that append hand-crafted statistics of whole files).
The network is the one recorded in the classifier (--cnn-model to point at a moved
file); a network that embeds differently from the one used in training is refused.

Examples:
  deep-audio deep-feature-test -m dog_cat_deep_svm -i bark.wav meow.flac
  deep-audio deep-feature-test -m dog_cat_deep_svm -i bark.wav --segments
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

from deep_audio.cli import common as _cli
from deep_audio.device import resolve_device
from deep_audio.errors import DeepAudioError
from deep_audio.io.model_files import load_model
from deep_audio.predict.deep_features import (
    classify_files_deep,
    deep_file_classification,
    load_deep_feature_classifier,
)

__all__ = ["deep_file_classification", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _cli.add_model(parser)
    _cli.add_inputs(parser, help="audio files")
    parser.add_argument("--cnn-model", metavar="MODEL.pt", default=None,
                        help="the CNN to embed with (default: the one recorded at training)")
    parser.add_argument("--segments", action="store_true",
                        help="one row per segment with start/end seconds")
    _cli.add_config(parser, flags=("models_dir", "device", "precision"))


def run(args: argparse.Namespace) -> int:
    config = _cli.config_from_args(args)
    device = resolve_device(config.training.device)
    cnn = None if args.cnn_model is None else load_model(args.cnn_model, device=device)
    classifier = load_deep_feature_classifier(args.model, cnn_model=cnn, device=device,
                                              models_dir=config.training.models_dir)
    if args.segments:
        if classifier.combine_classic:
            raise DeepAudioError(f"classifier '{classifier.path}' appends hand-crafted "
                                 "statistics of whole files, so it has no per-segment "
                                 "posteriors; leave out --segments")
        return _cli.classify_and_print(
            dataclasses.replace(classifier, precision=config.training.precision),
            args.input, segments=True)
    classified = _cli.print_results(
        classify_files_deep(args.input, classifier, precision=config.training.precision,
                            skip_unreadable=True),
        classifier.class_names)
    return _cli.exit_status(classified, len(args.input), what="classified")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
