"""What multi-label training buys on real soundscapes (data/soundscapes, made by
tools/make_soundscapes.py; docs/soundscape_benchmark.md).

For each seed, three models on the training folds (1-4), scored on fold 5 (other source
recordings) and on the three long recordings:

- ``tagger``: weak labels (every sound of a clip, ``meta/train_weak.csv``), multi-label;
- ``detector``: strong labels (onset/offset per event, ``meta/train_strong.csv``),
  multi-label, segment targets from the events;
- ``single``: single-label on each clip's dominant (longest) event, as folder-per-class
  training would have it; its softmax posteriors are scored as tags.

Prints test mAP, macro-F1 at the stored thresholds, and on the long recordings sed_eval's
segment- and event-based F1 and PSDS (sed_scores_eval), mean and spread over the seeds.
Each run's figures go to benchmark_runs/soundscapes/<model>_<seed>.json and training
resumes from its checkpoint, so an interrupted benchmark goes on where it stopped.

    python benchmarks/benchmark_soundscapes.py --seeds 0 1
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deep_audio.config import load_config  # noqa: E402
from deep_audio.data.manifest import read_manifest  # noqa: E402
from deep_audio.events import SegmentScores, evaluate_events, read_annotation  # noqa: E402
from deep_audio.metrics import multilabel_scores  # noqa: E402
from deep_audio.predict import evaluate_manifest, segment_recording  # noqa: E402
from deep_audio.predict.classify import classify_files  # noqa: E402
from deep_audio.tasks import MultiLabel  # noqa: E402
from deep_audio.training import train_model  # noqa: E402


def dominant_manifest(strong: Path, output: Path) -> Path:
    """One row per clip: the label of its longest event."""
    longest: dict[str, tuple[float, str, str]] = {}
    with open(strong, newline="") as stream:
        for row in csv.DictReader(stream):
            length = float(row["offset"]) - float(row["onset"])
            if row["path"] not in longest or length > longest[row["path"]][0]:
                longest[row["path"]] = (length, row["labels"], row["fold"])
    output.write_text("path,labels,fold\n" + "".join(
        f"{path},{label},{fold}\n" for path, (_, label, fold) in longest.items()))
    return output


def run_one(kind: str, seed: int, data: Path, work: Path) -> dict:
    manifests = {"tagger": data / "meta/train_weak.csv",
                 "detector": data / "meta/train_strong.csv",
                 "single": dominant_manifest(data / "meta/train_strong.csv",
                                             work / "train_dominant.csv")}
    config = load_config(seed=seed, task="single_label" if kind == "single" else "multi_label")
    started = time.perf_counter()
    result = train_model(manifest=read_manifest(manifests[kind], audio_root=data),
                         output=work / f"{kind}_{seed}", config=config, progress=False,
                         resume=True)  # a killed run goes on from its last epoch
    seconds = time.perf_counter() - started
    test = read_manifest(data / "meta/test_weak.csv", audio_root=data)
    names = result.class_names
    if kind == "single":  # its posteriors as tag scores, with 0.5-free argmax decisions
        results = list(classify_files([c.path for c in test.clips], result.model_path))
        by_path = {r.path: r for r in results}
        targets = np.stack(MultiLabel().targets(
            [c.labels for c in test.clips if c.path in by_path], names))
        posteriors = np.stack([by_path[c.path].posteriors for c in test.clips
                               if c.path in by_path])
        decisions = np.eye(len(names))[posteriors.argmax(axis=1)]
        scores = multilabel_scores(targets, posteriors, thresholds=np.full(len(names), 0.5))
        scores["macro_f1"] = multilabel_scores(targets, decisions,
                                               thresholds=np.full(len(names), 0.5))["macro_f1"]
    else:
        scores = evaluate_manifest(result.model_path, test).scores
    figures = {"kind": kind, "seed": seed, "training_seconds": seconds,
               "best_epoch": result.best_epoch, "test_map": scores["map"],
               "test_macro_f1": scores["macro_f1"]}
    if kind != "single":
        reference, estimated, segment_scores, durations = {}, {}, {}, {}
        for audio in sorted((data / "long").glob("*.flac")):
            found = segment_recording(audio, result.model_path, segment_hop_seconds=0.25)
            reference[audio.stem] = read_annotation(audio.with_suffix(".tsv"))
            estimated[audio.stem] = found.events
            durations[audio.stem] = found.duration_seconds
            segment_scores[audio.stem] = SegmentScores(found.starts_seconds,
                                                       found.ends_seconds, found.posteriors)
        detection = evaluate_events(reference, estimated, class_names=names,
                                    durations_seconds=durations, scores=segment_scores)
        figures.update(segment_f1=detection.segment_f1, event_f1=detection.event_f1,
                       psds1=detection.psds.get("psds1"), psds2=detection.psds.get("psds2"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT / "data/soundscapes"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--kinds", nargs="+", default=["tagger", "single", "detector"])
    parser.add_argument("--work", default=str(ROOT / "benchmark_runs/soundscapes"))
    args = parser.parse_args()
    data, work = Path(args.data), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    flags = sorted(set(open("/proc/cpuinfo").read().split()) & {
        "avx2", "avx512f", "avx512_bf16", "amx_bf16"}) if os.path.exists("/proc/cpuinfo") else []
    print(f"# {platform.processor() or platform.machine()}, CPU flags: {' '.join(flags)}")
    rows = []
    for kind in args.kinds:
        for seed in args.seeds:
            path = work / f"{kind}_{seed}.json"
            if not path.is_file():
                path.write_text(json.dumps(run_one(kind, seed, data, work), indent=1))
            rows.append(json.loads(path.read_text()))
            print(json.dumps(rows[-1]), flush=True)
    print("\nmodel     test mAP        macro-F1        segment F1      event F1        "
          "PSDS1           PSDS2           train s")
    for kind in args.kinds:
        runs = [row for row in rows if row["kind"] == kind]

        def cell(key: str, runs=runs) -> str:
            values = [row[key] for row in runs if row.get(key) is not None]
            if not values:
                return f"{'-':<15} "
            return f"{np.mean(values):.3f} +- {np.std(values):.3f}  "

        print(f"{kind:<9} " + "".join(cell(key) for key in (
            "test_map", "test_macro_f1", "segment_f1", "event_f1", "psds1", "psds2"))
              + f"{np.mean([row['training_seconds'] for row in runs]):.0f}")


if __name__ == "__main__":
    main()
