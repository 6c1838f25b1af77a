"""Long recordings: segment posteriors over time, smoothed and merged into labelled regions.

A recording of any length (hours) is decoded block by block and cut by the predictor's
segment plan (:meth:`deep_audio.data.plan.SegmentPlan.stream`) exactly as
:func:`deep_audio.predict.predictor.classify_files` cuts a short file (same starts, the last one
ending at the last sample, the same minimum length); memory holds one block and one batch
of segments. Any predictor works (:mod:`deep_audio.predict.predictor`): a PyTorch model, an
ONNX model run by onnxruntime (this module does not import torch), a deep-feature
classifier. Then:

1. every segment gets a posterior (the predictor's ``posteriors``);
2. posteriors are smoothed over time with a moving average of ``smoothing_segments``
   segments;
3. each segment *owns* the time from halfway after its predecessor's centre to halfway
   before its successor's centre (the first from 0 s, the last up to the end), takes the
   argmax of its smoothed posterior, and runs of one label merge into regions; regions
   shorter than ``min_region_seconds`` join their longer neighbour;
4. a region's confidence is the time-weighted mean of its label's smoothed posterior.

An annotation (``start end label`` per line) scores the regions on a fine time grid
(``evaluation_step_seconds``): per-class accuracy (the share of each class's annotated
time labelled correctly) and overall accuracy.

>>> _moving_average(np.array([[1.0], [0.0], [1.0], [0.0]]), 3)[:, 0].round(3).tolist()
[0.5, 0.667, 0.333, 0.5]
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from deep_audio.config import override
from deep_audio.errors import DeepAudioError
from deep_audio.metrics import confusion_matrix, scores
from deep_audio.viz.png import plot_timeline
from deep_audio.predict.predictor import as_predictor, decision_thresholds

logger = logging.getLogger(__name__)


@dataclass
class Region:
    """A stretch of a recording with one label."""

    start_seconds: float
    end_seconds: float
    class_name: str
    confidence: float  # time-weighted mean smoothed posterior of class_name, in [0, 1]


@dataclass
class RecordingSegmentation:
    """Segment posteriors of a recording and the labelled regions made from them.

    Attributes
    ----------
    starts_seconds, ends_seconds : np.ndarray, shape (n_segments,)
        Where each segment lies in the recording.
    posteriors : np.ndarray, shape (n_segments, n_classes)
        Each segment's class posterior, as the model gives it.
    smoothed : np.ndarray, shape (n_segments, n_classes)
        The posteriors after the moving average; regions are made from these.
    regions : list of Region
        A single-label model's labelled stretches (one class at a time).
    events : list of Event
        A multi-label model's sound events (several classes at once): each class's
        posteriors median-filtered, thresholded at the model's per-class threshold,
        close events merged and short ones dropped
        (:func:`deep_audio.events.detection.detect_events`).
    """

    path: Path
    class_names: list[str]
    duration_seconds: float
    starts_seconds: np.ndarray
    ends_seconds: np.ndarray
    posteriors: np.ndarray
    smoothed: np.ndarray
    regions: list[Region] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    events: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (what :func:`save_segmentation` writes as JSON)."""
        return {
            "path": str(self.path), "class_names": self.class_names,
            "duration_seconds": self.duration_seconds, "settings": self.settings,
            "regions": [vars(region) for region in self.regions],
            "events": [{"onset_seconds": e.onset_seconds, "offset_seconds": e.offset_seconds,
                        "label": e.label, "confidence": e.confidence} for e in self.events],
            "segments": [{"start_seconds": float(start), "end_seconds": float(end),
                          "posteriors": row.tolist(), "smoothed": smooth.tolist()}
                         for start, end, row, smooth in zip(
                             self.starts_seconds, self.ends_seconds, self.posteriors,
                             self.smoothed)],
        }

    def plot(self, path: str | os.PathLike, *,
             truth: Sequence[tuple[float, float, str]] | None = None) -> Path:
        """Timeline picture (``.png``, ``.svg`` or ``.html``): smoothed posteriors, regions
        and, when given, the annotation; see :func:`deep_audio.viz.png.plot_timeline`. A
        multi-label model's: a lane per class with its posteriors, events and annotated
        events (:func:`~deep_audio.viz.event_timeline.plot_event_timeline`)."""
        if "thresholds" in self.settings:
            from deep_audio.viz.event_timeline import plot_event_timeline
            from deep_audio.events.detection import Event

            return plot_event_timeline(
                self.starts_seconds, self.ends_seconds, self.posteriors, self.class_names,
                path, events=self.events, thresholds=self.settings["thresholds"],
                truth=None if truth is None else [Event(*event) for event in truth],
                title=self.path.name)
        return plot_timeline(
            self.starts_seconds, self.ends_seconds, self.smoothed, self.class_names, path,
            regions=[(r.start_seconds, r.end_seconds, r.class_name) for r in self.regions],
            truth=truth, title=self.path.name)


