"""What a classifier is asked to do: the task owns every rule that differs between one
label per segment and several.

=====================  ==================================  ===================================
                       :class:`SingleLabel`                 :class:`MultiLabel` (tagging, SED)
=====================  ==================================  ===================================
outputs                softmax over the classes             one sigmoid per class
loss                   cross-entropy (class-weighted:       binary cross-entropy (weighted:
                       inverse frequency)                   negatives / positives per class)
targets                a class index per clip               a 0/1 vector per clip
decision               the most probable class              every class at or above its
                                                            threshold (stored in the task)
file posterior         mean over the file's segments        maximum over the segments
model selection        validation macro-F1                  validation mAP
a timeline becomes     regions (one label at a time)        events per class
=====================  ==================================  ===================================

A task is plain data (:meth:`Task.to_dict`), stored in every model file, so a loaded model
decides exactly as it did after training. :class:`FrameDetection` is multi-label per
frame (logits ``(batch, frames, n_classes)``): docs/frame_detection.md.

>>> task = MultiLabel(thresholds=(0.3, 0.6))
>>> task.decide(np.array([[0.4, 0.5]])).tolist()
[[True, False]]
>>> task_from_dict(task.to_dict()) == task
True
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from deep_audio.errors import ConfigError
from deep_audio.metrics import confusion_matrix, multilabel_scores, scores

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Task:
    """The rules of one kind of task; subclasses fill them in (see the module table)."""

    name: ClassVar[str] = ""
    metric: ClassVar[str] = ""  # the validation metric that picks the best epoch

    @property
    def multi_label(self) -> bool:
        return False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **dataclasses.asdict(self)}

    def loss(self, weights=None):
        """The training loss on logits, an ``nn.Module``."""
        raise NotImplementedError

    def loss_weights(self, targets: np.ndarray, n_classes: int) -> np.ndarray:
        """Per-class loss weights from the training targets, ``(n_classes,)``."""
        raise NotImplementedError

    def activation(self, logits):
        """Posteriors from logits (a torch tensor), along the last axis."""
        raise NotImplementedError

    def activation_numpy(self, logits: np.ndarray) -> np.ndarray:
        """:meth:`activation` in numpy (torch-free inference, e.g. ONNX)."""
        raise NotImplementedError

    def targets(self, labels: Sequence[Sequence[str]], class_names: Sequence[str]) -> list:
        """Each clip's training target from its labels."""
        raise NotImplementedError

    def decide(self, posteriors: np.ndarray) -> np.ndarray:
        """Decisions from posteriors ``(..., n_classes)``: class indices ``(...)``
        (single-label) or a 0/1 matrix of the same shape (multi-label)."""
        raise NotImplementedError

    def file_posteriors(self, segment_posteriors: np.ndarray) -> np.ndarray:
        """One file's posteriors ``(n_classes,)`` from its segments' ``(n, n_classes)``."""
        raise NotImplementedError

    def segment_rows(self, segment_posteriors: np.ndarray) -> np.ndarray:
        """One row ``(n_classes,)`` per segment from the model's segment outputs (as
        they are, except for a frame model's)."""
        return np.asarray(segment_posteriors)

    def validation_metrics(self, targets: np.ndarray, posteriors: np.ndarray
                           ) -> dict[str, Any]:
        """Scores of posteriors against targets; ``self.metric`` is among the keys."""
        raise NotImplementedError

    def with_thresholds(self, thresholds: Sequence[float] | None) -> Task:
        """The task with decision thresholds learned on validation data (if it has any)."""
        return self


