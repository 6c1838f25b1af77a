"""Train a classic classifier (SVM & co.) on a network's deep features of class folders.

Writes MODELS_DIR/NAME.skops (recording the network file, the layer and whether the
136 hand-crafted statistics are appended) and prints the cross-validated report. With
few files per class, a frozen network's pooled conv features and a logistic regression
on every segment transfer best (--layer conv_bands --classifier logistic
--per-segment). Defaults (classifier, folds, seed, models folder, hand-crafted windows)
come from configs/default.yaml; the flags, -c YAML and --set override them.

Examples:
  deep-audio deep-feature-train -m models/cnn.pt -i data/dog data/cat -o dog_cat_deep_svm \
      --layer linear1 --classifier svm
  deep-audio deep-feature-train -m Cnn14_16k_mAP=0.438.pth --backbone panns_cnn14_16k \
      -i data/dog data/cat -o dog_cat_cnn14_logistic --classifier logistic
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from deep_audio.classic.classifiers import parameter_name
from deep_audio.cli import common as _cli
from deep_audio.cli.classic_train import print_result
from deep_audio.device import resolve_device
from deep_audio.io.model_files import load_model
from deep_audio.predict.deep_features import train_deep_feature_classifier
from deep_audio.predict.embeddings import DEFAULT_LAYER, default_layer

__all__ = ["main", "train_deep_feature_classifier"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _cli.add_model(parser, default_source=True)
    _cli.add_backbone(parser)
    _cli.add_inputs(parser, help="class folders, one per class (named after the class)")
    parser.add_argument("-o", "--output", required=True, metavar="NAME",
                        help="model name (saved as MODELS_DIR/NAME.skops) or a path")
    parser.add_argument("--layer", default=None,
                        help="conv (last conv block pooled), conv_bands (mean over time "
                             "only), conv_bands_max (maximum over time), linear1, linear2, "
                             f"... (default {DEFAULT_LAYER}; with "
                             "--backbone its published embedding: linear1 of PANNs, pooled "
                             "of a Hugging Face encoder)")
    parser.add_argument("--combine-classic", action="store_true",
                        help="append the 136 hand-crafted statistics to each embedding")
    parser.add_argument("--per-segment", action="store_true",
                        help="learn from every segment's embedding (a file's probabilities "
                             "are the mean of its segments'): best with few files per class")
    parser.add_argument("--parameters", type=float, nargs="+", default=None, metavar="VALUE",
                        help="candidate C, k or tree counts (default: pyAudioAnalysis's grid)")
    _cli.add_config(parser, flags=("classifier", "cv_folds", "seed", "models_dir", "device",
                                   "precision"))
    _cli.add_feature_windows(parser)


def run(args: argparse.Namespace) -> int:
    config = _cli.config_from_args(args)
    parameters = args.parameters
    classifier = config.classic.classifier
    if parameters is not None and not parameter_name(classifier).endswith("__C"):
        parameters = [int(v) for v in parameters]
    cnn = load_model(_cli.source_model_from_args(args, config),
                     device=resolve_device(config.training.device), backbone=args.backbone,
                     config=config)
    result = train_deep_feature_classifier(
        cnn, args.input, args.output, layer=args.layer or default_layer(cnn),
        combine_classic=args.combine_classic, parameter_values=parameters,
        per_segment=args.per_segment, config=config)
    print_result(result)
    return 0


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
