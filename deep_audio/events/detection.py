"""A timeline of posteriors becomes labelled spans: regions (single-label) or events
(multi-label). Pure functions of numpy arrays; every setting is an argument.

Both start from segments (or frames) of one recording, in time order, that may overlap,
and share one ownership rule (:func:`owned_bounds`): each segment stands for the time from
halfway after its predecessor's centre to halfway before its successor's (the first from
its start, the last to its end). A span's confidence is the time-weighted mean of its
class's posterior over the segments it covers.

- :func:`make_regions` (single-label: one class at a time, contiguous): posteriors
  smoothed by a moving average over ``smoothing_segments``, each segment labelled with
  its argmax, runs of one label merged into a region, regions shorter than
  ``min_region_seconds`` joined to their longer neighbour.
- :func:`detect_events` (multi-label: classes independent, may overlap): each class's
  posteriors median-filtered over ``median_filter_seconds``, thresholded at the class's
  threshold, runs of active segments made events, events of a class closer than
  ``min_gap_seconds`` merged, events shorter than ``min_duration_seconds`` dropped.

>>> starts = np.arange(6.0)
>>> p = np.array([[0.1], [0.9], [0.8], [0.2], [0.7], [0.1]])
>>> [(e.onset_seconds, e.offset_seconds, e.label)
...  for e in detect_events(starts, starts + 1, p, ["dog"], thresholds=0.5)]
[(1.0, 3.0, 'dog'), (4.0, 5.0, 'dog')]
>>> [(e.onset_seconds, e.offset_seconds) for e in detect_events(
...     starts, starts + 1, p, ["dog"], thresholds=0.5, min_gap_seconds=1.5)]
[(1.0, 5.0)]
>>> [(r.onset_seconds, r.offset_seconds, r.label) for r in make_regions(
...     starts, starts + 1, np.hstack([p, 1 - p]), ["dog", "quiet"], min_region_seconds=1.5)]
[(0.0, 6.0, 'dog')]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deep_audio.errors import DeepAudioError
from deep_audio.events.spans import Event


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


def moving_average(posteriors: np.ndarray, width: int) -> np.ndarray:
    """Mean over a window of ``width`` rows around each row (fewer at the edges).

    ``posteriors`` is ``(n_segments, n_classes)``; ``width <= 1`` returns a copy.

    >>> moving_average(np.array([[1.0], [0.0], [1.0], [0.0]]), 3)[:, 0].round(3).tolist()
    [0.5, 0.667, 0.333, 0.5]
    """
    values = np.asarray(posteriors, dtype=np.float64)
    if width <= 1 or len(values) < 2:
        return values.copy()
    padded = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    index = np.arange(len(values))
    low = np.maximum(index - (width - 1) // 2, 0)
    high = np.minimum(index + width // 2 + 1, len(values))
    return (padded[high] - padded[low]) / (high - low)[:, None]


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


def median_filtered(starts_seconds: np.ndarray, ends_seconds: np.ndarray,
                    posteriors: np.ndarray,
                    median_filter_seconds: float | Sequence[float]) -> np.ndarray:
    """Each class's posteriors median-filtered over ``median_filter_seconds`` (one value
    or one per class), as :func:`detect_events` filters them before thresholding.

    Lengths become an odd number of segments using the median hop between segment
    centres (anything under 1.5 hops: no filtering). Shapes as :func:`detect_events`;
    returns ``(n_segments, n_classes)`` float64.

    >>> starts = np.arange(5) * 0.1
    >>> p = np.array([[0.0], [1.0], [0.0], [1.0], [1.0]])
    >>> median_filtered(starts, starts + 0.1, p, 0.3)[:, 0].tolist()
    [0.0, 0.0, 1.0, 1.0, 1.0]
    """
    _, posteriors = _timeline(starts_seconds, ends_seconds, posteriors,
                              range(np.shape(posteriors)[-1]))
    n_segments, n_classes = posteriors.shape
    filter_seconds = _per_class(median_filter_seconds, n_classes, "median_filter_seconds")
    centres = (np.asarray(starts_seconds, float) + np.asarray(ends_seconds, float)) / 2
    hop_seconds = float(np.median(np.diff(centres))) if n_segments > 1 else math.inf
    filter_segments = [_odd_segments(seconds, hop_seconds) for seconds in filter_seconds]
    return median_filter_posteriors(posteriors, filter_segments)


def make_regions(starts_seconds: np.ndarray, ends_seconds: np.ndarray,
                 posteriors: np.ndarray, class_names: Sequence[str], *,
                 smoothing_segments: int = 1, min_region_seconds: float = 0.0
                 ) -> list[Event]:
    """Label a single-label timeline: contiguous regions of the most probable class.

    Parameters
    ----------
    starts_seconds, ends_seconds : np.ndarray, shape (n_segments,)
        Where each segment lies, in time order; segments may overlap.
    posteriors : np.ndarray, shape (n_segments, n_classes)
        Class posteriors (softmax outputs), as the model gives them.
    class_names : sequence of str, length n_classes
    smoothing_segments : int
        Moving average over this many segments before the argmax (1: none).
    min_region_seconds : float
        Regions shorter than this join their longer neighbour (repeatedly, shortest
        first), unless one region is left.

    Returns
    -------
    list of Event (``Region``)
        Contiguous, covering the first segment's start to the last one's end; confidence
        is the time-weighted mean smoothed posterior of the region's class.

    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    >>> [(r.onset_seconds, r.offset_seconds, r.label)
    ...  for r in make_regions(np.array([0., 1, 2]), np.array([2., 3, 4]), p, ["a", "b"])]
    [(0.0, 2.5, 'a'), (2.5, 4.0, 'b')]
    """
    bounds, posteriors = _timeline(starts_seconds, ends_seconds, posteriors, class_names)
    if len(posteriors) == 0:
        return []
    smoothed = moving_average(posteriors, smoothing_segments)
    labels = smoothed.argmax(axis=1)
    runs = _runs(labels)
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
    return [_span(bounds, smoothed[:, label], first, stop, class_names[label])
            for first, stop, label in runs]


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
    bounds, posteriors = _timeline(starts_seconds, ends_seconds, posteriors, class_names)
    n_segments, n_classes = posteriors.shape
    thresholds = _per_class(thresholds, n_classes, "thresholds")
    filter_seconds = _per_class(median_filter_seconds, n_classes, "median_filter_seconds")
    min_duration = _per_class(min_duration_seconds, n_classes, "min_duration_seconds")
    min_gap = _per_class(min_gap_seconds, n_classes, "min_gap_seconds")
    if n_segments == 0:
        return []
    filtered = median_filtered(starts_seconds, ends_seconds, posteriors, filter_seconds)

    events = []
    for index, name in enumerate(class_names):
        active = filtered[:, index] >= thresholds[index]
        merged: list[list[int]] = []  # [first, stop) segment indices
        for first, stop, is_active in _runs(active):
            if not is_active:
                continue
            if merged and bounds[first] - bounds[merged[-1][1]] < min_gap[index]:
                merged[-1][1] = stop
            else:
                merged.append([first, stop])
        events += [_span(bounds, posteriors[:, index], first, stop, str(name))
                   for first, stop in merged
                   if bounds[stop] - bounds[first] >= min_duration[index]]
    return sorted(events, key=lambda e: (e.onset_seconds, e.label))


def _timeline(starts_seconds, ends_seconds, posteriors, class_names
              ) -> tuple[np.ndarray, np.ndarray]:
    """The segments' owned bounds and the posteriors as float64, shapes checked."""
    posteriors = np.asarray(posteriors, dtype=np.float64)
    bounds = owned_bounds(starts_seconds, ends_seconds)
    n_segments = len(bounds) - 1
    if posteriors.ndim != 2 or posteriors.shape[0] != n_segments:
        raise DeepAudioError(f"posteriors {posteriors.shape} must be (n_segments="
                             f"{n_segments}, n_classes)")
    if len(class_names) != posteriors.shape[1]:
        raise DeepAudioError(f"{len(class_names)} class names for {posteriors.shape[1]} "
                             "posterior columns")
    return bounds, posteriors


def _span(bounds: np.ndarray, posterior: np.ndarray, first: int, stop: int, label: str
          ) -> Event:
    """The span of segments ``[first, stop)``, its confidence the time-weighted mean of
    ``posterior`` (n_segments,) over them."""
    weights = np.diff(bounds[first:stop + 1])
    confidence = float(np.average(posterior[first:stop], weights=weights)
                       if weights.sum() > 0 else posterior[first:stop].mean())
    return Event(float(bounds[first]), float(bounds[stop]), label, confidence)


def _runs(values: np.ndarray) -> list[tuple[int, int, Any]]:
    """``(first, stop, value)`` of each run of equal values, ``[first, stop)``."""
    values = np.asarray(values)
    if len(values) == 0:
        return []
    changes = np.flatnonzero(values[1:] != values[:-1]) + 1
    edges = np.concatenate([[0], changes, [len(values)]])
    return [(int(a), int(b), values[a].item()) for a, b in zip(edges[:-1], edges[1:])]


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