@dataclass(frozen=True)
class SingleLabel(Task):
    """One class per segment: softmax, cross-entropy, the most probable class."""

    name: ClassVar[str] = "single_label"
    metric: ClassVar[str] = "macro_f1"

    def loss(self, weights=None):
        from torch import nn

        return nn.CrossEntropyLoss(weight=weights)

    def loss_weights(self, targets: np.ndarray, n_classes: int) -> np.ndarray:
        """Inverse frequency, ``n / (n_classes * count)`` (0 for an absent class)."""
        counts = np.bincount(np.asarray(targets, dtype=np.int64), minlength=n_classes)
        return np.divide(len(targets), n_classes * counts.astype(np.float64),
                         out=np.zeros(n_classes), where=counts > 0)

    def activation(self, logits):
        return logits.softmax(dim=-1)

    def activation_numpy(self, logits):
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)

    def targets(self, labels, class_names):
        index = {name: i for i, name in enumerate(class_names)}
        return [index[clip_labels[0]] for clip_labels in labels]

    def decide(self, posteriors):
        return np.asarray(posteriors).argmax(axis=-1)

    def file_posteriors(self, segment_posteriors):
        return np.asarray(segment_posteriors).mean(axis=0)

    def validation_metrics(self, targets, posteriors):
        """Accuracy, macro-F1 and the confusion matrix (rows: true class)."""
        confusion = confusion_matrix(targets, self.decide(posteriors), posteriors.shape[1])
        result = scores(confusion)
        return {"accuracy": result["accuracy"], "macro_f1": result["macro_f1"],
                "confusion": confusion}


@dataclass(frozen=True)
class MultiLabel(Task):
    """Several classes at once: sigmoids, binary cross-entropy, per-class thresholds.

    ``thresholds`` (one per class, chosen on validation data to maximise each class's
    F1) are empty until training sets them; an empty tuple means 0.5 for every class.
    """

    thresholds: tuple[float, ...] = ()
    name: ClassVar[str] = "multi_label"
    metric: ClassVar[str] = "map"

    def __post_init__(self):
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))

    @property
    def multi_label(self) -> bool:
        return True

    def loss(self, weights=None):
        from torch import nn

        return nn.BCEWithLogitsLoss(pos_weight=weights)

    def loss_weights(self, targets, n_classes):
        """Each class's positives weighted by negatives / positives (1 without positives)."""
        targets = np.asarray(targets, dtype=np.float64).reshape(-1, n_classes)
        positives = targets.sum(axis=0)
        return np.divide(len(targets) - positives, positives, out=np.ones(n_classes),
                         where=positives > 0)

    def activation(self, logits):
        return logits.sigmoid()

    def activation_numpy(self, logits):
        return 0.5 * (1.0 + np.tanh(0.5 * logits))  # no overflow for large |logits|

    def targets(self, labels, class_names):
        index = {name: i for i, name in enumerate(class_names)}
        rows = np.zeros((len(labels), len(class_names)), dtype=np.float32)
        for row, clip_labels in enumerate(labels):
            rows[row, [index[label] for label in clip_labels]] = 1.0
        return list(rows)

    def threshold_array(self, n_classes: int) -> np.ndarray:
        """``(n_classes,)``: the stored thresholds, or 0.5 for each class."""
        if not self.thresholds:
            return np.full(n_classes, DEFAULT_THRESHOLD)
        if len(self.thresholds) != n_classes:
            raise ConfigError(f"{len(self.thresholds)} thresholds for {n_classes} classes")
        return np.asarray(self.thresholds)

    def decide(self, posteriors):
        posteriors = np.asarray(posteriors)
        return posteriors >= self.threshold_array(posteriors.shape[-1])

    def file_posteriors(self, segment_posteriors):
        return np.asarray(segment_posteriors).max(axis=0)

    def validation_metrics(self, targets, posteriors):
        """mAP, per-class AP, the F1-maximising thresholds and macro-F1 at them."""
        result = multilabel_scores(np.asarray(targets), np.asarray(posteriors))
        return {"map": result["map"], "macro_f1": result["macro_f1"],
                "class_ap": result["class_ap"], "thresholds": result["thresholds"]}

    def with_thresholds(self, thresholds):
        return dataclasses.replace(self, thresholds=tuple(thresholds or ()))

    def event_settings(self, n_classes: int, inference: Any) -> dict[str, np.ndarray]:
        """What :func:`~deep_audio.events.detection.detect_events` takes, per class
        ``(n_classes,)``: ``thresholds``, ``median_filter_seconds`` and
        ``min_gap_seconds`` (from ``inference``, an ``InferenceConfig``)."""
        return {"thresholds": self.threshold_array(n_classes),
                "median_filter_seconds": np.full(n_classes,
                                                 inference.event_median_filter_seconds),
                "min_gap_seconds": np.full(n_classes, inference.event_min_gap_seconds)}


