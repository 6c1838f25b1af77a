"""Long recordings: segment posteriors over time, made into labelled regions or events.

A frame model (:class:`~deep_audio.tasks.FrameDetection`) gives posteriors per frame;
its segments' frames are stitched into one timeline of frames (:func:`stitch_frames`)
and events are made from those, so onsets are as fine as a frame.

A recording of any length (hours) is decoded block by block and cut by the predictor's
segment plan (:meth:`deep_audio.data.plan.SegmentPlan.stream`) exactly as
:func:`deep_audio.predict.predictor.classify_files` cuts a short file (same starts, the last one
ending at the last sample, the same minimum length); memory holds one block and one batch
of segments. Any predictor works (:mod:`deep_audio.predict.predictor`): a PyTorch model, an
ONNX model run by onnxruntime (this module does not import torch), a deep-feature
classifier. Then:

1. every segment gets a posterior (the predictor's ``posteriors``);
2. the predictor's task decides what the timeline becomes, with the post-processing of
   :mod:`deep_audio.events.detection` and the settings of ``config.inference``: a
   single-label model's *regions* (:func:`~deep_audio.events.detection.make_regions`:
   moving average over ``smoothing_segments``, argmax runs, regions shorter than
   ``min_region_seconds`` joined to a neighbour), a multi-label model's *events*
   (:func:`~deep_audio.events.detection.detect_events`: median filter over
   ``event_median_filter_seconds``, the model's per-class thresholds, gaps under
   ``event_min_gap_seconds`` merged, events under ``min_region_seconds`` dropped).

Regions and events are :class:`~deep_audio.events.spans.Event`. An annotation (any file
:func:`~deep_audio.events.annotations.read_annotation` reads) scores the regions on a
fine time grid (``evaluation_step_seconds``): per-class accuracy (the share of each
class's annotated time labelled correctly) and overall accuracy.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deep_audio.config import override
from deep_audio.errors import DeepAudioError
from deep_audio.events.annotations import read_annotation, write_annotation
from deep_audio.events.detection import (
    detect_events,
    make_regions,
    median_filtered,
    moving_average,
)
from deep_audio.events.spans import Event, Region, as_events, label_indices
from deep_audio.metrics import confusion_matrix, scores
from deep_audio.predict.classify import as_predictor
from deep_audio.viz.timeline import plot_timeline

logger = logging.getLogger(__name__)


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
        The posteriors after the moving average, which regions are made from; for a
        multi-label model after each class's median filter, the curves its events are
        thresholded on.
    regions : list of Event (``Region``)
        A single-label model's labelled stretches (one class at a time, contiguous).
    events : list of Event
        A multi-label model's sound events (several classes at once).
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
    events: list[Event] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (what :func:`save_segmentation` writes as JSON)."""
        return {
            "path": str(self.path), "class_names": self.class_names,
            "duration_seconds": self.duration_seconds, "settings": self.settings,
            "regions": [region.to_dict() for region in self.regions],
            "events": [event.to_dict() for event in self.events],
            "segments": [{"start_seconds": float(start), "end_seconds": float(end),
                          "posteriors": row.tolist(), "smoothed": smooth.tolist()}
                         for start, end, row, smooth in zip(
                             self.starts_seconds, self.ends_seconds, self.posteriors,
                             self.smoothed)],
        }

    def plot(self, path: str | os.PathLike, *,
             truth: Sequence[Event | tuple[float, float, str]] | None = None) -> Path:
        """Timeline picture (``.png``, ``.svg`` or ``.html``): smoothed posteriors, regions
        and, when given, the annotation; see :func:`deep_audio.viz.timeline.plot_timeline`. A
        multi-label model's: a lane per class with its posteriors, events and annotated
        events (:func:`~deep_audio.viz.timeline.plot_event_timeline`)."""
        truth = None if truth is None else as_events(truth, "truth")
        if "thresholds" in self.settings:
            from deep_audio.viz.timeline import plot_event_timeline

            return plot_event_timeline(
                self.starts_seconds, self.ends_seconds, self.smoothed, self.class_names,
                path, events=self.events, thresholds=self.settings["thresholds"],
                truth=truth, title=self.path.name)
        return plot_timeline(
            self.starts_seconds, self.ends_seconds, self.smoothed, self.class_names, path,
            regions=[(r.onset_seconds, r.offset_seconds, r.label) for r in self.regions],
            truth=None if truth is None else [(e.onset_seconds, e.offset_seconds, e.label)
                                              for e in truth],
            title=self.path.name)


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
    model : predictor, Classifier or path, or a list of these
        A predictor, a loaded model, or a model file (``.onnx`` runs with onnxruntime);
        several: an ensemble, their posteriors averaged; see
        :func:`deep_audio.predict.classify.as_predictor`.
    precision : str
        Of a PyTorch model: ``fp32``, ``bf16``, ``fp16`` or ``auto`` (see
        :func:`deep_audio.device.autocast_dtype`).
    **overrides
        Settings by name, on top of the model's own: ``segment_hop_seconds``,
        ``smoothing_segments``, ``min_region_seconds``, ``read_block_seconds``,
        ``inference_batch_size``; for a multi-label model ``event_median_filter_seconds``
        and ``event_min_gap_seconds`` (``min_region_seconds`` is then the shortest event);
        for a frame model ``frame_median_filter_seconds`` instead of the first. A frame
        model whose post-processing was tuned on validation data uses its per-class
        thresholds, filters and gaps (``task.event_settings``) unless these are given.

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
    ...     print(region.onset_seconds, region.offset_seconds, region.label)
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
    starts_seconds, ends_seconds = plan.times(starts, stream.n_samples)
    frame_seconds = getattr(predictor.task, "frame_seconds", 0.0)
    if posteriors.ndim == 3:  # a frame model: the timeline is made of frames
        starts_seconds, ends_seconds, posteriors = stitch_frames(
            starts_seconds, posteriors, frame_seconds)
    class_names = list(predictor.class_names)
    inference = config.inference
    settings = {"segment_seconds": plan.segment_samples / plan.sample_rate,
                "segment_hop_seconds": plan.hop_samples / plan.sample_rate,
                "smoothing_segments": inference.smoothing_segments,
                "min_region_seconds": inference.min_region_seconds,
                "evaluation_step_seconds": inference.evaluation_step_seconds}
    if frame_seconds:
        settings["frame_seconds"] = frame_seconds
    regions, events = [], []
    smoothed = None
    if predictor.task.multi_label:
        detection = _event_settings(predictor.task, len(class_names), inference, overrides)
        events = detect_events(starts_seconds, ends_seconds, posteriors, class_names,
                               **detection, min_duration_seconds=inference.min_region_seconds)
        smoothed = median_filtered(starts_seconds, ends_seconds, posteriors,
                                   detection["median_filter_seconds"])
        settings.update(thresholds=detection["thresholds"].tolist(),
                        event_median_filter_seconds=detection["median_filter_seconds"].tolist(),
                        event_min_gap_seconds=detection["min_gap_seconds"].tolist(),
                        tuned_post_processing=bool(getattr(predictor.task, "tuned", False)))
    else:
        regions = make_regions(starts_seconds, ends_seconds, posteriors, class_names,
                               smoothing_segments=inference.smoothing_segments,
                               min_region_seconds=inference.min_region_seconds)
    logger.info("%s: %.1f s, %d %s, %d regions, %d events", path, duration_seconds,
                len(starts_seconds), "frames" if frame_seconds else "segments",
                len(regions), len(events))
    if smoothed is None:
        smoothed = moving_average(posteriors, inference.smoothing_segments)
    return RecordingSegmentation(Path(path), class_names, duration_seconds,
                                 starts_seconds, ends_seconds, posteriors, smoothed,
                                 regions, settings, events)


