"""Train a classic classifier (SVM & co.) on a CNN's deep features of class folders.

    python -m deep_audio.cli.deep_feature_training -m models/cnn.pt \
        -i data/dog data/cat -o dog_cat_deep_svm --layer linear1 --classifier svm \
        [--combine-classic | --per-segment]
    python -m deep_audio.cli.deep_feature_training -m Cnn14_16k_mAP=0.438.pth \
        --backbone panns_cnn14_16k -i data/dog data/cat -o dog_cat_cnn14_logistic \
        --classifier logistic

With few files per class, a frozen network's pooled conv features and a logistic
regression on every segment transfer best (``--layer conv_bands --classifier logistic
--per-segment``; see the README's transfer table).

writes ``models/dog_cat_deep_svm.skops`` (recording the CNN file, the layer and whether
the 136 hand-crafted statistics are appended) and prints the cross-validated report.
Defaults (classifier, folds, seed, models folder, hand-crafted windows) come from
configs/default.yaml; the flags, ``-c YAML`` and ``--set KEY=VALUE`` override them.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from deep_audio.cli import common as _cli
from deep_audio.cli.classic_train import print_result
from deep_audio.classic.classifiers import parameter_name
from deep_audio.device import resolve_device
from deep_audio.predict.deep_features import train_deep_feature_classifier
from deep_audio.predict.embeddings import DEFAULT_LAYER, default_layer
from deep_audio.models import load_model

__all__ = ["main", "train_deep_feature_classifier"]


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser("Train svm, svm_rbf, knn, randomforest, gradientboosting, "
                         "extratrees or logistic on a trained CNN's file (or segment) "
                         "embeddings.")
    _cli.add_model(parser)
    _cli.add_backbone(parser)
    _cli.add_inputs(parser, help="class folders, one per class (named after the class)")
    parser.add_argument("-o", "--output", required=True, metavar="NAME",
                        help="model name (saved as MODELS_DIR/NAME.skops) or a path")
    parser.add_argument("--layer", default=None,
                        help="conv (last conv block pooled), conv_bands (pooled over time "
                             f"only), linear1, linear2, ... (default {DEFAULT_LAYER}; with "
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
    return parser


def run(args: argparse.Namespace) -> int:
    config = _cli.config_from_args(args)
    parameters = args.parameters
    classifier = config.classic.classifier
    if parameters is not None and not parameter_name(classifier).endswith("__C"):
        parameters = [int(v) for v in parameters]
    cnn = load_model(args.model, device=resolve_device(config.training.device),
                     backbone=args.backbone, config=config)
    result = train_deep_feature_classifier(
        cnn, args.input, args.output, layer=args.layer or default_layer(cnn), combine_classic=args.combine_classic,
        parameter_values=parameters, per_segment=args.per_segment, config=config)
    print_result(result)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
