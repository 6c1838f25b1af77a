"""Sound events from multi-label posteriors, annotation files, and scoring the field's way.

A multi-label model gives every segment (or frame) of a recording one posterior per class,
independently (sigmoid outputs). :func:`detect_events` turns these into events:

1. each class's posterior track is median-filtered over ``median_filter_seconds``
   (rounded to an odd number of segments; one length for all classes or one per class);
2. a segment is *active* for a class when the filtered posterior reaches the class's
   threshold (``thresholds``: one for all classes or one per class, e.g. the ones stored
   in the model file);
3. each segment *owns* the time from halfway after its predecessor's centre to halfway
   before its successor's centre (the first from its start, the last to its end), as in
   :func:`deep_audio.predict.long_recordings.make_regions`; runs of active segments
   become events;
4. events of one class separated by less than ``min_gap_seconds`` merge, then events
   shorter than ``min_duration_seconds`` are dropped;
5. an event's confidence is the time-weighted mean of its class's unfiltered posterior.

Annotation files hold one event per line, ``onset<TAB>offset<TAB>label`` in seconds (the
DCASE format), optionally with a filename column first (``filename onset offset label``),
an optional header line naming the columns, and commas instead of tabs. :func:`read_events`
reports a malformed line by file and line number; :func:`write_events` writes TSV.

:func:`evaluate_events` scores detected events against reference events with **sed_eval**
(segment-based and event-based F1 and error rate) and, given posteriors, with the
threshold-independent **PSDS** of **sed_scores_eval** (the DCASE 2021-2023 scenarios 1
and 2). The metrics are the packages'; this module only converts to their inputs.

This module imports numpy and scipy only; sed_eval, dcase_util and sed_scores_eval are
imported when scoring.

>>> starts = np.arange(6.0)
>>> p = np.array([[0.1], [0.9], [0.8], [0.2], [0.7], [0.1]])
>>> [(e.onset_seconds, e.offset_seconds, e.label)
...  for e in detect_events(starts, starts + 1, p, ["dog"], thresholds=0.5)]
[(1.0, 3.0, 'dog'), (4.0, 5.0, 'dog')]
>>> [(e.onset_seconds, e.offset_seconds) for e in detect_events(
...     starts, starts + 1, p, ["dog"], thresholds=0.5, min_gap_seconds=1.5)]
[(1.0, 5.0)]
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from deep_audio.errors import DeepAudioError

logger = logging.getLogger(__name__)

# The PSDS scenarios of DCASE 2021-2023 task 4 (Ebbers et al. 2022, sed_scores_eval's
# README): 1 asks for precise localisation, 2 for detection with cross-triggers counted.
PSDS_SCENARIOS: dict[str, dict[str, Any]] = {
    "psds1": dict(dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None,
                  alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0),
    "psds2": dict(dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3,
                  alpha_ct=0.5, alpha_st=1.0, max_efpr=100.0),
}
_LABEL_COLUMNS = ("event_label", "label", "labels", "class", "event")
_FILENAME_COLUMNS = ("filename", "file", "path", "audio_id")
_ONSET_COLUMNS = ("onset", "start", "onset_seconds", "start_seconds")
_OFFSET_COLUMNS = ("offset", "end", "offset_seconds", "end_seconds")


class AnnotationError(DeepAudioError):
    """An annotation file is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class Event:
    """One sound event: where it lies (seconds), its class, and how sure the model is.

    ``confidence`` is in [0, 1] (1.0 for annotated events); ``filename`` is the recording
    an annotation line names, or ``None``.
    """

    onset_seconds: float
    offset_seconds: float
    label: str
    confidence: float = 1.0
    filename: str | None = None

    @property
    def duration_seconds(self) -> float:
        return self.offset_seconds - self.onset_seconds


@dataclass(frozen=True)
class SegmentScores:
    """Posteriors of one recording over time, the input of PSDS.

    Attributes
    ----------
    starts_seconds, ends_seconds : np.ndarray, shape (n_segments,)
        Where each segment lies, in time order (segments may overlap).
    posteriors : np.ndarray, shape (n_segments, n_classes)
        Independent per-class probabilities (sigmoid outputs), in [0, 1].
    """

    starts_seconds: np.ndarray
    ends_seconds: np.ndarray
    posteriors: np.ndarray


