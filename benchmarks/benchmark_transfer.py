"""Does transfer learning help on a small task? Held-out accuracy, from scratch vs transfer.

    python benchmarks/benchmark_transfer.py [--source models/pretrained_gm16.pt] [--clips 5 10 20] [--seeds 0 1 2]
    python benchmarks/benchmark_transfer.py --source Cnn14_16k_mAP=0.438.pth --backbone panns_cnn14_16k

With ``--backbone`` the source is that network's published checkpoint (see
docs/backbones.md); "scratch" is then deep_audio's default CNN and recipe, the transfer
strategies put a new head on the backbone, and the two feature methods use the backbone's
embedding (``linear1`` of CNN14) and pooled conv features (``conv``; ``pooled`` for a
Hugging Face encoder).

Target task: the bundled demo data (real speech in four languages, nothing like the
source model's instrument notes). For each number of training clips per class and each
seed, the same clips (drawn from data/demo/train) train a network from scratch (same
architecture and input settings as the source) and by each transfer strategy, with the
same epoch budget and early stopping; every model is scored on all the demo files it
did not train on (the rest of data/demo/train and all of data/demo/test). Two last
methods use the source as a frozen feature extractor: a linear SVM on its ``linear1``
file embeddings ("embedding svm"), and a logistic regression on the ``conv_bands``
embedding of every segment (the last conv block averaged over time, per channel and
frequency band), a file taking the mean of its segments' probabilities ("conv
logistic"; ``deep_feature_training --layer conv_bands --classifier logistic
--per-segment``). Prints one row per clip count: mean held-out accuracy over the seeds (and
the spread). Runs on the CPU with one thread by default (``--threads``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from deep_audio.io.audio import list_audio_files
from deep_audio.config import load_config
from deep_audio.predict import evaluate_folders
from deep_audio.predict.deep_features import (classify_files_deep,
                                                  load_deep_feature_classifier,
                                                  train_deep_feature_classifier)
from deep_audio.io.model_files import load_model
from deep_audio.training import train_model
from deep_audio.training.transfer import FEATURE_SECTIONS, STRATEGIES, transfer_learning

# The last two use the source as a frozen feature extractor: a linear SVM on the
# linear1 file embeddings, and a logistic regression on every segment's conv_bands
# embedding (a file: the mean of its segments' probabilities).
FEATURE_METHODS = {"embedding svm": dict(layer="linear1", classifier_type="svm"),
                   "conv logistic": dict(layer="conv_bands", classifier_type="logistic",
                                         per_segment=True)}
METHODS = ["scratch"] + [f"strategy {s}" for s in STRATEGIES] + list(FEATURE_METHODS)


def sample_folders(data_root: Path, clips: int, seed: int, out: Path
                   ) -> tuple[list[Path], list[Path]]:
    """Training and held-out class folders (symbolic links): ``clips`` files per class
    drawn from ``data_root/train``; every other file of ``train`` and all of ``test``
    are held out."""
    rng = np.random.default_rng(seed)
    train_folders, held_out_folders = [], []
    for class_dir in sorted(p for p in (data_root / "train").iterdir() if p.is_dir()):
        files = list_audio_files(class_dir)
        chosen = set(rng.choice(len(files), size=min(clips, len(files)),
                                replace=False).tolist())
        held_out = ([f for i, f in enumerate(files) if i not in chosen]
                    + list_audio_files(data_root / "test" / class_dir.name))
        for kind, picked, folders in (("train", [files[i] for i in sorted(chosen)],
                                       train_folders),
                                      ("held_out", held_out, held_out_folders)):
            folder = out / kind / class_dir.name
            folder.mkdir(parents=True)
            for index, path in enumerate(picked):  # index: names may repeat across folders
                (folder / f"{index:03d}_{path.name}").symlink_to(path.resolve())
            folders.append(folder)
    return train_folders, held_out_folders


def feature_classifier_accuracy(source, folders: list[Path], test_folders: list[Path],
                                output: Path, seed: int, **options) -> float:
    """A classifier on the source's embeddings (``options``: see
    ``train_deep_feature_classifier``), scored on the test folders."""
    result = train_deep_feature_classifier(source, folders, output, seed=seed,
                                           precision="fp32", **options)
    classifier = load_deep_feature_classifier(result.model_path)
    files = [(path, label) for label, folder in enumerate(test_folders)
             for path in list_audio_files(folder)]
    predictions = classify_files_deep([path for path, _ in files], classifier)
    return float(np.mean([p.class_name == test_folders[label].name
                          for p, (_, label) in zip(predictions, files)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="models/pretrained_gm16.pt")
    parser.add_argument("--backbone", default=None,
                        help="read --source as this backbone's published checkpoint "
                             "(panns_cnn14, panns_cnn14_16k, hf)")
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--clips", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS,
                        metavar="METHOD", help=f"any of {METHODS} (default: all)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--transfer-learning-rate", type=float,
                        help="default: the config's transfer_learning_rate")
    parser.add_argument("--fine-tune-learning-rate", type=float,
                        help="default: the config's fine_tune_learning_rate")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: leave the machine's other cores)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)

    source = load_model(args.source, backbone=args.backbone)
    feature_methods = FEATURE_METHODS
    if args.backbone not in (None, "seed_cnn"):
        pooled = "pooled" if args.backbone == "hf" else "conv"
        feature_methods = {"embedding svm": dict(FEATURE_METHODS["embedding svm"],
                                                 layer=source.backbone.default_layer),
                           "conv logistic": dict(FEATURE_METHODS["conv logistic"],
                                                 layer=pooled)}
    # The same budget for every network: epochs, early stopping, batch size.
    settings = dict(epochs=args.epochs, min_epochs=10, early_stopping_patience=8,
                    precision=args.precision, device="cpu", batch_size=16)
    learning_rates = {key: value for key, value in (
        ("transfer_learning_rate", args.transfer_learning_rate),
        ("fine_tune_learning_rate", args.fine_tune_learning_rate)) if value is not None}
    # From scratch: the source's input settings and architecture, random weights.
    scratch_config = (load_config() if args.backbone not in (None, "seed_cnn") else
                      dataclasses.replace(load_config(), **{
                          section: getattr(source.config, section)
                          for section in FEATURE_SECTIONS}))
    pool = {d.name: len(list_audio_files(d)) for d in (args.data / "train").iterdir()
            if d.is_dir()}
    n_test = sum(len(list_audio_files(d)) for d in (args.data / "test").iterdir()
                 if d.is_dir())
    print(f"source: {args.source} ({args.backbone or str(len(source.class_names)) + ' classes'}); target: "
          f"{len(pool)} classes of {args.data}; held out: the files of the training pool "
          f"({sum(pool.values())}) not drawn + {n_test} test files; seeds {args.seeds}; "
          f"{args.epochs} epochs at most; {learning_rates or 'config learning rates'}")
    results: dict[tuple[int, str], list[float]] = {}
    held_out_counts: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as scratch_dir:
        work = Path(scratch_dir)
        for clips in args.clips:
            for seed in args.seeds:
                folders, held_out = sample_folders(args.data, clips, seed,
                                                   work / f"c{clips}_s{seed}")
                held_out_counts[clips] = sum(len(list_audio_files(f)) for f in held_out)
                run = dict(progress=False, seed=seed, models_dir=str(work), **settings)
                for method in args.methods:
                    name = f"{method.replace(' ', '')}_c{clips}_s{seed}"
                    started = time.perf_counter()
                    if method in feature_methods:  # the source as a frozen feature extractor
                        accuracy = feature_classifier_accuracy(
                            source if args.backbone else args.source, folders, held_out,
                            work / name, seed, **feature_methods[method])
                    else:
                        if method == "scratch":
                            result = train_model(folders, name, config=scratch_config, **run)
                        else:
                            result = transfer_learning(args.source, folders,
                                                       int(method.split()[-1]), output=name,
                                                       backbone=args.backbone,
                                                       **run, **learning_rates)
                        accuracy = evaluate_folders(load_model(result.model_path),
                                                    held_out).scores["accuracy"]
                    results.setdefault((clips, method), []).append(accuracy)
                    print(f"  {clips:2d} clips/class, seed {seed}, {method:13s}: held-out "
                          f"accuracy {accuracy:.3f} on {held_out_counts[clips]} files "
                          f"({time.perf_counter() - started:.0f} s)", flush=True)

    print(f"\nheld-out accuracy, mean (min-max) over {len(args.seeds)} seeds")
    print("| clips per class | held-out files | " + " | ".join(args.methods) + " |")
    print("|---|---|" + "---|" * len(args.methods))
    for clips in args.clips:
        cells = []
        for method in args.methods:
            values = results[(clips, method)]
            cells.append(f"{np.mean(values):.3f} ({min(values):.2f}-{max(values):.2f})")
        print(f"| {clips} | {held_out_counts[clips]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