@dataclass(frozen=True)
class FrameDetection(MultiLabel):
    """Sound event detection: a sigmoid per class and *frame* (docs/frame_detection.md).

    The model gives logits ``(batch, frames, n_classes)``, each frame ``frame_seconds``
    long (set from the backbone when the model is built). In training, logits and
    targets have one more row, the clip's (``(frames + 1, n_classes)`` per segment: the
    frame head's output, then its attention pooling): a clip with events (strong labels)
    has 0/1 frame rows and an unknown (NaN) clip row; a clip with labels only (weak) has
    unknown frame rows and its labels in the clip row, so a manifest mixing the two
    trains the frames from events and the attention pooling from labels.
    Loss (:func:`frame_loss_class`): binary cross-entropy over the known frame cells plus over
    the known clip cells. Model selection: mAP over the known frames (each frame a
    sample: segment-based at the frame resolution), or over clips when no frame is
    known. A file's posterior is the maximum over its frames; thresholds per class as
    :class:`MultiLabel`.

    Event post-processing tuned on validation data (empty until training tunes it,
    :func:`deep_audio.events.tuning.tune_post_processing`), one value per class:
    ``event_thresholds`` (on the median-filtered frame posteriors),
    ``median_filter_seconds`` and ``min_gap_seconds``. Empty: ``thresholds`` and the
    ``inference`` settings (``frame_median_filter_seconds``, ``event_min_gap_seconds``).
    """

    frame_seconds: float = 0.0
    event_thresholds: tuple[float, ...] = ()
    median_filter_seconds: tuple[float, ...] = ()
    min_gap_seconds: tuple[float, ...] = ()
    name: ClassVar[str] = "frame_detection"
    metric: ClassVar[str] = "map"

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "frame_seconds", float(self.frame_seconds))
        for key in ("event_thresholds", "median_filter_seconds", "min_gap_seconds"):
            object.__setattr__(self, key, tuple(float(v) for v in getattr(self, key)))

    def with_frame_seconds(self, frame_seconds: float) -> FrameDetection:
        return dataclasses.replace(self, frame_seconds=frame_seconds)

    def with_post_processing(self, *, event_thresholds: Sequence[float],
                             median_filter_seconds: Sequence[float],
                             min_gap_seconds: Sequence[float]) -> FrameDetection:
        """The task with per-class event post-processing tuned on validation data."""
        return dataclasses.replace(self, event_thresholds=tuple(event_thresholds),
                                   median_filter_seconds=tuple(median_filter_seconds),
                                   min_gap_seconds=tuple(min_gap_seconds))

    @property
    def tuned(self) -> bool:
        """Whether the event post-processing was tuned on validation data."""
        return bool(self.event_thresholds)

    def event_settings(self, n_classes, inference):
        """The tuned per-class settings when there are (see the class docstring), else
        the thresholds and ``inference.frame_median_filter_seconds``.

        >>> from deep_audio.config import load_config
        >>> inference = load_config(frame_median_filter_seconds=0.12).inference
        >>> FrameDetection().event_settings(2, inference)["median_filter_seconds"].tolist()
        [0.12, 0.12]
        >>> task = FrameDetection().with_post_processing(
        ...     event_thresholds=[0.3, 0.6], median_filter_seconds=[0.2, 0.4],
        ...     min_gap_seconds=[0.0, 0.1])
        >>> task_from_dict(task.to_dict()).event_settings(2, inference)["thresholds"].tolist()
        [0.3, 0.6]
        """
        if not self.tuned:
            return {**super().event_settings(n_classes, inference),
                    "median_filter_seconds": np.full(
                        n_classes, inference.frame_median_filter_seconds)}
        values = {"thresholds": self.event_thresholds,
                  "median_filter_seconds": self.median_filter_seconds,
                  "min_gap_seconds": self.min_gap_seconds}
        for key, value in values.items():
            if len(value) != n_classes:
                raise ConfigError(f"{len(value)} tuned {key} for {n_classes} classes")
        return {key: np.asarray(value, dtype=np.float64) for key, value in values.items()}

    def file_posteriors(self, segment_posteriors):
        """``(n_segments, frames, n_classes)`` (or frames already flattened) ->
        ``(n_classes,)``: the maximum over every frame."""
        posteriors = np.asarray(segment_posteriors)
        return posteriors.reshape(-1, posteriors.shape[-1]).max(axis=0)

    def loss(self, weights=None):
        return frame_loss_class()(weights)

    def loss_weights(self, targets, n_classes):
        """:meth:`MultiLabel.loss_weights` over the known frame cells of ``(n, frames + 1,
        n_classes)`` training targets."""
        frames = np.asarray(targets, dtype=np.float64)[:, :-1].reshape(-1, n_classes)
        known = ~np.isnan(frames)
        positives = np.where(known, frames, 0.0).sum(axis=0)
        negatives = known.sum(axis=0) - positives
        return np.divide(negatives, positives, out=np.ones(n_classes), where=positives > 0)

    def segment_rows(self, segment_posteriors):
        """``(n_segments, frames, n_classes)`` -> ``(n_segments, n_classes)``: each
        segment's maximum over its frames (its frames: ``segment_recording``)."""
        posteriors = np.asarray(segment_posteriors)
        return posteriors.max(axis=1) if posteriors.ndim == 3 else posteriors

    def validation_metrics(self, targets, posteriors):
        """:meth:`MultiLabel.validation_metrics` with every known frame a sample, of
        training targets and posteriors ``(n, frames + 1, n_classes)``; over the clip
        rows when no frame is known (weak labels only)."""
        posteriors, targets = np.asarray(posteriors), np.asarray(targets)
        n_classes = posteriors.shape[-1]
        frames = targets[:, :-1].reshape(-1, n_classes)
        known = ~np.isnan(frames).any(axis=1)
        if known.any():
            return super().validation_metrics(
                frames[known], posteriors[:, :-1].reshape(-1, n_classes)[known])
        return super().validation_metrics(targets[:, -1], posteriors[:, -1])