@dataclass
class TimelineEvaluation:
    """Regions scored against an annotation on a time grid of ``step_seconds``.

    ``confusion`` counts grid points (rows: annotated class, columns: predicted), so each
    count is ``step_seconds`` of audio; unannotated time is not scored.
    """

    class_names: list[str]
    confusion: np.ndarray  # (n_classes, n_classes)
    scores: dict[str, Any]
    step_seconds: float

    @property
    def accuracy(self) -> float:
        """Share of the annotated time whose label is right."""
        return float(self.scores["accuracy"])

    @property
    def class_accuracy(self) -> dict[str, float]:
        """Per class, the share of its annotated time labelled as that class (recall)."""
        return {name: float(recall) for name, recall, support in zip(
            self.class_names, self.scores["recall"], self.scores["support"]) if support}

    def format(self) -> str:
        """A text table: per-class annotated seconds and accuracy; overall accuracy."""
        width = max(12, *(len(name) for name in self.class_names))
        lines = [f"{'class':<{width}} {'seconds':>9} {'accuracy':>9}"]
        for name, support in zip(self.class_names, self.scores["support"]):
            accuracy = self.class_accuracy.get(name)
            lines.append(f"{name:<{width}} {support * self.step_seconds:9.1f} "
                         + (f"{accuracy:9.3f}" if accuracy is not None else f"{'-':>9}"))
        total = self.confusion.sum() * self.step_seconds
        lines.append(f"{'overall':<{width}} {total:9.1f} {self.accuracy:9.3f}  "
                     f"(time grid {self.step_seconds:g} s)")
        return "\n".join(lines)


