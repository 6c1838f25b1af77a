"""Does transfer learning help on a small task? Held-out accuracy, from scratch vs transfer.

    python bin/benchmark_transfer.py [--source models/pretrained_gm16.pt] [--clips 5 10 20] [--seeds 0 1 2]

Target task: the bundled demo data (real speech in four languages, nothing like the
source model's instrument notes). For each number of training clips per class and each
seed, the same clips (drawn from data/demo/train) train a network from scratch (same
architecture and input settings as the source) and by each transfer strategy; every
model is scored on all of data/demo/test. A last method uses the source as a frozen
feature extractor: a linear SVM on its ``linear1`` file embeddings. Prints one row per clip count: mean held-out
accuracy over the seeds (and the spread).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
from pathlib import Path

import numpy as np

from deep_audio.audio import list_audio_files
from deep_audio.config import load_config
from deep_audio.inference import evaluate_folders
from deep_audio.inference.deep_classifier import (classify_files_deep,
                                                  load_deep_feature_classifier,
                                                  train_deep_feature_classifier)
from deep_audio.models import load_model
from deep_audio.training import train_model
from deep_audio.transfer import FEATURE_SECTIONS, STRATEGIES, transfer_learning

METHODS = ["scratch"] + [f"strategy {s}" for s in STRATEGIES] + ["embedding svm"]


def sample_folders(train_root: Path, clips: int, seed: int, out: Path) -> list[Path]:
    """Class folders of ``clips`` randomly drawn files each (symbolic links)."""
    rng = np.random.default_rng(seed)
    folders = []
    for class_dir in sorted(p for p in train_root.iterdir() if p.is_dir()):
        files = list_audio_files(class_dir)
        chosen = rng.choice(len(files), size=min(clips, len(files)), replace=False)
        folder = out / class_dir.name
        folder.mkdir(parents=True)
        for index in sorted(chosen):
            (folder / files[index].name).symlink_to(files[index].resolve())
        folders.append(folder)
    return folders


def embedding_svm_accuracy(source: str, folders: list[Path], test_folders: list[Path],
                           output: Path, seed: int) -> float:
    """Linear SVM on the source's ``linear1`` file embeddings, scored on the test folders."""
    result = train_deep_feature_classifier(source, folders, output, layer="linear1",
                                           classifier_type="svm", seed=seed)
    classifier = load_deep_feature_classifier(result.model_path)
    files = [(path, label) for label, folder in enumerate(test_folders)
             for path in list_audio_files(folder)]
    predictions = classify_files_deep([path for path, _ in files], classifier)
    return float(np.mean([p.class_name == test_folders[label].name
                          for p, (_, label) in zip(predictions, files)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="models/pretrained_gm16.pt")
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--clips", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    source = load_model(args.source)
    test_folders = sorted(p for p in (args.data / "test").iterdir() if p.is_dir())
    settings = dict(epochs=args.epochs, min_epochs=10, early_stopping_patience=8,
                    precision=args.precision, device="cpu", batch_size=16)
    # From scratch: the source's input settings and architecture, random weights.
    scratch_config = dataclasses.replace(load_config(), **{
        section: getattr(source.config, section) for section in FEATURE_SECTIONS})
    print(f"source: {args.source} ({len(source.class_names)} classes); target: "
          f"{len(test_folders)} classes of {args.data}, {sum(len(list_audio_files(f)) for f in test_folders)}"
          f" held-out files; seeds {args.seeds}")
    results: dict[tuple[int, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch_dir:
        work = Path(scratch_dir)
        for clips in args.clips:
            for seed in args.seeds:
                folders = sample_folders(args.data / "train", clips, seed,
                                         work / f"c{clips}_s{seed}")
                run = dict(progress=False, seed=seed, models_dir=str(work), **settings)
                for method in METHODS:
                    name = f"{method.replace(' ', '')}_c{clips}_s{seed}"
                    if method == "embedding svm":  # the source as a frozen feature extractor
                        accuracy = embedding_svm_accuracy(args.source, folders, test_folders,
                                                          work / name, seed)
                        results.setdefault((clips, method), []).append(accuracy)
                        print(f"  {clips:2d} clips/class, seed {seed}, {method}: "
                              f"held-out accuracy {accuracy:.3f}", flush=True)
                        continue
                    if method == "scratch":
                        result = train_model(folders, name, config=scratch_config, **run)
                    else:
                        result = transfer_learning(args.source, folders,
                                                   int(method.split()[-1]), output=name, **run)
                    accuracy = evaluate_folders(load_model(result.model_path),
                                                test_folders).scores["accuracy"]
                    results.setdefault((clips, method), []).append(accuracy)
                    print(f"  {clips:2d} clips/class, seed {seed}, {method:10s}: "
                          f"held-out accuracy {accuracy:.3f}", flush=True)

    print("\nheld-out accuracy, mean (min-max) over seeds")
    print("| clips per class | " + " | ".join(METHODS) + " |")
    print("|---|" + "---|" * len(METHODS))
    for clips in args.clips:
        cells = []
        for method in METHODS:
            values = results[(clips, method)]
            cells.append(f"{np.mean(values):.3f} ({min(values):.2f}-{max(values):.2f})")
        print(f"| {clips} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
