"""Does transfer learning help on a small task? Held-out accuracy per method, task, clip
count and seed, one JSON file per run so that an interrupted benchmark resumes.

    python benchmarks/benchmark_transfer.py --tasks speakers drums --clips 5 20 --seeds 0 1 2
    python benchmarks/benchmark_transfer.py --report            # the table of what has run
    python benchmarks/benchmark_transfer.py --source Cnn14_16k_mAP=0.438.pth \\
        --backbone panns_cnn14_16k

Target tasks: the folders of ``tools/make_benchmark_data.py`` (``data/benchmark/<task>/
{train,test}/<class>``): ``speakers`` (one voice per class, split by phrase), ``drums``
(split by kit), ``languages`` (split by prompt), ``environment`` (game sound effects,
split by original file). For each task, clip count and seed the
same clips per class, drawn from ``train``, train every method, and every method is
scored on all of ``test`` (the held-out split: phrases, kits, prompts never trained on).

Methods (``--methods``):

=================  ===================================================================
scratch            ``train_model`` with the default config: the network and recipe a
                   new user gets
strategy 0/1/2     ``transfer_learning(source, folders, strategy)`` with the default
                   config: the seed call
strategy 0 old     strategy 0 as it was before issue 19: the source's hidden layers and
                   a new output layer, no few-shot schedule
probe              logistic regression on the embedding strategy 0's head sees, of every
                   segment, a file taking the mean of its segments' probabilities
                   (``deep-audio deep-feature-train --layer conv_bands_max --classifier
                   logistic --per-segment``): ``conv_bands_max`` of a seed network
                   (``conv_bands`` with ``transfer.head_pooling: time_mean``), ``conv``
                   for a published backbone
probe mean         the same on ``conv_bands`` (the last block averaged over time)
probe conv         the same on the ``conv`` embedding (the last block averaged over time
                   and frequency)
classic svm        the 136 classic file features and an RBF SVM (``classic-train``)
=================  ===================================================================

``--random-init`` replaces ``--source`` by an untrained network of its shape (seed 0,
written once as ``<runs>/random_<source>.pt``): the linear-probe table's floor. A clip
count larger than a class's training files (``--clips 1000``) takes all of them.

Each run writes ``<runs>/<source>/<task>/c<clips>_s<seed>_<method>.json`` (accuracy,
macro-F1, seconds, the git commit); a run whose file exists is skipped. ``--report``
prints mean, standard deviation and range over the seeds. Runs on the CPU with one
thread by default (``--threads``): the machines this was measured on are shared.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from deep_audio.config import load_config
from deep_audio.io.audio import list_audio_files
from deep_audio.io.files import atomic_write
from deep_audio.io.model_files import load_model
from deep_audio.models.seed import POOLED_EMBEDDINGS
from deep_audio.predict import evaluate_folders
from deep_audio.training import train_model
from deep_audio.training.transfer import transfer_learning

TASKS = ("speakers", "drums", "languages", "environment")
METHODS = ("scratch", "strategy 0", "strategy 0 old", "strategy 1", "strategy 2", "probe",
           "probe mean", "probe conv", "classic svm")
# Strategy 0 before issue 19: the source's hidden layers under a new output layer,
# trained by the default epoch budget with early stopping on the validation files.
OLD_STRATEGY_0 = dict(head="source", min_steps=0, few_shot_files_per_class=0,
                      head_weight_decay=0.02)


def sample_folders(task_root: Path, clips: int, seed: int, out: Path) -> list[Path]:
    """Class folders of symbolic links to ``clips`` files per class drawn from
    ``task_root/train`` (all of a class's files when it has fewer)."""
    rng = np.random.default_rng(seed)
    folders = []
    for class_dir in sorted(p for p in (task_root / "train").iterdir() if p.is_dir()):
        files = list_audio_files(class_dir)
        chosen = sorted(rng.choice(len(files), size=min(clips, len(files)),
                                   replace=False).tolist())
        folder = out / class_dir.name
        folder.mkdir(parents=True)
        for index in chosen:
            (folder / files[index].name).symlink_to(files[index].resolve())
        folders.append(folder)
    return folders


def test_folders(task_root: Path) -> list[Path]:
    return sorted(p for p in (task_root / "test").iterdir() if p.is_dir())


def deep_scores(model_path: Path, tests: list[Path]) -> dict[str, float]:
    scores = evaluate_folders(load_model(model_path), tests).scores
    return {"accuracy": float(scores["accuracy"]), "macro_f1": float(scores["macro_f1"])}


def probe_scores(source, folders: list[Path], tests: list[Path], output: Path, seed: int,
                 layer: str) -> dict[str, float]:
    """Logistic regression on every segment's ``layer`` embedding of the frozen source."""
    from deep_audio.predict.deep_features import (
        classify_files_deep,
        load_deep_feature_classifier,
        train_deep_feature_classifier,
    )

    result = train_deep_feature_classifier(source, folders, output, seed=seed, layer=layer,
                                           classifier_type="logistic", per_segment=True,
                                           precision="fp32")
    classifier = load_deep_feature_classifier(result.model_path)
    return _file_scores(tests, lambda paths: [p.class_name for p in classify_files_deep(
        paths, classifier)])


def classic_scores(folders: list[Path], tests: list[Path], output: Path, seed: int
                   ) -> dict[str, float]:
    """The 136 classic features and the config's classifier (an RBF SVM)."""
    from deep_audio.classic.classify import ClassicModel
    from deep_audio.classic.training import extract_features_and_train

    classic = load_config().classic
    result = extract_features_and_train(
        folders, classic.mid_window_seconds, classic.mid_step_seconds,
        classic.short_window_seconds, classic.short_step_seconds, classic.classifier,
        output, seed=seed)
    model = ClassicModel.load(result.model_path)
    return _file_scores(tests, lambda paths: [model.class_names[model.classify_file(p)[0]]
                                              for p in paths])


def _file_scores(tests: list[Path], predict) -> dict[str, float]:
    """Accuracy and macro-F1 of ``predict(paths) -> class names`` on the test folders."""
    truth = [(path, folder.name) for folder in tests for path in list_audio_files(folder)]
    predicted = predict([path for path, _ in truth])
    names = sorted({name for _, name in truth})
    correct = [p == t for p, (_, t) in zip(predicted, truth)]
    f1 = []
    for name in names:
        tp = sum(p == name and t == name for p, (_, t) in zip(predicted, truth))
        fp = sum(p == name and t != name for p, (_, t) in zip(predicted, truth))
        fn = sum(p != name and t == name for p, (_, t) in zip(predicted, truth))
        f1.append(2 * tp / max(2 * tp + fp + fn, 1))
    return {"accuracy": float(np.mean(correct)), "macro_f1": float(np.mean(f1))}


def run_one(method: str, *, source_path: str, backbone: str | None, folders: list[Path],
            tests: list[Path], work: Path, seed: int, settings: dict | None = None
            ) -> dict[str, float]:
    """Train ``method`` on ``folders`` and score it on ``tests``; ``settings`` override
    the config of the trained methods (scratch and the strategies)."""
    run = dict(progress=False, seed=seed, models_dir=str(work), device="cpu",
               precision="fp32", **(settings or {}))
    if method == "scratch":
        return deep_scores(train_model(folders, "scratch", **run).model_path, tests)
    if method.startswith("strategy"):
        options = OLD_STRATEGY_0 if method.endswith("old") else {}
        result = transfer_learning(source_path, folders, int(method.split()[1]),
                                   output="transfer", backbone=backbone, **run, **options)
        return deep_scores(result.model_path, tests)
    if method.startswith("probe"):
        source = load_model(source_path, backbone=backbone)
        layer = {"probe": POOLED_EMBEDDINGS[load_config().transfer.head_pooling],
                 "probe mean": "conv_bands", "probe conv": "conv"}[method]
        if backbone not in (None, "seed_cnn"):
            layer = "conv"
        if backbone == "hf":
            layer = "pooled"
        return {**probe_scores(source if backbone else source_path, folders, tests,
                               work / "probe", seed, layer), "layer": layer}
    if method == "classic svm":
        return classic_scores(folders, tests, work / "classic", seed)
    raise ValueError(f"unknown method {method!r}")


def random_network(source: Path, runs: Path) -> Path:
    """An untrained network of ``source``'s shape, settings and classes (seed 0)."""
    from deep_audio.io.model_files import save_model
    from deep_audio.models import Classifier

    path = runs / f"random_{source.stem}.pt"
    if not path.is_file():
        shape = load_model(source)
        torch.manual_seed(0)
        runs.mkdir(parents=True, exist_ok=True)
        save_model(path, Classifier.seed(shape.config, shape.class_names, shape.task),
                   metadata={"random_init_of": str(source)})
    return path


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "deep_audio"],
                               capture_output=True, text=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_file(runs: Path, source: str, task: str, clips: int, seed: int, method: str) -> Path:
    return runs / Path(source).stem / task / f"c{clips}_s{seed}_{method.replace(' ', '_')}.json"