# --------------------------------------------------------------------------- detection


def owned_bounds(starts_seconds: np.ndarray, ends_seconds: np.ndarray) -> np.ndarray:
    """Boundaries ``(n_segments + 1,)`` of the time each segment stands for, in seconds.

    Segment ``i`` owns ``[bounds[i], bounds[i + 1])``: from halfway between its centre and
    its predecessor's to halfway to its successor's; the first from its start, the last
    to its end. Non-overlapping frames own exactly themselves.

    >>> owned_bounds(np.array([0.0, 0.5, 1.0]), np.array([1.0, 1.5, 2.0])).tolist()
    [0.0, 0.75, 1.25, 2.0]
    """
    starts = np.asarray(starts_seconds, dtype=np.float64)
    ends = np.asarray(ends_seconds, dtype=np.float64)
    if starts.shape != ends.shape or starts.ndim != 1:
        raise DeepAudioError(f"starts_seconds {starts.shape} and ends_seconds {ends.shape} "
                             "must be 1-d arrays of one length")
    if len(starts) == 0:
        return np.zeros(1)
    centres = (starts + ends) / 2
    if np.any(np.diff(centres) <= 0):
        raise DeepAudioError("segments must be in time order (centres strictly increasing)")
    return np.concatenate([[starts[0]], (centres[:-1] + centres[1:]) / 2, [ends[-1]]])


def median_filter_posteriors(posteriors: np.ndarray, filter_segments: Sequence[int] | int
                             ) -> np.ndarray:
    """Median-filter each class's posterior over time.

    Parameters
    ----------
    posteriors : np.ndarray, shape (n_segments, n_classes)
    filter_segments : int or sequence of int, one per class
        Filter length in segments (odd; 1 leaves the class unchanged). The ends are padded
        with the nearest value.

    >>> median_filter_posteriors(np.array([[0.0], [1.0], [0.0], [0.0]]), 3)[:, 0].tolist()
    [0.0, 0.0, 0.0, 0.0]
    """
    from scipy.ndimage import median_filter

    posteriors = np.asarray(posteriors, dtype=np.float64)
    n_classes = posteriors.shape[1]
    lengths = np.broadcast_to(np.asarray(filter_segments, dtype=int), (n_classes,))
    filtered = posteriors.copy()
    for index, length in enumerate(lengths):
        if length < 1:
            raise DeepAudioError(f"median filter length {length} segments must be >= 1")
        if length > 1:
            filtered[:, index] = median_filter(posteriors[:, index], size=int(length),
                                               mode="nearest")
    return filtered