@functools.cache
def frame_loss_class() -> type:
    """The frame task's loss, an ``nn.Module`` class built on first use (so that this
    module imports without torch)."""
    from torch import nn

    class FrameLoss(nn.Module):
        """Binary cross-entropy of training logits ``(batch, frames + 1, n_classes)``
        (frames, then the clip) against targets of that shape: the mean over the known
        (not NaN) frame cells plus the mean over the known clip cells; ``pos_weight``
        ``(n_classes,)`` weighs positives as in ``BCEWithLogitsLoss``."""

        def __init__(self, pos_weight=None):
            super().__init__()
            self.register_buffer("pos_weight", pos_weight)

        def forward(self, logits, targets):
            total = logits.new_zeros(())
            for rows in (slice(None, -1), slice(-1, None)):
                known = ~targets[:, rows].isnan()
                if known.any():
                    cells = nn.functional.binary_cross_entropy_with_logits(
                        logits[:, rows], targets[:, rows].nan_to_num(0.0),
                        pos_weight=self.pos_weight, reduction="none")
                    total = total + cells[known].mean()
            return total

    return FrameLoss


TASKS: dict[str, type[Task]] = {SingleLabel.name: SingleLabel, MultiLabel.name: MultiLabel,
                                FrameDetection.name: FrameDetection}


def make_task(name: str, *, several_labels: bool = False, strong_labels: bool = False
              ) -> Task:
    """The task of the ``training.task`` setting: one of :data:`TASK_NAMES`, or ``auto``
    (frame detection when some clip has ``strong_labels``, onsets and offsets; else
    multi-label when some clip has ``several_labels``; else single-label)."""
    if name == "auto":
        name = (FrameDetection.name if strong_labels
                else MultiLabel.name if several_labels else SingleLabel.name)
    if name not in TASKS:
        raise ConfigError(f"task={name!r} must be auto or one of {', '.join(TASKS)}")
    return TASKS[name]()


def task_from_dict(values: Mapping[str, Any]) -> Task:
    """The task stored by :meth:`Task.to_dict`."""
    values = dict(values)
    task_type = TASKS.get(values.pop("name", None))
    if task_type is None:
        raise ConfigError(f"unknown task {values!r}; known: {', '.join(TASKS)}")
    return task_type(**values)