def report(runs: Path, methods: list[str]) -> str:
    """Markdown tables (one per source and task): held-out accuracy, mean +- standard
    deviation over the seeds that have run, [min-max], and the seed count."""
    rows: dict[tuple[str, str, int, str], list[float]] = {}
    for path in sorted(runs.glob("*/*/*.json")):
        record = json.loads(path.read_text())
        rows.setdefault((record["source"], record["task"], record["clips"], record["method"]),
                        []).append(record["accuracy"])
    lines = []
    for source, task in sorted({key[:2] for key in rows}):
        present = [m for m in methods if any(k[:2] == (source, task) and k[3] == m
                                             for k in rows)]
        lines += [f"\n{task}, source {source}: held-out accuracy, mean ± sd [min-max] (seeds)",
                  "| clips/class | " + " | ".join(present) + " |",
                  "|---|" + "---|" * len(present)]
        for clips in sorted({k[2] for k in rows if k[:2] == (source, task)}):
            cells = []
            for method in present:
                values = rows.get((source, task, clips, method))
                cells.append("-" if not values else
                             f"{np.mean(values):.3f} ± {np.std(values):.3f} "
                             f"[{min(values):.2f}-{max(values):.2f}] ({len(values)})")
            lines.append(f"| {clips} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="models/pretrained_gm16.pt")
    parser.add_argument("--backbone", default=None,
                        help="read --source as this backbone's published checkpoint "
                             "(panns_cnn14, panns_cnn14_16k, hf)")
    parser.add_argument("--data", type=Path, default=Path("data/benchmark"),
                        help="the output folder of tools/make_benchmark_data.py")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--clips", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS,
                        metavar="METHOD", help=f"any of {list(METHODS)} (default: all)")
    parser.add_argument("--runs", type=Path, default=Path("benchmark_runs/transfer"),
                        help="one JSON per finished run; existing ones are skipped")
    parser.add_argument("--random-init", action="store_true",
                        help="use an untrained network of --source's shape instead")
    parser.add_argument("--report", action="store_true", help="print the table and exit")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: leave the machine's other cores)")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="settings for scratch and the strategies, e.g. mixup_alpha=0.2 "
                             "(use another --runs folder: run files do not name them)")
    args = parser.parse_args()
    settings = {name: yaml.safe_load(value) for name, _, value in
                (pair.partition("=") for pair in args.set)}
    if args.report:
        print(report(args.runs, list(args.methods)))
        return
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    if args.random_init:
        args.source = str(random_network(Path(args.source), args.runs))
    commit = git_commit()
    for task in args.tasks:
        task_root = args.data / task
        if not (task_root / "train").is_dir():
            raise SystemExit(f"{task_root}/train is missing: build it with "
                             "tools/make_benchmark_data.py")
        tests = test_folders(task_root)
        for clips in args.clips:
            for seed in args.seeds:
                for method in args.methods:
                    path = run_file(args.runs, args.source, task, clips, seed, method)
                    if path.is_file():
                        continue
                    started = time.perf_counter()
                    with tempfile.TemporaryDirectory() as scratch_dir:
                        work = Path(scratch_dir)
                        folders = sample_folders(task_root, clips, seed, work / "train")
                        scores = run_one(method, source_path=args.source,
                                         backbone=args.backbone, folders=folders,
                                         tests=tests, work=work, seed=seed,
                                         settings=settings)
                    record = {"source": args.source, "backbone": args.backbone, "task": task,
                              "clips": clips, "seed": seed, "method": method, **scores,
                              "test_files": sum(len(list_audio_files(t)) for t in tests),
                              "seconds": time.perf_counter() - started, "commit": commit,
                              "threads": args.threads, "settings": args.set}
                    path.parent.mkdir(parents=True, exist_ok=True)
                    text = json.dumps(record, indent=1).encode()
                    atomic_write(path, lambda stream, text=text: stream.write(text))
                    print(f"{task} {clips:2d} clips, seed {seed}, {method:14s}: accuracy "
                          f"{scores['accuracy']:.3f} ({record['seconds']:.0f} s)", flush=True)
    print(report(args.runs, list(args.methods)))


if __name__ == "__main__":
    main()
