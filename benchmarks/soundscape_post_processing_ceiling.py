"""How far can post-processing alone take a trained frame detector on the soundscape
benchmark's long recordings? (issue 21, docs/frame_detection.md)

For each model file given (trained by benchmarks/benchmark_soundscapes.py), the long
recordings are scored once, then:

- ``stored``: the post-processing tuned on validation and stored in the model file (what
  the benchmark reports as "tuned");
- ``filter X s``: one median filter for every class, PSDS on the filtered score curves
  (PSDS is threshold-free: the filter is the only post-processing it sees);
- ``threshold X``: one threshold for every class, the stored filters and gaps (is the
  per-class choice on validation what fails on new sources?);
- ``oracle``: thresholds, filters and merge gaps tuned *on the long recordings
  themselves* by the same tuner (events.tuning): not a result, a ceiling. If even this
  stays under the issue's goals, no post-processing tuned on validation reaches them,
  and the scores themselves must improve.

    python benchmarks/soundscape_post_processing_ceiling.py \\
        benchmark_runs/soundscapes/transfer_crnn_vf4_whole_{0,1,2}.pt [--ensemble]

``--untuned CLASS...`` adds ``untuned at the median``: the stored settings with those
classes' (ones the validation fold had no event of: guitar and tom for fold 4) set to the
median of the other classes', what the tuner does since 2026-12-07 (models trained
before stored the defaults there).

``--ensemble`` scores the models as one (:class:`deep_audio.predict.ensemble.Ensemble`:
posteriors averaged; thresholds averaged, tuned filters and gaps their medians) and adds
``retuned on validation``: the ensemble's post-processing tuned as one model's is, on the
validation fold the members were trained with (``training.validation_fold``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deep_audio.data.manifest import read_manifest  # noqa: E402
from deep_audio.events import SegmentScores, evaluate_events, read_annotation  # noqa: E402
from deep_audio.events.detection import detect_events, median_filtered  # noqa: E402
from deep_audio.events.tuning import tune_post_processing  # noqa: E402
from deep_audio.predict import segment_recording  # noqa: E402
from deep_audio.predict.classify import as_predictor  # noqa: E402
from deep_audio.predict.ensemble import Ensemble  # noqa: E402
from deep_audio.training.post_processing import tune_on_validation  # noqa: E402
from deep_audio.training.train import prepare_data  # noqa: E402

FILTERS_SECONDS = (0.0, 0.12, 0.24, 0.48, 0.96)
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def score(reference, estimated, curves, durations, names) -> dict[str, float]:
    result = evaluate_events(reference, estimated, class_names=names,
                             durations_seconds=durations, scores=curves)
    return {"event_f1": result.event_f1, "segment_f1": result.segment_f1,
            "psds1": result.psds["psds1"], "psds2": result.psds["psds2"]}


def ceiling(model, data: Path, untuned: list[str]) -> dict[str, dict[str, float]]:
    """The rows of the table for ``model``: a model file, or a list of them (ensemble)."""
    model = as_predictor(model)
    names = list(model.class_names)
    reference, found = {}, {}
    for audio in sorted((data / "long").glob("*.flac")):
        found[audio.stem] = segment_recording(audio, model)
        reference[audio.stem] = read_annotation(audio.with_suffix(".tsv"))
    durations = {k: f.duration_seconds for k, f in found.items()}
    rows = {"stored": score(reference, {k: f.events for k, f in found.items()},
                            {k: SegmentScores(f.starts_seconds, f.ends_seconds, f.smoothed)
                             for k, f in found.items()}, durations, names)}
    task, inference = model.task, model.config.inference

    def at(task) -> dict[str, float]:  # the scores at ``task``'s post-processing
        return rescored(found, reference, names, task.event_settings(len(names), inference),
                        inference.min_region_seconds)

    if untuned:
        rows["untuned at the median"] = at(with_median(task, names, untuned))
    for seconds in FILTERS_SECONDS:
        curves = {k: SegmentScores(f.starts_seconds, f.ends_seconds, median_filtered(
            f.starts_seconds, f.ends_seconds, f.posteriors, seconds))
            for k, f in found.items()}
        estimated = {k: detect_events(f.starts_seconds, f.ends_seconds, f.posteriors, names,
                                      thresholds=task.thresholds,
                                      median_filter_seconds=seconds,
                                      min_gap_seconds=0.5) for k, f in found.items()}
        rows[f"filter {seconds:.2f} s"] = score(reference, estimated, curves, durations, names)
    stored = task.event_settings(len(names), model.config.inference)
    smoothed = {k: SegmentScores(f.starts_seconds, f.ends_seconds, f.smoothed)
                for k, f in found.items()}
    for threshold in THRESHOLDS:
        estimated = {k: detect_events(f.starts_seconds, f.ends_seconds, f.posteriors, names,
                                      **{**stored, "thresholds": threshold})
                     for k, f in found.items()}
        rows[f"threshold {threshold:.1f}"] = score(reference, estimated, smoothed, durations,
                                                   names)
    raw = {k: SegmentScores(f.starts_seconds, f.ends_seconds, f.posteriors)
           for k, f in found.items()}
    oracle = tune_post_processing(reference, raw, class_names=names,
                                  durations_seconds=durations,
                                  default_thresholds=task.thresholds,
                                  default_median_filter_seconds=0.12,
                                  default_min_gap_seconds=0.5)
    estimated = {k: detect_events(f.starts_seconds, f.ends_seconds, f.posteriors, names,
                                  thresholds=oracle.thresholds,
                                  median_filter_seconds=oracle.median_filter_seconds,
                                  min_gap_seconds=oracle.min_gap_seconds)
                 for k, f in found.items()}
    curves = {k: SegmentScores(f.starts_seconds, f.ends_seconds, median_filtered(
        f.starts_seconds, f.ends_seconds, f.posteriors, np.asarray(oracle.median_filter_seconds)))
        for k, f in found.items()}
    rows["oracle (tuned on the test)"] = score(reference, estimated, curves, durations, names)
    if isinstance(model, Ensemble):
        validation = prepare_data(None, model.config, model.task, manifest=read_manifest(
            data / "meta/train_strong.csv", audio_root=data)).validation_set
        tune_on_validation(model, validation)  # sets model.task
        rows["retuned on validation, as one model"] = at(model.task)
    return rows


def with_median(task, names: list[str], untuned: list[str]):
    """``task`` with the post-processing of the ``untuned`` classes set to the median of
    the other classes'."""
    absent = [names.index(name) for name in untuned]
    keep = [i for i in range(len(names)) if i not in absent]

    def median(values):
        values = np.array(values, dtype=float)
        values[absent] = np.median(values[keep])
        return values.tolist()

    return task.with_post_processing(event_thresholds=median(task.event_thresholds),
                                     median_filter_seconds=median(task.median_filter_seconds),
                                     min_gap_seconds=median(task.min_gap_seconds))