def segment_recording(path: str | os.PathLike, model: Any, *, precision: str = "fp32",
                      **overrides: Any) -> RecordingSegmentation:
    """Classify a recording of any length segment by segment and label its regions.

    Parameters
    ----------
    path : str or PathLike
        An audio file; it is read in blocks of ``read_block_seconds``.
    model : predictor, AudioClassifier or path
        A predictor, a loaded model, or a model file (``.onnx`` runs with onnxruntime);
        see :func:`deep_audio.predict.predictor.as_predictor`.
    precision : str
        Of a PyTorch model: ``fp32``, ``bf16``, ``fp16`` or ``auto`` (see
        :func:`deep_audio.device.autocast_dtype`).
    **overrides
        Settings by name, on top of the model's own: ``segment_hop_seconds``,
        ``smoothing_segments``, ``min_region_seconds``, ``read_block_seconds``,
        ``inference_batch_size``; for a multi-label model ``event_median_filter_seconds``
        and ``event_min_gap_seconds`` (``min_region_seconds`` is then the shortest event).

    Returns
    -------
    RecordingSegmentation

    Raises
    ------
    AudioError
        The file cannot be read, or is shorter than the model's minimum.

    Examples
    --------
    >>> result = segment_recording("meeting.flac", "models/speakers.pt")  # doctest: +SKIP
    >>> for region in result.regions:  # doctest: +SKIP
    ...     print(region.start_seconds, region.end_seconds, region.class_name)
    """
    predictor = as_predictor(model, precision=precision)
    config = override(predictor.config, **overrides)
    plan = predictor.plan
    if overrides.get("segment_hop_seconds") is not None:
        plan = plan.with_hop_seconds(config.segments.segment_hop_seconds)
    batch_size = config.inference.inference_batch_size
    stream = plan.stream(plan.read_blocks(path,
                                          block_seconds=config.inference.read_block_seconds))
    starts, rows = [], []
    for batch_starts, batch in _batches(stream, batch_size):
        starts.extend(batch_starts)
        rows.append(predictor.posteriors(batch))
    posteriors = np.concatenate(rows)
    duration_seconds = stream.n_samples / plan.sample_rate
    smoothed = _moving_average(posteriors, config.inference.smoothing_segments)
    starts_seconds, ends_seconds = plan.times(starts, stream.n_samples)
    class_names = list(predictor.class_names)
    inference = config.inference
    thresholds = decision_thresholds(predictor)
    regions, events = [], []
    if thresholds is None:
        regions = make_regions(starts_seconds, ends_seconds, smoothed, class_names,
                               duration_seconds=duration_seconds,
                               min_region_seconds=inference.min_region_seconds)
    else:
        from deep_audio.events.detection import detect_events

        events = detect_events(starts_seconds, ends_seconds, posteriors, class_names,
                               thresholds=thresholds,
                               median_filter_seconds=inference.event_median_filter_seconds,
                               min_duration_seconds=inference.min_region_seconds,
                               min_gap_seconds=inference.event_min_gap_seconds)
    logger.info("%s: %.1f s, %d segments, %d %s", path, duration_seconds,
                len(starts_seconds), len(events) if thresholds is not None else len(regions),
                "events" if thresholds is not None else "regions")
    settings = {"segment_seconds": plan.segment_samples / plan.sample_rate,
                "segment_hop_seconds": plan.hop_samples / plan.sample_rate,
                "smoothing_segments": config.inference.smoothing_segments,
                "min_region_seconds": config.inference.min_region_seconds,
                "evaluation_step_seconds": config.inference.evaluation_step_seconds}
    if thresholds is not None:
        settings.update(thresholds=thresholds.tolist(),
                        event_median_filter_seconds=inference.event_median_filter_seconds,
                        event_min_gap_seconds=inference.event_min_gap_seconds)
    return RecordingSegmentation(Path(path), class_names, duration_seconds,
                                 starts_seconds, ends_seconds, posteriors, smoothed, regions,
                                 settings, events)


