"""Scoring detected events the field's way: sed_eval (segment- and event-based F1 and
error rate) and the threshold-independent PSDS of sed_scores_eval (DCASE 2021-2023
scenarios 1 and 2). The metrics are the packages'; this module only converts to their
inputs. sed_eval, dcase_util and sed_scores_eval are imported when scoring.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deep_audio.errors import DeepAudioError
from deep_audio.events.detection import owned_bounds
from deep_audio.events.spans import Event

# The PSDS scenarios of DCASE 2021-2023 task 4 (Ebbers et al. 2022, sed_scores_eval's
# README): 1 asks for precise localisation, 2 for detection with cross-triggers counted.
PSDS_SCENARIOS: dict[str, dict[str, Any]] = {
    "psds1": dict(dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None,
                  alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0),
    "psds2": dict(dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3,
                  alpha_ct=0.5, alpha_st=1.0, max_efpr=100.0),
}


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
    class_psds : dict of str to dict of str to float
        Per scenario, each class's own PSDS (sed_scores_eval's single-class PSD-ROC
        area; the scenario's PSDS is, roughly, their mean less their spread, so one class
        never found costs every class). Classes without reference events are absent.

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
    class_psds: dict[str, dict[str, float]] = field(default_factory=dict)
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
        lines.append(f"  {'class':<{width}}  segment F1  event F1"
                     + "".join(f"  {name.upper():>5}" for name in self.class_psds))
        for name in self.event_class_f1:
            psds = "".join(f"  {by_class[name]:5.3f}" if name in by_class else f"  {'-':>5}"
                           for by_class in self.class_psds.values())
            lines.append(f"  {name:<{width}}  {self.segment_class_f1[name]:10.3f}  "
                         f"{self.event_class_f1[name]:8.3f}{psds}")
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
        result.psds, result.class_psds = _psds(reference, scores, class_names=class_names,
                                               durations_seconds=durations,
                                               scenarios=psds_scenarios)
    return result


def psds_scores(reference: Mapping[str, Sequence[Event]],
                scores: Mapping[str, SegmentScores], *, class_names: Sequence[str],
                durations_seconds: Mapping[str, float],
                scenarios: Sequence[str] = ("psds1", "psds2")) -> dict[str, float]:
    """PSDS of posteriors against reference events, computed by sed_scores_eval.

    Each recording's segments become contiguous score intervals (:func:`owned_bounds`).
    Overlapping reference events of one class are merged first (sed_scores_eval refuses
    them). Classes without any reference event are left out of the average, with a
    warning, since their true-positive rate is undefined; with one class left there is
    no cross-trigger to count (PSDS2's cross-trigger term is dropped).

    Returns
    -------
    dict of scenario name to PSDS in [0, 1]
    """
    return _psds(reference, scores, class_names=class_names,
                 durations_seconds=durations_seconds, scenarios=scenarios)[0]


def _psds(reference: Mapping[str, Sequence[Event]], scores: Mapping[str, SegmentScores], *,
          class_names: Sequence[str], durations_seconds: Mapping[str, float],
          scenarios: Sequence[str]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """:func:`psds_scores`, and per scenario each class's own PSDS."""
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
    results, per_class = {}, {}
    for scenario in scenarios:
        if scenario not in PSDS_SCENARIOS:
            raise DeepAudioError(f"unknown PSDS scenario {scenario!r}; known: "
                                 f"{sorted(PSDS_SCENARIOS)}")
        settings = dict(PSDS_SCENARIOS[scenario])
        if len(keep) == 1:  # no other class to cross-trigger (sed_scores_eval fails)
            settings.update(cttc_threshold=None, alpha_ct=0.0)
        value, single_class = intersection_based.psds(
            scores=frames, ground_truth=truth,
            audio_durations={k: float(durations_seconds[k]) for k in frames},
            **settings)[:2]
        results[scenario] = float(value)
        per_class[scenario] = {str(name): float(single_class[name]) for name in kept_names}
    return results, per_class


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