def rescored(found, reference, names: list[str], settings: dict,
             min_duration_seconds: float) -> dict[str, float]:
    """The long recordings' scores with their posteriors post-processed by ``settings``
    (a task's ``event_settings``), as ``segment_recording`` would: no second inference."""
    estimated = {k: detect_events(f.starts_seconds, f.ends_seconds, f.posteriors, names,
                                  **settings, min_duration_seconds=min_duration_seconds)
                 for k, f in found.items()}
    curves = {k: SegmentScores(f.starts_seconds, f.ends_seconds, median_filtered(
        f.starts_seconds, f.ends_seconds, f.posteriors, settings["median_filter_seconds"]))
        for k, f in found.items()}
    return score(reference, estimated, curves,
                 {k: f.duration_seconds for k, f in found.items()}, names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT / "data/soundscapes")
    parser.add_argument("--untuned", nargs="+", default=[], metavar="CLASS",
                        help="add a row with these classes at the other classes' median")
    parser.add_argument("--ensemble", action="store_true",
                        help="score the models as one ensemble (posteriors averaged)")
    args = parser.parse_args()
    results = ([ceiling(args.models, args.data, args.untuned)] if args.ensemble
               else [ceiling(path, args.data, args.untuned) for path in args.models])
    keys = ("event_f1", "segment_f1", "psds1", "psds2")
    print(f"{len(args.models)} models as one ensemble" if args.ensemble
          else f"{len(results)} model(s): mean ± sd over them")
    print("| post-processing | " + " | ".join(keys) + " |")
    print("|---|" + "---:|" * len(keys))
    for row in results[0]:
        cells = [np.array([r[row][k] for r in results]) for k in keys]
        print(f"| {row} | " + " | ".join(f"{c.mean():.3f} ± {c.std():.3f}" for c in cells)
              + " |")


if __name__ == "__main__":
    main()
