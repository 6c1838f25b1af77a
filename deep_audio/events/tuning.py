"""Event post-processing tuned on validation data: per class, the median-filter length,
the threshold and the gap under which events merge that give the best event-based F1
(the sed_eval definition: 0.2 s onset collar, offset collar max(0.2 s, 20 % of the
reference event)).

1. For each filter length of a grid, the filtered score curves go to sed_scores_eval's
   collar-based ``best_fscore``, which scans every threshold at once; each class keeps
   the filter length and threshold of its best F1, if it beats the F1 of the defaults
   (so a small validation set that every setting scores perfectly changes nothing).
2. At those, each class keeps the merge gap of a grid with the best sed_eval event F1
   (:func:`~deep_audio.events.scoring.evaluate_events`); the default gap wins a tie.

A class without reference events in the validation data cannot be tuned: it takes the
median of the tuned classes' thresholds, filters and gaps. (The defaults would leave it
at a threshold of 0.5, where a model trained with a few events per class often never
reaches: on the soundscape benchmark, whose validation fold lacks guitar and tom, such
classes were never detected; docs/frame_detection.md.) With no class to tune, every
class keeps the defaults. sed_scores_eval is imported when tuning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from deep_audio.errors import DeepAudioError
from deep_audio.events.detection import detect_events, median_filtered, owned_bounds
from deep_audio.events.scoring import SegmentScores, _merge_overlaps, evaluate_events
from deep_audio.events.spans import Event

MEDIAN_FILTER_GRID_SECONDS = (0.0, 0.12, 0.24, 0.48, 0.96)
MIN_GAP_GRID_SECONDS = (0.0, 0.1, 0.2, 0.5, 1.0)


@dataclass(frozen=True)
class PostProcessing:
    """Per-class event post-processing, each a tuple of ``n_classes`` values.

    ``class_f1`` is each class's validation event F1 at these settings (sed_eval).
    """

    thresholds: tuple[float, ...]
    median_filter_seconds: tuple[float, ...]
    min_gap_seconds: tuple[float, ...]
    class_f1: dict[str, float] = field(default_factory=dict)


def tune_post_processing(reference: Mapping[str, Sequence[Event]],
                         scores: Mapping[str, SegmentScores], *,
                         class_names: Sequence[str],
                         durations_seconds: Mapping[str, float],
                         default_thresholds: Sequence[float],
                         default_median_filter_seconds: float,
                         default_min_gap_seconds: float,
                         median_filter_grid_seconds: Sequence[float] = MEDIAN_FILTER_GRID_SECONDS,
                         min_gap_grid_seconds: Sequence[float] = MIN_GAP_GRID_SECONDS,
                         t_collar_seconds: float = 0.2, percentage_of_length: float = 0.2
                         ) -> PostProcessing:
    """Choose each class's median filter, threshold and merge gap on validation data.

    Parameters
    ----------
    reference : mapping of recording name to list of Event
        The validation recordings' events (an empty list for one without events).
    scores : mapping of recording name to SegmentScores
        Their posteriors over time (frames), unfiltered; same names as ``reference``.
    class_names : sequence of str, length n_classes
    durations_seconds : mapping of recording name to float
    default_thresholds : sequence of n_classes floats
    default_median_filter_seconds, default_min_gap_seconds : float
        Kept by a class that no setting of the grid scores better (see the module
        doc); every class keeps them when no class has validation events.
    median_filter_grid_seconds, min_gap_grid_seconds : sequence of float
        The values tried.
    t_collar_seconds, percentage_of_length : float
        Event-based onset collar and offset collar share (DCASE: 0.2, 0.2).

    Returns
    -------
    PostProcessing
    """
    from sed_scores_eval import collar_based
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    if set(reference) != set(scores):
        raise DeepAudioError("tuning needs scores for exactly the reference recordings; "
                             f"{sorted(set(reference) ^ set(scores))} differ")
    names = [str(name) for name in class_names]
    n_classes = len(names)
    thresholds = np.asarray(default_thresholds, dtype=np.float64).copy()
    if thresholds.shape != (n_classes,):
        raise DeepAudioError(f"{thresholds.shape} default thresholds for {n_classes} classes")
    filters = np.full(n_classes, float(default_median_filter_seconds))
    gaps = np.full(n_classes, float(default_min_gap_seconds))
    present = sorted({e.label for events in reference.values() for e in events}
                     & set(names))
    keep = [names.index(c) for c in present]
    if not keep:
        return PostProcessing(tuple(thresholds), tuple(filters), tuple(gaps))
    truth = {name: _merge_overlaps(events) for name, events in reference.items()}
    collars = {"onset_collar": t_collar_seconds, "offset_collar": t_collar_seconds,
               "offset_collar_rate": percentage_of_length}

    def filtered_frames(seconds: float) -> dict:
        return {name: create_score_dataframe(
            np.ascontiguousarray(median_filtered(track.starts_seconds, track.ends_seconds,
                                                 track.posteriors, seconds)[:, keep]),
            owned_bounds(track.starts_seconds, track.ends_seconds), present)
            for name, track in scores.items()}

    # The defaults' F1 first: a class changes only for a strictly better one.
    default_f1 = collar_based.fscore(
        filtered_frames(float(default_median_filter_seconds)), truth,
        {label: thresholds[names.index(label)] for label in present}, **collars)[0]
    best = np.zeros(n_classes)
    for label in present:
        best[names.index(label)] = default_f1[label]
    for seconds in median_filter_grid_seconds:
        f1, _, _, threshold, _ = collar_based.best_fscore(filtered_frames(seconds), truth,
                                                          **collars)
        for label in present:
            index = names.index(label)
            if f1[label] > best[index] + 1e-9 and np.isfinite(threshold[label]):
                best[index] = f1[label]
                thresholds[index], filters[index] = threshold[label], seconds
    class_f1: dict[str, float] = {}
    best_gap_f1 = np.full(n_classes, -1.0)
    default_gap = float(default_min_gap_seconds)
    for gap in [default_gap, *(g for g in min_gap_grid_seconds if g != default_gap)]:
        estimated = {name: detect_events(track.starts_seconds, track.ends_seconds,
                                         track.posteriors, names, thresholds=thresholds,
                                         median_filter_seconds=filters, min_gap_seconds=gap)
                     for name, track in scores.items()}
        result = evaluate_events(reference, estimated, class_names=names,
                                 durations_seconds=durations_seconds,
                                 t_collar_seconds=t_collar_seconds,
                                 percentage_of_length=percentage_of_length)
        for label in present:
            index, value = names.index(label), result.event_class_f1[label]
            if value > best_gap_f1[index] + 1e-9:
                best_gap_f1[index], gaps[index] = value, gap
                class_f1[label] = float(value)
    absent = [index for index in range(n_classes) if index not in keep]
    for values in (thresholds, filters, gaps):
        values[absent] = np.median(values[keep])
    return PostProcessing(tuple(float(t) for t in thresholds), tuple(float(f) for f in filters),
                          tuple(float(g) for g in gaps), class_f1)