def _event_settings(task: Any, n_classes: int, inference: Any, overrides: dict[str, Any]
                    ) -> dict[str, np.ndarray]:
    """The task's event post-processing (tuned per class, or the ``inference``
    settings); a median filter or merge gap the caller names overrides it."""
    detection = task.event_settings(n_classes, inference)
    for key, names in (("median_filter_seconds", ("event_median_filter_seconds",
                                                  "frame_median_filter_seconds")),
                       ("min_gap_seconds", ("event_min_gap_seconds",))):
        for name in names:
            if overrides.get(name) is not None:
                detection[key] = np.full(n_classes, float(overrides[name]))
    return detection


def evaluate_segmentation(segmentation: RecordingSegmentation,
                          annotation: Sequence[Event | tuple[float, float, str]]
                          | str | os.PathLike, *, step_seconds: float | None = None
                          ) -> TimelineEvaluation:
    """Score the regions against an annotation at the centres of a fine time grid.

    Parameters
    ----------
    segmentation : RecordingSegmentation
    annotation : sequence of Event or of (onset_seconds, offset_seconds, label), or a file
        Reference regions (a file is read by
        :func:`~deep_audio.events.annotations.read_annotation`); labels must be class
        names of the model. Unannotated time is not scored; where regions overlap, the
        later one wins.
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
    annotation = as_events(annotation, source)
    if step_seconds is None:
        step_seconds = segmentation.settings["evaluation_step_seconds"]
    if step_seconds <= 0:
        raise DeepAudioError(f"step_seconds={step_seconds} must be > 0")
    names = segmentation.class_names
    unknown = sorted({span.label for span in annotation} - set(names))
    if unknown:
        raise DeepAudioError(f"{source} has label(s) {unknown} that are not classes of the "
                             f"model; its classes are {names}")
    times = (np.arange(math.ceil(segmentation.duration_seconds / step_seconds)) + 0.5
             ) * step_seconds
    times = times[times < segmentation.duration_seconds]
    truth = label_indices(annotation, times, names)
    predicted = label_indices(segmentation.regions, times, names)
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
    ``.csv``: the regions (``start_seconds,end_seconds,label,confidence``, which
    :func:`~deep_audio.events.annotations.read_annotation` reads back) to ``path`` and
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
    write_annotation(path, segmentation.regions, format="csv", with_confidence=True)
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


def stitch_frames(segment_starts_seconds: np.ndarray, frame_posteriors: np.ndarray,
                  frame_seconds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One timeline of frames from the frames of consecutive segments.

    Frame ``j`` of a segment starting at ``s`` is ``[s + j * frame_seconds, s + (j + 1)
    * frame_seconds)``. Segments are taken in order; a frame is kept when its centre
    lies at or after the end of the last kept frame, so overlapping segments (hop
    shorter than the segment) give each stretch of time once, from the earlier segment.
    With hop = segment length and a segment length that is a multiple of
    ``frame_seconds`` the frames of consecutive segments just concatenate and tile the
    recording exactly (the end-aligned last segment contributes only its new frames).

    Parameters
    ----------
    segment_starts_seconds : np.ndarray, shape (n_segments,)
    frame_posteriors : np.ndarray, shape (n_segments, n_frames, n_classes)
    frame_seconds : float

    Returns
    -------
    starts_seconds, ends_seconds : np.ndarray, shape (n_kept,)
    posteriors : np.ndarray, shape (n_kept, n_classes)

    >>> starts, ends, p = stitch_frames(np.array([0.0, 0.5, 0.8]),
    ...                                 np.arange(12.0).reshape(3, 4, 1), 0.25)
    >>> starts.tolist(), p[:, 0].tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.55], [0.0, 1.0, 2.0, 3.0, 6.0, 7.0, 11.0])
    """
    if frame_seconds <= 0:
        raise DeepAudioError("frame posteriors need the task's frame_seconds (> 0); "
                             f"got {frame_seconds}")
    n_segments, n_frames, _ = frame_posteriors.shape
    frame_starts = (np.asarray(segment_starts_seconds, dtype=np.float64)[:, None]
                    + np.arange(n_frames) * frame_seconds)
    keep = np.zeros(frame_starts.shape, dtype=bool)
    covered_until = -np.inf
    for segment in range(n_segments):
        keep[segment] = frame_starts[segment] + frame_seconds / 2 >= covered_until - 1e-9
        if keep[segment].any():
            covered_until = frame_starts[segment][keep[segment]][-1] + frame_seconds
    starts = frame_starts[keep]
    return starts, starts + frame_seconds, frame_posteriors[keep]


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