def make_regions(starts_seconds: np.ndarray, ends_seconds: np.ndarray,
                 posteriors: np.ndarray, class_names: Sequence[str], *,
                 duration_seconds: float, min_region_seconds: float = 0.0) -> list[Region]:
    """Merge consecutive segments with the same argmax into labelled regions.

    Parameters
    ----------
    starts_seconds, ends_seconds : np.ndarray, shape (n_segments,)
        Segment positions, in time order.
    posteriors : np.ndarray, shape (n_segments, n_classes)
        (Smoothed) posteriors; each segment's label is their argmax.
    class_names : sequence of str
    duration_seconds : float
        Length of the recording; the last region ends there.
    min_region_seconds : float
        Regions shorter than this join their longer neighbour (repeatedly, shortest
        first), unless only one region is left.

    Returns
    -------
    list of Region
        Contiguous, covering ``[0, duration_seconds]``.

    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    >>> [(r.start_seconds, r.end_seconds, r.class_name)
    ...  for r in make_regions(np.array([0., 1, 2]), np.array([2., 3, 4]), p, ["a", "b"],
    ...                        duration_seconds=4.0)]
    [(0.0, 2.5, 'a'), (2.5, 4.0, 'b')]
    """
    posteriors = np.asarray(posteriors, dtype=np.float64)
    if len(posteriors) == 0:
        return []
    centres = (np.asarray(starts_seconds) + np.asarray(ends_seconds)) / 2
    bounds = np.concatenate([[0.0], (centres[:-1] + centres[1:]) / 2, [duration_seconds]])
    owned = np.diff(bounds)  # seconds each segment stands for
    labels = posteriors.argmax(axis=1)
    runs = _runs(labels)  # [first, stop, label]
    while min_region_seconds > 0 and len(runs) > 1:
        lengths = [bounds[stop] - bounds[first] for first, stop, _ in runs]
        shortest = int(np.argmin(lengths))
        if lengths[shortest] >= min_region_seconds:
            break
        neighbours = [i for i in (shortest - 1, shortest + 1) if 0 <= i < len(runs)]
        into = max(neighbours, key=lambda i: lengths[i])
        first, stop, _ = runs[shortest]
        labels[first:stop] = runs[into][2]
        runs = _runs(labels)
    regions = []
    for first, stop, label in runs:
        weights = owned[first:stop]
        confidence = float(np.average(posteriors[first:stop, label], weights=weights)
                           if weights.sum() > 0 else posteriors[first:stop, label].mean())
        regions.append(Region(float(bounds[first]), float(bounds[stop]),
                              class_names[label], confidence))
    return regions


