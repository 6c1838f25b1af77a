"""Time to accuracy of training recipes on real tasks, each run a whole CLI command.

    python benchmarks/benchmark_time_to_accuracy.py [--tasks speakers drums languages]
        [--recipes seed default svm] [--seeds 0 1 2] [--seed-runs 1] [--isa avx2]
        [--runs-dir benchmark_runs/time_to_accuracy]

For every task (``data/benchmark/<task>/{train,test}/<class>``, built by
``tools/make_benchmark_data.py``; ``demo`` is ``data/demo``), recipe and seed it times the
training command a user types, in a fresh process, from start to exit:

seed      ``basic_training -c configs/seed.yaml``: the seed's input (2.0 s x 128 mels), its
          network and today's former default recipe (plateau schedule, patience 10,
          up to 100 epochs, fp32). Slow: run ``--seed-runs`` seeds of it (default 1).
default   ``basic_training`` with no config: the default recipe.
svm       ``classic_training --classifier svm_rbf``: 136 hand-crafted features and an RBF
          SVM (deterministic: one run whatever the seeds).
Other names in ``LEVERS`` are the default recipe with one lever undone, to show what
each is worth.

Each model is then scored on the task's test folders (speakers, kits or prompts never
heard in training): file accuracy and macro-F1. Every finished run is one JSON file under
``--runs-dir``, so an interrupted benchmark resumes by running it again (finished runs
are kept; a run cut off midway starts over). The table (markdown) compares wall times to
the ``seed`` recipe's on the same task, measured by this script on this machine.

``--isa avx2`` runs every command with ``ATEN_CPU_CAPABILITY=avx2`` and
``ONEDNN_MAX_CPU_ISA=AVX2`` and in fp32, so a machine with AVX-512 or AMX runs the
kernels an AVX2-only CPU (many laptops; AMD EPYC) runs, where ``precision: auto`` is fp32.
The machine's CPU flags are printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS = ("speakers", "drums", "languages")
RECIPES = {
    "seed": ["-c", str(ROOT / "configs" / "seed.yaml")],
    "default": [],
}
# The default recipe with one lever undone (``--recipes`` may name them).
LEVERS = {
    "default-seed-input": ["--set", "segment_seconds=2.0", "--set", "segment_hop_seconds=1.0",
                           "--set", "n_mels=128"],
    "default-plateau": ["--set", "schedule=plateau", "--set", "epochs=100"],
    "default-seed-head": ["--set", "pooling=flatten", "--set", "hidden_units=[1024,256]",
                          "--set", "dropout=[0.75,0.5]", "--set", "output_activation=true"],
    "default-seed-widths": ["--set", "conv_channels=[32,64,128,256]"],
    "default-longer": ["--set", "epochs=30", "--set", "segment_hop_seconds=0.5"],
}
AVX2_ENVIRONMENT = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def task_folders(task: str) -> tuple[list[Path], list[Path]]:
    root = ROOT / "data" / ("demo" if task == "demo" else f"benchmark/{task}")
    if not root.is_dir():
        raise SystemExit(f"{root} is missing: build it with tools/make_benchmark_data.py "
                         "(see docs/benchmark_data.md)")
    return tuple(sorted(p for p in (root / split).iterdir() if p.is_dir())
                 for split in ("train", "test"))


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = set(re.findall(r"\b(avx2|avx512f|avx512_bf16|amx_bf16)\b", text))
    model = re.search(r"model name\s*:\s*(.+)", text)
    return f"{model.group(1).strip() if model else '?'}; " + (" ".join(sorted(flags)) or
                                                              "no AVX2")


def train_command(task: str, recipe: str, seed: int, model: Path, isa: str) -> list[str]:
    train, _ = task_folders(task)
    inputs = ["-i", *map(str, train)]
    if recipe == "svm":
        return [sys.executable, "-m", "deep_audio", "classic-train", *inputs,
                "--classifier", "svm_rbf", "-o", str(model.with_suffix(".skops"))]
    extra = RECIPES[recipe] if recipe in RECIPES else LEVERS[recipe]
    precision = ["--precision", "fp32"] if isa == "avx2" else []
    return [sys.executable, "-m", "deep_audio", "train", *inputs, "-o", str(model),
            *extra, *precision, "--set", f"seed={seed}", "--device", "cpu", "-q"]


def score(task: str, recipe: str, model: Path) -> dict:
    """Held-out file accuracy and macro-F1 on the task's test folders."""
    import numpy as np

    from deep_audio.metrics import scores
    _, test = task_folders(task)
    if recipe == "svm":
        from deep_audio.classic import classify_file, load_classic_model
        from deep_audio.io.audio import list_audio_files
        classic = load_classic_model(model.with_suffix(".skops"))
        names = classic["class_names"]
        matrix = np.zeros((len(names), len(names)), dtype=np.int64)
        for folder in test:
            for path in list_audio_files(folder):
                matrix[names.index(folder.name), classify_file(path, classic)[0]] += 1
        result = scores(matrix)
    else:
        from deep_audio.io.model_files import load_model
        from deep_audio.predict import evaluate_folders
        report = evaluate_folders(load_model(model), test)
        result = report.scores
    return {"accuracy": float(result["accuracy"]), "macro_f1": float(result["macro_f1"])}