def detect_events(starts_seconds: np.ndarray, ends_seconds: np.ndarray,
                  posteriors: np.ndarray, class_names: Sequence[str], *,
                  thresholds: float | Sequence[float] | np.ndarray = 0.5,
                  median_filter_seconds: float | Sequence[float] = 0.0,
                  min_duration_seconds: float | Sequence[float] = 0.0,
                  min_gap_seconds: float | Sequence[float] = 0.0) -> list[Event]:
    """Events of every class from multi-label posteriors (see the module doc for the steps).

    Parameters
    ----------
    starts_seconds, ends_seconds : np.ndarray, shape (n_segments,)
        Where each segment (or frame) lies, in time order; segments may overlap.
    posteriors : np.ndarray, shape (n_segments, n_classes)
        Independent per-class probabilities in [0, 1].
    class_names : sequence of str, length n_classes
    thresholds : float or array of shape (n_classes,)
        A segment is active for a class when its filtered posterior is >= the threshold.
    median_filter_seconds : float or sequence of n_classes floats
        Median filter length; converted to an odd number of segments using the median hop
        (0 or anything under 1.5 hops: no filtering).
    min_duration_seconds : float or sequence of n_classes floats
        Events shorter than this are dropped (after merging).
    min_gap_seconds : float or sequence of n_classes floats
        Events of one class closer than this merge into one.

    Returns
    -------
    list of Event
        Sorted by onset, then label; ``confidence`` is the time-weighted mean unfiltered
        posterior of the event's class.
    """
    posteriors = np.asarray(posteriors, dtype=np.float64)
    bounds = owned_bounds(starts_seconds, ends_seconds)
    n_segments = len(bounds) - 1
    if posteriors.ndim != 2 or posteriors.shape[0] != n_segments:
        raise DeepAudioError(f"posteriors {posteriors.shape} must be (n_segments="
                             f"{n_segments}, n_classes)")
    n_classes = posteriors.shape[1]
    if len(class_names) != n_classes:
        raise DeepAudioError(f"{len(class_names)} class names for {n_classes} "
                             "posterior columns")
    thresholds = _per_class(thresholds, n_classes, "thresholds")
    filter_seconds = _per_class(median_filter_seconds, n_classes, "median_filter_seconds")
    min_duration = _per_class(min_duration_seconds, n_classes, "min_duration_seconds")
    min_gap = _per_class(min_gap_seconds, n_classes, "min_gap_seconds")
    if n_segments == 0:
        return []
    centres = (np.asarray(starts_seconds, float) + np.asarray(ends_seconds, float)) / 2
    hop_seconds = float(np.median(np.diff(centres))) if n_segments > 1 else math.inf
    filter_segments = [_odd_segments(seconds, hop_seconds) for seconds in filter_seconds]
    filtered = median_filter_posteriors(posteriors, filter_segments)
    owned = np.diff(bounds)

    events = []
    for index, name in enumerate(class_names):
        active = filtered[:, index] >= thresholds[index]
        runs = _true_runs(active)  # [first, stop) segment indices
        merged: list[list[int]] = []
        for first, stop in runs:
            if merged and bounds[first] - bounds[merged[-1][1]] < min_gap[index]:
                merged[-1][1] = stop
            else:
                merged.append([first, stop])
        for first, stop in merged:
            onset, offset = float(bounds[first]), float(bounds[stop])
            if offset - onset < min_duration[index]:
                continue
            weights = owned[first:stop]
            confidence = float(np.average(posteriors[first:stop, index], weights=weights)
                               if weights.sum() > 0 else posteriors[first:stop, index].mean())
            events.append(Event(onset, offset, str(name), confidence))
    return sorted(events, key=lambda e: (e.onset_seconds, e.label))


def _per_class(value: Any, n_classes: int, name: str) -> np.ndarray:
    values = np.asarray(value, dtype=np.float64)
    if values.ndim == 0:
        values = np.full(n_classes, float(values))
    if values.shape != (n_classes,):
        raise DeepAudioError(f"{name} has shape {values.shape}; give one value or one per "
                             f"class ({n_classes})")
    if name != "thresholds" and np.any(values < 0):
        raise DeepAudioError(f"{name}={values.tolist()} must be >= 0")
    if not np.all(np.isfinite(values)):
        raise DeepAudioError(f"{name}={values.tolist()} must be finite")
    return values


def _odd_segments(seconds: float, hop_seconds: float) -> int:
    """Filter length in segments: ``seconds / hop`` rounded, then up to the next odd."""
    if seconds <= 0 or not math.isfinite(hop_seconds):
        return 1
    length = max(1, int(round(seconds / hop_seconds)))
    return length if length % 2 else length + 1


def _true_runs(active: np.ndarray) -> list[tuple[int, int]]:
    """``[first, stop)`` index pairs of the runs of True in a boolean vector."""
    padded = np.concatenate([[False], active, [False]]).astype(np.int8)
    changes = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(changes[0::2], changes[1::2])]


# --------------------------------------------------------------------- annotation files