def read_annotation(path: str | os.PathLike) -> list[tuple[float, float, str]]:
    """Reference regions from a text file: ``start end label`` per line, in seconds.

    Fields are separated by commas, tabs or spaces (a label may hold spaces when commas or
    tabs separate the fields). Blank lines, ``#`` comments and a header line
    (``start,end,label``) are skipped.

    Raises
    ------
    DeepAudioError
        The file cannot be read, or a line is malformed (the message names the line).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise DeepAudioError(f"cannot read annotation '{path}': {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise DeepAudioError(f"annotation '{path}' is not UTF-8 text") from error
    regions, first_line = [], True
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        header, first_line = first_line, False
        separator = "," if "," in text else "\t" if "\t" in text else None
        fields = [f.strip() for f in (text.split(separator, 2) if separator
                                      else re.split(r"\s+", text, maxsplit=2))]
        try:
            start, end = float(fields[0]), float(fields[1])
        except (ValueError, IndexError):
            if header:
                continue
            raise DeepAudioError(f"annotation '{path}' line {number}: expected "
                                 f"'start end label', got {text!r}") from None
        if len(fields) < 3 or not fields[2]:
            raise DeepAudioError(f"annotation '{path}' line {number}: no label in {text!r}")
        if not (0 <= start < end):
            raise DeepAudioError(f"annotation '{path}' line {number}: start={start} and "
                                 f"end={end} must satisfy 0 <= start < end")
        regions.append((start, end, fields[2]))
    if not regions:
        raise DeepAudioError(f"annotation '{path}' holds no regions")
    return regions


def evaluate_segmentation(segmentation: RecordingSegmentation,
                          annotation: Sequence[tuple[float, float, str]] | str | os.PathLike,
                          *, step_seconds: float | None = None) -> TimelineEvaluation:
    """Score the regions against an annotation at the centres of a fine time grid.

    Parameters
    ----------
    segmentation : RecordingSegmentation
    annotation : sequence of (start_seconds, end_seconds, class_name), or a file
        Reference regions (see :func:`read_annotation`); labels must be class names of
        the model. Unannotated time is not scored; where regions overlap, the later
        line wins.
    step_seconds : float, optional
        Grid step; default the ``evaluation_step_seconds`` setting the segmentation was
        made with.

    Returns
    -------
    TimelineEvaluation
    """
    source = "annotation"
    if isinstance(annotation, (str, os.PathLike)):
        source = f"annotation '{annotation}'"
        annotation = read_annotation(annotation)
    if step_seconds is None:
        step_seconds = segmentation.settings["evaluation_step_seconds"]
    if step_seconds <= 0:
        raise DeepAudioError(f"step_seconds={step_seconds} must be > 0")
    names = segmentation.class_names
    unknown = sorted({label for _, _, label in annotation} - set(names))
    if unknown:
        raise DeepAudioError(f"{source} has label(s) {unknown} that are not classes of the "
                             f"model; its classes are {names}")
    times = (np.arange(math.ceil(segmentation.duration_seconds / step_seconds)) + 0.5
             ) * step_seconds
    times = times[times < segmentation.duration_seconds]
    truth = np.full(len(times), -1)
    for start, end, label in annotation:
        truth[(times >= start) & (times < end)] = names.index(label)
    region_starts = np.array([r.start_seconds for r in segmentation.regions])
    region_labels = np.array([names.index(r.class_name) for r in segmentation.regions])
    predicted = region_labels[np.searchsorted(region_starts, times, side="right") - 1]
    scored = truth >= 0
    if not scored.any():
        raise DeepAudioError(f"{source} covers none of the recording "
                             f"({segmentation.duration_seconds:.1f} s)")
    matrix = confusion_matrix(truth[scored], predicted[scored], len(names))
    return TimelineEvaluation(list(names), matrix, scores(matrix), step_seconds)


def save_segmentation(segmentation: RecordingSegmentation, path: str | os.PathLike
                      ) -> list[Path]:
    """Write the result; the format follows the suffix of ``path``.

    ``.json``: everything (regions, segments with raw and smoothed posteriors, settings).
    ``.csv``: the regions (``start_seconds,end_seconds,label,confidence``) to ``path`` and
    the segments (``start_seconds,end_seconds,label,p(class)...``, raw posteriors) to
    ``<stem>.segments.csv`` beside it. Returns the files written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(segmentation.to_dict(), indent=1), encoding="utf-8")
        return [path]
    if path.suffix.lower() != ".csv":
        raise DeepAudioError(f"cannot write '{path}': the suffix must be .csv or .json")
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["start_seconds", "end_seconds", "label", "confidence"])
        for region in segmentation.regions:
            writer.writerow([f"{region.start_seconds:.3f}", f"{region.end_seconds:.3f}",
                             region.class_name, f"{region.confidence:.4f}"])
    segments_path = path.with_suffix(".segments.csv")
    names = segmentation.class_names
    with open(segments_path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["start_seconds", "end_seconds", "label",
                         *(f"p({name})" for name in names)])
        for start, end, row in zip(segmentation.starts_seconds, segmentation.ends_seconds,
                                   segmentation.posteriors):
            writer.writerow([f"{start:.3f}", f"{end:.3f}", names[int(np.argmax(row))],
                             *(f"{p:.4f}" for p in row)])
    return [path, segments_path]


def _batches(pairs: Iterable[tuple[int, np.ndarray]], batch_size: int
             ) -> Iterator[tuple[list[int], np.ndarray]]:
    starts, segments = [], []
    for start, segment in pairs:
        starts.append(start)
        segments.append(segment)
        if len(segments) == batch_size:
            yield starts, np.stack(segments)
            starts, segments = [], []
    if segments:
        yield starts, np.stack(segments)


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Mean over a window of ``width`` rows around each row (fewer at the edges)."""
    if width <= 1 or len(values) < 2:
        return values.copy()
    padded = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    index = np.arange(len(values))
    low = np.maximum(index - (width - 1) // 2, 0)
    high = np.minimum(index + width // 2 + 1, len(values))
    return (padded[high] - padded[low]) / (high - low)[:, None]


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    changes = np.flatnonzero(np.diff(labels)) + 1
    edges = np.concatenate([[0], changes, [len(labels)]])
    return [(int(a), int(b), int(labels[a])) for a, b in zip(edges[:-1], edges[1:])]


