"""Train a classic classifier (SVM & co.) on hand-crafted features of class folders.

Writes MODELS_DIR/NAME.skops and prints the cross-validated per-class precision,
recall, F1 and confusion matrix. Defaults (classifier, folds, windows, seed, models
folder) come from configs/default.yaml; the flags, -c YAML and --set override them.

Examples:
  deep-audio classic-train -i data/classical data/metal --classifier svm -o classical_vs_metal_svm
  deep-audio classic-train -i data/classical data/metal --classifier knn \\
      --parameters 1 3 5 -o cm_knn

From Python, pyAudioAnalysis's call:
  from deep_audio.classic import extract_features_and_train
  extract_features_and_train(["data/classical", "data/metal"], 1, 1, 0.1, 0.1, "svm",
                             "classical_vs_metal_svm")
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from deep_audio.classic import ClassicTrainingResult, extract_features_and_train
from deep_audio.classic.classifiers import parameter_name
from deep_audio.cli import common as _cli

__all__ = ["extract_features_and_train", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _cli.add_inputs(parser, help="class folders, one per class (named after the class)")
    parser.add_argument("-o", "--output", required=True, metavar="NAME",
                        help="model name (saved as MODELS_DIR/NAME.skops) or a path")
    parser.add_argument("--parameters", type=float, nargs="+", default=None, metavar="VALUE",
                        help="candidate C, k or tree counts (default: pyAudioAnalysis's grid)")
    parser.add_argument("--sample-rate", type=int, default=None, metavar="HZ",
                        help="resample to this rate first (default: each file's own rate)")
    parser.add_argument("--confusion-matrix", metavar="PNG", default=None,
                        help="also save the out-of-fold confusion matrix image")
    _cli.add_config(parser, flags=("classifier", "cv_folds", "seed", "models_dir"))
    _cli.add_feature_windows(parser)


def run(args: argparse.Namespace) -> int:
    config = _cli.config_from_args(args)
    classic = config.classic
    parameters = args.parameters
    if parameters is not None and not parameter_name(classic.classifier).endswith("__C"):
        parameters = [int(v) for v in parameters]
    result = extract_features_and_train(
        args.input, classic.mid_window_seconds, classic.mid_step_seconds,
        classic.short_window_seconds, classic.short_step_seconds, classic.classifier,
        args.output, parameter_values=parameters, sample_rate=args.sample_rate,
        confusion_matrix_path=args.confusion_matrix, config=config)
    print_result(result)
    return 0


def print_result(result: ClassicTrainingResult) -> None:
    """The chosen parameter, report, confusion matrix, skipped files and the model path."""
    name, value = result.parameter
    print(f"{result.classifier_type}: {name} = {value:g} (cross-validated macro-F1 "
          f"{result.cv_macro_f1[float(value)]:.3f})")
    print(result.report)
    width = max(len(n) for n in result.class_names)
    print("confusion matrix (rows: true, columns: predicted)")
    print(" " * width + " " + " ".join(f"{n[:8]:>8}" for n in result.class_names))
    for class_name, row in zip(result.class_names, result.confusion_matrix):
        print(f"{class_name:>{width}} " + " ".join(f"{int(v):>8}" for v in row))
    for path, reason in result.skipped:
        print(f"skipped {path}: {reason}")
    print(f"saved {result.model_path}")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
