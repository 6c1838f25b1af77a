"""Several trained models as one predictor: their posteriors averaged.

Models trained with other seeds (or other settings) on the same classes err in different
places; the mean of their posteriors ranks and places events better than any one of them
(docs/frame_detection.md: three seeds of a frame detector, event F1 0.17 -> 0.27 on the
soundscape benchmark's long recordings). :class:`Ensemble` is a predictor (see
:mod:`deep_audio.predict.predictor`), so every classify path takes it: ``classify_files``,
``segment_recording``, ``evaluate_folders``, ``listen``; :func:`~deep_audio.predict.
classify.as_predictor` makes one of a list of models.

The members must agree on what a posterior is: class names, task kind, frame length,
sample rate, segment length and hop. Decisions use the members' thresholds averaged per
class; a frame detector's tuned median filters and merge gaps are their per-class
medians (only where every member was tuned; otherwise the first member's settings).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deep_audio.errors import DeepAudioError
from deep_audio.predict.predictor import Predictor
from deep_audio.tasks import FrameDetection, MultiLabel, Task

__all__ = ["Ensemble"]


class Ensemble:
    """The mean posterior of several predictors of the same classes.

    Parameters
    ----------
    members : sequence of predictors
        At least one; see the module docstring for what they must share.

    Attributes
    ----------
    class_names, plan, config, batch_size
        The first member's (``batch_size``: the smallest of the members').
    task : Task
        The first member's task kind with the members' thresholds combined.
    """

    def __init__(self, members: Sequence[Predictor]):
        members = list(members)
        if not members:
            raise DeepAudioError("an ensemble needs at least one model")
        first = members[0]
        for index, member in enumerate(members[1:], start=2):
            _check_compatible(first, member, index)
        self.members = members
        self.class_names: list[str] = list(first.class_names)
        self.plan = first.plan
        self.config = first.config
        self.batch_size = min(member.batch_size for member in members)
        self.task = combined_task([member.task for member in members],
                                  len(self.class_names))

    def posteriors(self, segments: np.ndarray) -> np.ndarray:
        """The members' posteriors of ``segments``, averaged (same shape as one's)."""
        return np.mean([member.posteriors(segments) for member in self.members],
                       axis=0).astype(np.float32)


def combined_task(tasks: Sequence[Task], n_classes: int) -> Task:
    """The first task with the thresholds of all averaged per class and, for frame
    detectors all tuned, the per-class medians of their filters and gaps."""
    first = tasks[0]
    if not isinstance(first, MultiLabel) or len(tasks) == 1:
        return first
    if all(task.thresholds for task in tasks):
        first = first.with_thresholds(
            np.mean([task.threshold_array(n_classes) for task in tasks], axis=0).tolist())
    if isinstance(first, FrameDetection) and all(task.tuned for task in tasks):
        first = first.with_post_processing(
            event_thresholds=np.mean([task.event_thresholds for task in tasks],
                                     axis=0).tolist(),
            median_filter_seconds=np.median(
                [task.median_filter_seconds for task in tasks], axis=0).tolist(),
            min_gap_seconds=np.median([task.min_gap_seconds for task in tasks],
                                      axis=0).tolist())
    return first


def _check_compatible(first: Predictor, other: Predictor, index: int) -> None:
    checks = {
        "class names": (list(first.class_names), list(other.class_names)),
        "task": (first.task.name, other.task.name),
        "frame length": (getattr(first.task, "frame_seconds", 0.0),
                         getattr(other.task, "frame_seconds", 0.0)),
        "sample rate": (first.plan.sample_rate, other.plan.sample_rate),
        "segment length": (first.plan.segment_samples, other.plan.segment_samples),
        "segment hop": (first.plan.hop_samples, other.plan.hop_samples),
    }
    for what, (a, b) in checks.items():
        if a != b:
            raise DeepAudioError(f"model {index} of the ensemble differs from the first in "
                                 f"its {what}: {b} against {a}")
