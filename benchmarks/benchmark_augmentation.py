"""Does each augmentation help held-out accuracy? Trains on the demo data with and without.

    python benchmarks/benchmark_augmentation.py [--seeds 0 1 2] [--conditions none gain mixup ...]
                                         [--output augmentation_runs.csv]

For every seed and condition, trains with the library's ``train_model`` on
``data/demo/train`` (4 languages, 22 files each; 20 % of them for validation and early
stopping) and scores the best model on the held-out ``data/demo/test`` (8 files per class,
prompts never seen in training): file accuracy and macro-F1 (mean posterior over a file's
segments), and segment accuracy (each segment's own argmax against its file's label).

To fit a few minutes per run on a (shared) 2-core CPU it uses a much smaller network than
the default (channels 8-16-32-64, 40 mel bands, one hidden layer of 128, at most 30
epochs, early stopping after 8 without gain); every other setting is the default. The
table (markdown) goes to stdout, one row per run to ``--output``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from deep_audio.config import load_config
from deep_audio.io.model_files import load_model
from deep_audio.predict import evaluate_folders
from deep_audio.training import train_model

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ("english", "french", "russian", "spanish")

BENCHMARK_CONFIG = {
    "n_mels": 40, "conv_channels": [8, 16, 32, 64], "hidden_units": [128],
    "dropout": [0.5], "epochs": 30, "min_epochs": 8, "early_stopping_patience": 8,
    "device": "cpu", "precision": "fp32",
}

CONDITIONS = {
    "none": {},
    "gain": {"gain_db": 6.0},
    "time_shift": {"time_shift_seconds": 0.5},
    "specaugment": {"spec_time_masks": 2, "spec_time_mask_seconds": 0.2,
                    "spec_freq_masks": 2, "spec_freq_mask_bands": 8},
    "mixup": {"mixup_alpha": 0.4},
    "gain+time_shift+specaugment": {"gain_db": 6.0, "time_shift_seconds": 0.5,
                                    "spec_time_masks": 2, "spec_time_mask_seconds": 0.2,
                                    "spec_freq_masks": 2, "spec_freq_mask_bands": 8},
}


def run(condition: str, seed: int, models_dir: Path) -> dict[str, float]:
    config = load_config(**BENCHMARK_CONFIG, **CONDITIONS[condition], seed=seed,
                         models_dir=str(models_dir))
    started = time.perf_counter()
    result = train_model([ROOT / "data/demo/train" / name for name in CLASSES],
                         f"{condition}_{seed}", config=config, progress=False)
    seconds = time.perf_counter() - started
    report = evaluate_folders(load_model(result.model_path),
                              [ROOT / "data/demo/test" / name for name in CLASSES])
    segment_hits = [segment.class_index == truth for prediction, truth in report.predictions
                    for segment in prediction.segments]
    return {"condition": condition, "seed": seed, "best_epoch": result.best_epoch,
            "val_macro_f1": result.metrics["val_macro_f1"],
            "test_file_accuracy": report.scores["accuracy"],
            "test_macro_f1": report.scores["macro_f1"],
            "test_segment_accuracy": float(np.mean(segment_hits)),
            "train_seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS),
                        choices=list(CONDITIONS))
    parser.add_argument("--output", type=Path, help="CSV file, one row per run")
    parser.add_argument("--models-dir", type=Path,
                        help="keep the models (and their history and report) here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        models_dir = args.models_dir or Path(temporary)
        for seed in args.seeds:
            for condition in args.conditions:
                rows.append(run(condition, seed, models_dir))
                print("  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in rows[-1].items()), flush=True)
                if args.output:
                    with open(args.output, "w", newline="", encoding="utf-8") as stream:
                        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
                        writer.writeheader()
                        writer.writerows(rows)
    print(f"\n{len(args.seeds)} seed(s): mean (min-max) over seeds\n")
    print("| augmentation | test file accuracy | test macro-F1 | test segment accuracy "
          "| best epoch | seconds/run |")
    print("|---|---|---|---|---|---|")
    for condition in args.conditions:
        mine = [row for row in rows if row["condition"] == condition]

        def cell(key: str, digits: int = 3, mine=mine) -> str:
            values = np.array([row[key] for row in mine], dtype=float)
            return (f"{values.mean():.{digits}f} ({values.min():.{digits}f}-"
                    f"{values.max():.{digits}f})")

        print(f"| {condition} | {cell('test_file_accuracy')} | {cell('test_macro_f1')} | "
              f"{cell('test_segment_accuracy')} | {cell('best_epoch', 1)} | "
              f"{cell('train_seconds', 0)} |")


if __name__ == "__main__":
    main()
