"""Clip-level tagging thresholds for classes the validation fold never shows (issue 21,
docs/frame_detection.md "Classes the validation fold never shows").

For each model file given (trained by benchmarks/benchmark_soundscapes.py), the test
clips of the soundscape benchmark (fold 5) are tagged once and scored by
``metrics.multilabel_scores`` at the model's stored clip thresholds, then with the
``--untuned`` classes' thresholds set to the median of the others' (what
``metrics.best_thresholds`` gives such a class since 2026-12-07; models trained before
stored 0.5 there):

    python benchmarks/soundscape_tag_thresholds.py \\
        benchmark_runs/soundscapes/transfer_crnn_vf4_whole_s1_{0,1,2,3,4}.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deep_audio.data.manifest import read_manifest  # noqa: E402
from deep_audio.metrics import multilabel_scores  # noqa: E402
from deep_audio.predict.classify import as_predictor  # noqa: E402
from deep_audio.predict.evaluate import evaluate_manifest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data", default=str(ROOT / "data/soundscapes"))
    parser.add_argument("--untuned", nargs="+", default=["guitar", "tom"], metavar="CLASS")
    args = parser.parse_args()
    test = read_manifest(Path(args.data) / "meta/test_weak.csv", audio_root=args.data)
    print("model | macro-F1 stored -> median | micro-F1 stored -> median | "
          + " | ".join(f"{name} F1" for name in args.untuned))
    for path in args.models:
        model = as_predictor(path)
        report = evaluate_manifest(model, test)
        names = list(model.class_names)
        untuned = [names.index(name) for name in args.untuned]
        stored = np.asarray(model.task.thresholds, dtype=np.float64)
        median = stored.copy()
        median[untuned] = np.median(np.delete(stored, untuned))
        before, after = (multilabel_scores(report.targets, report.posteriors, thresholds)
                         for thresholds in (stored, median))
        print(f"{Path(path).name} | {before['macro_f1']:.3f} -> {after['macro_f1']:.3f} | "
              f"{before['micro_f1']:.3f} -> {after['micro_f1']:.3f} | " + " | ".join(
                  f"{before['f1'][i]:.2f} -> {after['f1'][i]:.2f}" for i in untuned))


if __name__ == "__main__":
    main()