def read_events(path: str | os.PathLike) -> list[Event]:
    """Events from an annotation file: ``[filename] onset offset label`` per line.

    Fields are separated by tabs (DCASE), commas, or else spaces (then the label is the
    rest of the line); onset and offset are seconds. An optional header line names the
    columns (``onset`` or ``start``, ``offset`` or ``end``, ``event_label`` or ``label``;
    optionally ``filename`` and ``confidence``) in any order. Without a header, 3 fields
    are ``onset offset label`` and 4 are ``filename onset offset label``.
    A line holding only a filename (or a filename with empty onset, offset and label)
    is a recording without events and is skipped. Blank lines and ``#`` comments are
    skipped.

    Raises
    ------
    AnnotationError
        The file cannot be read, or a line is malformed (the message names the file, the
        line number and the bad value).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise AnnotationError(f"cannot read annotation '{path}': "
                              f"{error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise AnnotationError(f"annotation '{path}' is not UTF-8 text") from error
    columns: dict[str, int] | None = None
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = _split(line)
        where = f"annotation '{path}' line {number}"
        if columns is None and not events and _is_header(fields):
            columns = _header_columns(fields, where)
            continue
        layout = columns or _layout(fields, where)
        if "filename" in layout and not any(
                fields[i] for name, i in layout.items() if name != "filename"
                and i < len(fields)):
            continue  # a recording without events
        if max(layout.values()) >= len(fields):
            raise AnnotationError(f"{where}: expected {len(layout)} fields "
                                  f"({', '.join(layout)}), found {len(fields)}: {line!r}")
        onset = _seconds(fields[layout["onset"]], "onset", where)
        offset = _seconds(fields[layout["offset"]], "offset", where)
        label = fields[layout["label"]]
        if not label:
            raise AnnotationError(f"{where}: empty label in {line!r}")
        if not 0 <= onset < offset:
            raise AnnotationError(f"{where}: onset={onset} and offset={offset} must satisfy "
                                  "0 <= onset < offset")
        confidence = 1.0
        if "confidence" in layout:
            confidence = _seconds(fields[layout["confidence"]], "confidence", where)
        filename = fields[layout["filename"]] if "filename" in layout else None
        events.append(Event(onset, offset, label, confidence, filename or None))
    return events


def write_events(path: str | os.PathLike, events: Iterable[Event], *,
                 header: bool = True, with_confidence: bool = False) -> Path:
    """Write events as TSV: ``[filename\\t]onset\\toffset\\tevent_label[\\tconfidence]``.

    The filename column is written when any event has a filename; times have millisecond
    precision. :func:`read_events` reads the file back.
    """
    path = Path(path)
    events = list(events)
    with_filename = any(e.filename is not None for e in events)
    names = (["filename"] if with_filename else []) + ["onset", "offset", "event_label"]
    names += ["confidence"] if with_confidence else []
    rows = []
    for e in events:
        row = ([e.filename or ""] if with_filename else []) + [
            f"{e.onset_seconds:.3f}", f"{e.offset_seconds:.3f}", e.label]
        rows.append(row + ([f"{e.confidence:.4f}"] if with_confidence else []))
    lines = (["\t".join(names)] if header else []) + ["\t".join(row) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _split(line: str) -> list[str]:
    """Fields of a line: tab- or comma-separated (CSV quoting), else whitespace-separated
    with the label last (it may hold spaces)."""
    if "\t" in line or "," in line:
        delimiter = "\t" if "\t" in line else ","
        return [f.strip() for f in next(csv.reader(io.StringIO(line), delimiter=delimiter))]
    fields = line.split()
    try:
        float(fields[0])
        return line.split(maxsplit=2)              # onset offset label
    except ValueError:
        return line.split(maxsplit=3)              # filename onset offset label, or a header


def _is_header(fields: list[str]) -> bool:
    return any(f.lower() in _ONSET_COLUMNS + _OFFSET_COLUMNS for f in fields)


def _header_columns(fields: list[str], where: str) -> dict[str, int]:
    lower = [f.lower() for f in fields]
    columns = {}
    for name, choices in (("filename", _FILENAME_COLUMNS), ("onset", _ONSET_COLUMNS),
                          ("offset", _OFFSET_COLUMNS), ("label", _LABEL_COLUMNS),
                          ("confidence", ("confidence", "score"))):
        found = [i for i, f in enumerate(lower) if f in choices]
        if found:
            columns[name] = found[0]
    missing = [name for name in ("onset", "offset", "label") if name not in columns]
    if missing:
        raise AnnotationError(f"{where}: header {fields} has no {' or '.join(missing)} "
                              f"column (label: one of {', '.join(_LABEL_COLUMNS)})")
    return columns


def _layout(fields: list[str], where: str) -> dict[str, int]:
    if len(fields) == 3:
        return {"onset": 0, "offset": 1, "label": 2}
    if len(fields) == 4:
        return {"filename": 0, "onset": 1, "offset": 2, "label": 3}
    if len(fields) == 1:
        return {"filename": 0, "onset": 1, "offset": 2, "label": 3}
    raise AnnotationError(f"{where}: expected 'onset offset label' or 'filename onset "
                          f"offset label', found {len(fields)} fields: {fields}")


def _seconds(text: str, name: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(f"{where}: {name} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise AnnotationError(f"{where}: {name} {text!r} is not finite")
    return value


# --------------------------------------------------------------------------- scoring


@dataclass
class DetectionScores:
    """sed_eval and PSDS scores of detected events (see :func:`evaluate_events`).

    Attributes
    ----------
    segment_f1, segment_error_rate : float
        sed_eval segment-based micro-averaged F1 and error rate, on
        ``settings["time_resolution_seconds"]`` segments.
    event_f1, event_error_rate : float
        sed_eval event-based micro-averaged F1 and error rate (onset collar
        ``t_collar_seconds``, offset collar ``max(t_collar_seconds,
        percentage_of_length * reference length)``).
    segment_class_f1, event_class_f1 : dict of str to float
        Class-wise F1.
    psds : dict of str to float
        PSDS of each scenario (``psds1``, ``psds2``) when posteriors were given.

    An F1 that sed_eval leaves undefined (nothing detected: precision 0/0) is 0 here when
    there are reference events, as no detection finds nothing.
    """

    segment_f1: float
    segment_error_rate: float
    event_f1: float
    event_error_rate: float
    segment_class_f1: dict[str, float]
    event_class_f1: dict[str, float]
    psds: dict[str, float] = field(default_factory=dict)
    n_reference_events: int = 0
    n_estimated_events: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def format(self) -> str:
        """The scores as a few lines of text."""
        s = self.settings
        lines = [
            f"sound event detection: {self.n_reference_events} reference and "
            f"{self.n_estimated_events} detected events",
            f"  segment-based ({s.get('time_resolution_seconds')} s): "
            f"F1 {self.segment_f1:.3f}  ER {self.segment_error_rate:.3f}",
            f"  event-based (collar {s.get('t_collar_seconds')} s, offset "
            f"{100 * s.get('percentage_of_length', 0):.0f} %): "
            f"F1 {self.event_f1:.3f}  ER {self.event_error_rate:.3f}",
        ]
        for name, value in self.psds.items():
            lines.append(f"  {name.upper()} (sed_scores_eval): {value:.3f}")
        width = max((len(c) for c in self.event_class_f1), default=5)
        lines.append(f"  {'class':<{width}}  segment F1  event F1")
        for name in self.event_class_f1:
            lines.append(f"  {name:<{width}}  {self.segment_class_f1[name]:10.3f}  "
                         f"{self.event_class_f1[name]:8.3f}")
        return "\n".join(lines)


def evaluate_events(reference: Mapping[str, Sequence[Event]] | Sequence[Event],
                    estimated: Mapping[str, Sequence[Event]] | Sequence[Event], *,
                    class_names: Sequence[str],
                    durations_seconds: Mapping[str, float] | float | None = None,
                    scores: Mapping[str, SegmentScores] | SegmentScores | None = None,
                    time_resolution_seconds: float = 1.0, t_collar_seconds: float = 0.2,
                    percentage_of_length: float = 0.2,
                    psds_scenarios: Sequence[str] = ("psds1", "psds2")) -> DetectionScores:
    """Score detected events against reference events with sed_eval, and PSDS.

    Parameters
    ----------
    reference, estimated : mapping of recording name to list of Event, or one list
        One list is one recording. Recordings missing from ``estimated`` have no
        detections; every estimated recording must be in ``reference`` (an empty list
        for a recording without events).
    class_names : sequence of str
        The classes scored; a reference or detected label outside them is an error.
    durations_seconds : mapping of recording name to float, or float, optional
        Length of each recording; segment-based scores and PSDS count false positives
        over it. Default: the end of the recording's scores, else its last offset.
    scores : mapping of recording name to SegmentScores, or one, optional
        Posteriors of every reference recording; given, PSDS is computed from them.
    time_resolution_seconds : float
        Segment length of the segment-based scores (DCASE: 1 s).
    t_collar_seconds, percentage_of_length : float
        Event-based onset collar (DCASE: 0.2 s) and offset collar as a share of the
        reference event's length (DCASE: 0.2).
    psds_scenarios : sequence of str
        Keys of :data:`PSDS_SCENARIOS` to compute.

    Returns
    -------
    DetectionScores
    """
    import dcase_util
    import sed_eval

    reference = _by_recording(reference, "reference")
    estimated = _by_recording(estimated, "estimated")
    if scores is not None and not isinstance(scores, Mapping):
        scores = {next(iter(reference)): scores}
    unknown = set(estimated) - set(reference)
    if unknown:
        raise DeepAudioError(f"estimated events for recordings without reference: "
                             f"{sorted(unknown)}")
    class_names = [str(name) for name in class_names]
    for kind, events in (("reference", reference), ("estimated", estimated)):
        labels = {e.label for evs in events.values() for e in evs} - set(class_names)
        if labels:
            raise DeepAudioError(f"{kind} labels {sorted(labels)} are not among the "
                                 f"classes {class_names}")
    durations = _durations(reference, estimated, scores, durations_seconds)

    segment = sed_eval.sound_event.SegmentBasedMetrics(
        event_label_list=class_names, time_resolution=time_resolution_seconds)
    event = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=class_names, t_collar=t_collar_seconds,
        percentage_of_length=percentage_of_length)

    def container(name: str, events: Sequence[Event]):
        return dcase_util.containers.MetaDataContainer([
            {"filename": name, "event_label": e.label, "onset": e.onset_seconds,
             "offset": e.offset_seconds} for e in events])

    for name, events in reference.items():
        ref, est = container(name, events), container(name, estimated.get(name, []))
        segment.evaluate(reference_event_list=ref, estimated_event_list=est,
                         evaluated_length_seconds=durations[name])
        event.evaluate(reference_event_list=ref, estimated_event_list=est)

    n_reference = sum(len(v) for v in reference.values())
    n_estimated = sum(len(v) for v in estimated.values())

    def f1(values: dict[str, float], n_ref: int) -> float:
        value = float(values["f_measure"])
        return 0.0 if math.isnan(value) and n_ref > 0 else value

    def class_refs(label: str) -> int:
        return sum(e.label == label for evs in reference.values() for e in evs)

    result = DetectionScores(
        segment_f1=f1(segment.overall_f_measure(), n_reference),
        segment_error_rate=float(segment.overall_error_rate()["error_rate"]),
        event_f1=f1(event.overall_f_measure(), n_reference),
        event_error_rate=float(event.overall_error_rate()["error_rate"]),
        segment_class_f1={c: f1(segment.class_wise_f_measure(c), class_refs(c))
                          for c in class_names},
        event_class_f1={c: f1(event.class_wise_f_measure(c), class_refs(c))
                        for c in class_names},
        n_reference_events=n_reference, n_estimated_events=n_estimated,
        settings={"time_resolution_seconds": time_resolution_seconds,
                  "t_collar_seconds": t_collar_seconds,
                  "percentage_of_length": percentage_of_length})
    if scores is not None:
        result.psds = psds_scores(reference, scores, class_names=class_names,
                                  durations_seconds=durations, scenarios=psds_scenarios)
    return result


def psds_scores(reference: Mapping[str, Sequence[Event]],
                scores: Mapping[str, SegmentScores], *, class_names: Sequence[str],
                durations_seconds: Mapping[str, float],
                scenarios: Sequence[str] = ("psds1", "psds2")) -> dict[str, float]:
    """PSDS of posteriors against reference events, computed by sed_scores_eval.

    Each recording's segments become contiguous score intervals (:func:`owned_bounds`).
    Overlapping reference events of one class are merged first (sed_scores_eval refuses
    them). Classes without any reference event are left out of the average, with a
    warning, since their true-positive rate is undefined.

    Returns
    -------
    dict of scenario name to PSDS in [0, 1]
    """
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    missing = set(reference) - set(scores)
    if missing:
        raise DeepAudioError(f"no scores for recordings {sorted(missing)}")
    present = sorted({e.label for evs in reference.values() for e in evs})
    absent = [c for c in class_names if c not in present]
    if absent:
        warnings.warn(f"PSDS leaves out classes without reference events: {absent}",
                      stacklevel=2)
    keep = [i for i, c in enumerate(class_names) if c in present]
    if not keep:
        raise DeepAudioError("PSDS needs at least one reference event")
    kept_names = [class_names[i] for i in keep]
    frames, truth = {}, {}
    for name in reference:
        track = scores[name]
        posteriors = np.asarray(track.posteriors, dtype=np.float64)
        bounds = owned_bounds(track.starts_seconds, track.ends_seconds)
        if posteriors.shape != (len(bounds) - 1, len(class_names)):
            raise DeepAudioError(f"scores of '{name}' have shape {posteriors.shape}, "
                                 f"expected ({len(bounds) - 1}, {len(class_names)})")
        frames[name] = create_score_dataframe(np.ascontiguousarray(posteriors[:, keep]),
                                              bounds, kept_names)
        truth[name] = _merge_overlaps(reference[name])
    results = {}
    for scenario in scenarios:
        if scenario not in PSDS_SCENARIOS:
            raise DeepAudioError(f"unknown PSDS scenario {scenario!r}; known: "
                                 f"{sorted(PSDS_SCENARIOS)}")
        value = intersection_based.psds(
            scores=frames, ground_truth=truth,
            audio_durations={k: float(durations_seconds[k]) for k in frames},
            **PSDS_SCENARIOS[scenario])[0]
        results[scenario] = float(value)
    return results


def _merge_overlaps(events: Sequence[Event]) -> list[tuple[float, float, str]]:
    """``(onset, offset, label)`` with touching or overlapping events of a class merged."""
    merged: list[list] = []
    for e in sorted(events, key=lambda e: (e.label, e.onset_seconds)):
        if merged and merged[-1][2] == e.label and e.onset_seconds <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e.offset_seconds)
        else:
            merged.append([e.onset_seconds, e.offset_seconds, e.label])
    return [tuple(m) for m in merged]


def _by_recording(events: Mapping[str, Sequence[Event]] | Sequence[Event], kind: str
                  ) -> dict[str, list[Event]]:
    if isinstance(events, Mapping):
        return {str(k): list(v) for k, v in events.items()}
    return {"recording": list(events)}


def _durations(reference: Mapping[str, list[Event]], estimated: Mapping[str, list[Event]],
               scores: Mapping[str, SegmentScores] | None,
               durations_seconds: Mapping[str, float] | float | None) -> dict[str, float]:
    durations = {}
    for name in reference:
        if isinstance(durations_seconds, Mapping) and name in durations_seconds:
            durations[name] = float(durations_seconds[name])
        elif durations_seconds is not None and not isinstance(durations_seconds, Mapping):
            durations[name] = float(durations_seconds)
        elif scores is not None and name in scores and len(scores[name].ends_seconds):
            durations[name] = float(np.max(scores[name].ends_seconds))
        else:
            ends = [e.offset_seconds for e in reference[name] + estimated.get(name, [])]
            durations[name] = max(ends, default=0.0)
    return durations


def events_by_filename(events: Iterable[Event]) -> dict[str, list[Event]]:
    """Group events read from a multi-recording annotation by their ``filename``."""
    grouped: dict[str, list[Event]] = {}
    for e in events:
        grouped.setdefault(e.filename or "", []).append(e)
    return grouped
