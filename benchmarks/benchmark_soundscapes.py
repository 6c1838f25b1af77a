"""What multi-label training and frame-level detection buy on real soundscapes
(data/soundscapes, made by tools/make_soundscapes.py; docs/soundscape_benchmark.md,
docs/frame_detection.md).

For each seed, models trained on the training folds (1-4), scored on fold 5 (other source
recordings) and on the three long recordings:

- ``tagger``: weak labels (every sound of a clip, ``meta/train_weak.csv``), multi-label;
- ``detector``: strong labels (onset/offset per event, ``meta/train_strong.csv``),
  multi-label, segment targets from the events (today's segment tagger for detection);
- ``single``: single-label on each clip's dominant (longest) event, as folder-per-class
  training would have it; its softmax posteriors are scored as tags;
- ``frame``: strong labels, frame detection (40 ms frames, linear head per frame), 2 s
  segments; its post-processing tuned on the validation clips when training ends;
- ``crnn``: ``frame`` with a bidirectional GRU of ``--crnn-units`` over the frames;
- ``transfer_frame``, ``transfer_crnn``: ``frame`` and ``crnn`` by transfer learning from
  ``--source`` (default the shipped general network) with ``--strategy`` (default 0: its
  conv blocks frozen, the frame head trains on their frames with the bands kept).

Prints test mAP, macro-F1 at the stored thresholds, and on the long recordings sed_eval's
segment- and event-based F1 (0.2 s onset collar) and PSDS1/PSDS2 (sed_scores_eval, DCASE
settings), mean and spread over the seeds. Frame models are scored twice: ``untuned``
(thresholds of the best epoch, the 0.12 s median filter and 0.5 s merge gap of the
config; PSDS on the raw frame scores) and ``tuned`` (the per-class thresholds, median
filters and merge gaps chosen on validation and stored in the model file; PSDS on the
tuned median-filtered scores). Each run's figures go to
benchmark_runs/soundscapes/<model>_<seed>.json; training resumes from its checkpoint,
and a finished model file is scored without training again, so an interrupted benchmark
goes on where it stopped.

    OMP_NUM_THREADS=1 python benchmarks/benchmark_soundscapes.py --kinds detector frame crnn \
        --seeds 0 1 2
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
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deep_audio.config import load_config  # noqa: E402
from deep_audio.data.manifest import read_manifest  # noqa: E402
from deep_audio.events import SegmentScores, evaluate_events, read_annotation  # noqa: E402
from deep_audio.io.model_files import load_model  # noqa: E402
from deep_audio.metrics import multilabel_scores  # noqa: E402
from deep_audio.predict import evaluate_manifest, segment_recording  # noqa: E402
from deep_audio.predict.classify import classify_files  # noqa: E402
from deep_audio.tasks import MultiLabel  # noqa: E402
from deep_audio.training import train_model  # noqa: E402
from deep_audio.training.transfer import transfer_learning  # noqa: E402


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


TRANSFER_KINDS = ("transfer_frame", "transfer_crnn")
FRAME_KINDS = ("frame", "crnn", *TRANSFER_KINDS)


def run_one(kind: str, seed: int, data: Path, work: Path, *, crnn_units: int = 64,
            settings: dict | None = None, tag: str = "",
            source: str = "models/pretrained_general.pt", strategy: int = 0,
            unlabelled: list[str] | None = None) -> dict:
    manifests = {"tagger": data / "meta/train_weak.csv",
                 "detector": data / "meta/train_strong.csv",
                 "frame": data / "meta/train_strong.csv",
                 "crnn": data / "meta/train_strong.csv",
                 "transfer_frame": data / "meta/train_strong.csv",
                 "transfer_crnn": data / "meta/train_strong.csv",
                 "single": dominant_manifest(data / "meta/train_strong.csv",
                                             work / "train_dominant.csv")}
    task = ("frame_detection" if kind in FRAME_KINDS
            else {"single": "single_label"}.get(kind, "multi_label"))
    frame_settings = ({"segment_seconds": 2.0, "segment_hop_seconds": 2.0}
                      if kind in FRAME_KINDS else {})
    config = load_config(**{  # --set may name these too (segment_seconds=10: whole clips)
        "seed": seed, "task": task, **frame_settings,
        "frame_recurrent_units": crnn_units if kind.endswith("crnn") else 0,
        **(settings or {})})
    model_path = work / f"{kind}{tag}_{seed}.pt"
    if model_path.is_file() and not model_path.with_suffix(".checkpoint.pt").is_file():
        metadata = load_model(model_path).metadata  # trained: score it again
        seconds, best_epoch = metadata["training_seconds"], metadata["best_epoch"]
        validation = metadata["metrics"]
    elif kind in TRANSFER_KINDS:
        started = time.perf_counter()
        result = transfer_learning(source, manifest=read_manifest(manifests[kind],
                                                                  audio_root=data),
                                   strategy=strategy, output=model_path, config=config,
                                   progress=False, unlabelled=unlabelled or ())
        seconds, best_epoch = time.perf_counter() - started, result.best_epoch
        validation = result.metrics
    else:
        started = time.perf_counter()
        result = train_model(manifest=read_manifest(manifests[kind], audio_root=data),
                             output=model_path, config=config, progress=False,
                             resume=True,  # a killed run goes on from its last epoch
                             unlabelled=unlabelled or ())
        seconds, best_epoch = time.perf_counter() - started, result.best_epoch
        validation = result.metrics
    test = read_manifest(data / "meta/test_weak.csv", audio_root=data)
    model = load_model(model_path)
    names = list(model.class_names)
    if kind == "single":  # its posteriors as tag scores, with 0.5-free argmax decisions
        results = list(classify_files([c.path for c in test.clips], model))
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
        scores = evaluate_manifest(model, test).scores
    figures = {"kind": kind + tag, "seed": seed, "settings": settings or {},
               "unlabelled": unlabelled or [],
               "training_seconds": seconds,
               "best_epoch": best_epoch, "test_map": scores["map"],
               "test_macro_f1": scores["macro_f1"],
               **{k: v for k, v in validation.items()
                  if k.startswith("val_") and isinstance(v, (int, float))}}
    if kind == "detector":
        figures.update(detection_scores(model, data, names, segment_hop_seconds=0.25))
    elif kind in FRAME_KINDS:
        untuned = model.task.with_post_processing(event_thresholds=(),
                                                  median_filter_seconds=(), min_gap_seconds=())
        figures.update(detection_scores(model, data, names))
        figures["tuned_post_processing"] = {
            "thresholds": model.task.event_thresholds,
            "median_filter_seconds": model.task.median_filter_seconds,
            "min_gap_seconds": model.task.min_gap_seconds}
        figures.update({f"tuned_{k}": v for k, v in detection_scores(
            model, data, names, filtered_scores=True).items()})
        model.task = untuned
        figures.update(detection_scores(model, data, names))
    return figures


def detection_scores(model, data: Path, names: list[str], *, filtered_scores: bool = False,
                     **overrides) -> dict:
    """sed_eval F1s and PSDS of ``model`` on the long recordings; PSDS on the raw score
    curves, or with ``filtered_scores`` on the median-filtered ones its events come from."""
    reference, estimated, segment_scores, durations = {}, {}, {}, {}
    for audio in sorted((data / "long").glob("*.flac")):
        found = segment_recording(audio, model, **overrides)
        reference[audio.stem] = read_annotation(audio.with_suffix(".tsv"))
        estimated[audio.stem] = found.events
        durations[audio.stem] = found.duration_seconds
        segment_scores[audio.stem] = SegmentScores(
            found.starts_seconds, found.ends_seconds,
            found.smoothed if filtered_scores else found.posteriors)
    detection = evaluate_events(reference, estimated, class_names=names,
                                durations_seconds=durations, scores=segment_scores)
    return {"segment_f1": detection.segment_f1, "event_f1": detection.event_f1,
            "psds1": detection.psds.get("psds1"), "psds2": detection.psds.get("psds2"),
            "class_psds": detection.class_psds, "class_event_f1": detection.event_class_f1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT / "data/soundscapes"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--kinds", nargs="+", default=["tagger", "single", "detector"],
                        choices=["tagger", "single", "detector", *FRAME_KINDS])
    parser.add_argument("--crnn-units", type=int, default=64,
                        help="GRU units per direction of the crnn kind")
    parser.add_argument("--source", default=str(ROOT / "models/pretrained_general.pt"),
                        help="the network the transfer_* kinds start from")
    parser.add_argument("--strategy", type=int, default=0, choices=[0, 1, 2],
                        help="transfer strategy of the transfer_* kinds")
    parser.add_argument("--unlabelled", nargs="+", default=None, metavar="FOLDER",
                        help="clips without labels for the frame kinds (mean teacher), e.g. "
                             "the unlabelled/fold1-3 folders of make_soundscapes.py "
                             "--unlabelled-per-fold")
    parser.add_argument("--set", nargs="+", default=[], metavar="NAME=VALUE",
                        help="settings for every model, e.g. mixup_alpha=0.2 (YAML values)")
    parser.add_argument("--tag", default="",
                        help="added to the model names (<kind><tag>_<seed>), e.g. _aug")
    parser.add_argument("--work", default=str(ROOT / "benchmark_runs/soundscapes"))
    parser.add_argument("--report", action="store_true",
                        help="print the table of the runs already finished; train nothing")
    args = parser.parse_args()
    settings = {name: yaml.safe_load(value) for name, value in
                (item.split("=", 1) for item in args.set)}
    data, work = Path(args.data), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    flags = sorted(set(open("/proc/cpuinfo").read().split()) & {
        "avx2", "avx512f", "avx512_bf16", "amx_bf16"}) if os.path.exists("/proc/cpuinfo") else []
    print(f"# {platform.processor() or platform.machine()}, CPU flags: {' '.join(flags)}")
    rows = []
    for seed in args.seeds:
        for kind in args.kinds:
            path = work / f"{kind}{args.tag}_{seed}.json"
            if args.report and not path.is_file():
                continue
            if not path.is_file():
                figures = run_one(kind, seed, data, work, crnn_units=args.crnn_units,
                                  settings=settings, tag=args.tag, source=args.source,
                                  strategy=args.strategy, unlabelled=args.unlabelled)
                path.write_text(json.dumps(figures, indent=1))
            rows.append(json.loads(path.read_text()))
            print(json.dumps(rows[-1]), flush=True)
    print("\nmodel              test mAP        macro-F1        segment F1      event F1        "
          "PSDS1           PSDS2           train s")
    for kind in args.kinds:
        runs = [row for row in rows if row["kind"] == kind + args.tag]
        for prefix in ("", "tuned_") if kind in FRAME_KINDS else ("",):

            def cell(key: str, runs=runs) -> str:
                values = [row[key] for row in runs if row.get(key) is not None]
                if not values:
                    return f"{'-':<15} "
                return f"{np.mean(values):.3f} +- {np.std(values):.3f}  "

            name = kind + args.tag + (" tuned" if prefix else " untuned"
                                      if kind in FRAME_KINDS else "")
            print(f"{name:<18} " + "".join(cell(key) for key in (
                "test_map", "test_macro_f1", prefix + "segment_f1", prefix + "event_f1",
                prefix + "psds1", prefix + "psds2"))
                  + f"{np.mean([row['training_seconds'] for row in runs]):.0f}"
                  + f"  ({len(runs)} seeds)")


if __name__ == "__main__":
    main()