def training_losses(model: Path) -> list[float]:
    """The per-epoch training loss from the run's history (empty for the SVM)."""
    history = model.with_suffix(".history.csv")
    if not history.is_file():
        return []
    rows = [line.split(",") for line in history.read_text().strip().splitlines()]
    column = rows[0].index("train_loss")
    return [float(row[column]) for row in rows[1:]]


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy (all processes), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_one(task: str, recipe: str, seed: int, runs_dir: Path, isa: str) -> dict:
    record_path = runs_dir / f"{task}__{recipe}__seed{seed}.json"
    if record_path.is_file():
        return json.loads(record_path.read_text())
    model = runs_dir / "models" / f"{task}__{recipe}__seed{seed}.pt"
    model.parent.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, **(AVX2_ENVIRONMENT if isa == "avx2" else {})}
    command = train_command(task, recipe, seed, model, isa)
    print(f"# {task} / {recipe} / seed {seed}: {' '.join(command[1:])}", file=sys.stderr,
          flush=True)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_before, started = busy_cpu_seconds(), time.perf_counter()
    completed = subprocess.run(command, env=environment, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (children.ru_utime + children.ru_stime - children_before.ru_utime
           - children_before.ru_stime)
    if completed.returncode != 0:
        raise SystemExit(f"{task}/{recipe}/seed {seed} failed:\n{completed.stderr[-2000:]}")
    losses = training_losses(model)
    record = {"task": task, "recipe": recipe, "seed": seed, "seconds": seconds,
              "cpu_seconds": own, "epochs": len(losses) or None,
              # Cores kept busy by other processes meanwhile: a noisy machine shows here.
              "others_load": (busy_cpu_seconds() - busy_before - own) / seconds,
              "train_losses": losses, **score(task, recipe, model), "isa": isa,
              "cpu": cpu_flags()}
    record_path.write_text(json.dumps(record, indent=1))
    print(f"#   {seconds:.0f} s, {record['epochs']} epochs, accuracy "
          f"{record['accuracy']:.3f}", file=sys.stderr, flush=True)
    return record


def spread(values: list[float], digits: int) -> str:
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def loss_rise(runs: list[dict]) -> str:
    """The largest epoch-to-epoch rise of the training loss over the runs: a smooth
    curve has none, an unsteady one jumps."""
    rises = [later - earlier for r in runs for earlier, later in
             zip(r.get("train_losses", []), r.get("train_losses", [])[1:])]
    return f"{max([0.0, *rises]):.2f}" if rises else "-"


def table(records: list[dict]) -> str:
    lines = ["| task | recipe | runs | wall time, s | vs seed | epochs | held-out accuracy "
             "| macro-F1 | largest training-loss rise | others' load, cores |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for task in dict.fromkeys(r["task"] for r in records):
        rows = [r for r in records if r["task"] == task]
        seed_seconds = [r["seconds"] for r in rows if r["recipe"] == "seed"]
        for recipe in dict.fromkeys(r["recipe"] for r in rows):
            runs = [r for r in rows if r["recipe"] == recipe]
            seconds = [r["seconds"] for r in runs]
            ratio = (f"{statistics.fmean(seed_seconds) / statistics.fmean(seconds):.1f}x "
                     "faster" if seed_seconds and recipe != "seed" else "")
            epochs = [r["epochs"] for r in runs if r["epochs"] is not None]
            lines.append(
                f"| {task} | {recipe} | {len(runs)} | {spread(seconds, 0)} | {ratio} | "
                f"{spread(epochs, 1) if epochs else '-'} | "
                f"{spread([r['accuracy'] for r in runs], 3)} | "
                f"{spread([r['macro_f1'] for r in runs], 3)} | {loss_rise(runs)} | "
                f"{max(r.get('others_load', float('nan')) for r in runs):.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--recipes", nargs="+", default=["seed", "default", "svm"],
                        choices=[*RECIPES, *LEVERS, "svm"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--seed-runs", type=int, default=1,
                        help="seeds of the slow 'seed' recipe (the first N of --seeds)")
    parser.add_argument("--isa", choices=["native", "avx2"], default="native")
    parser.add_argument("--runs-dir", type=Path, default=None,
                        help="default: benchmark_runs/time_to_accuracy_<isa>")
    args = parser.parse_args()
    runs_dir = args.runs_dir or ROOT / "benchmark_runs" / f"time_to_accuracy_{args.isa}"
    runs_dir.mkdir(parents=True, exist_ok=True)

    records = []
    for task in args.tasks:
        task_folders(task)
        for recipe in args.recipes:
            seeds = {"svm": args.seeds[:1], "seed": args.seeds[:args.seed_runs]}.get(
                recipe, args.seeds)
            for seed in seeds:
                records.append(run_one(task, recipe, seed, runs_dir, args.isa))
    kernels = ("AVX2 (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2), fp32"
               if args.isa == "avx2" else "native, precision as each recipe sets it")
    print(f"CPU: {cpu_flags()}; kernels: {kernels}")
    print(table(records))


if __name__ == "__main__":
    main()
