"""One predictor interface, one result shape, and classifying files with any predictor.

A *predictor* is anything with

- ``posteriors(segments)``: waveform segments ``(n, segment_samples)`` float32 at the
  plan's sample rate in, class posteriors ``(n, n_classes)`` out;
- ``task`` (:class:`~deep_audio.tasks.Task`: what the posteriors mean and how they
  become decisions), ``class_names`` (list of str), ``plan``
  (:class:`~deep_audio.data.plan.SegmentPlan`: sample rate, segment length and hop,
  minimum file length), ``batch_size`` (segments per call that fill the hardware) and
  ``config`` (the settings it was made with; long recordings take their smoothing and
  block settings from it).

The PyTorch model (:class:`deep_audio.predict.TorchPredictor`), the ONNX model
(:class:`deep_audio.predict.onnx.OnnxClassifier`) and a deep-feature classifier
(:class:`deep_audio.predict.deep_features.DeepFeatureClassifier`, except one trained
with hand-crafted file statistics, which describe whole files, not segments) are
predictors, so :func:`classify_files`, :func:`deep_audio.predict.segment_recording` and
:func:`deep_audio.predict.evaluate_folders` read, cut and classify a file the same way
whichever one is given. Every path returns a file's result as a :class:`FileResult`.

Nothing here imports torch: a PyTorch model file is loaded (and torch imported) only
when one is asked for.

>>> result = FileResult.from_segments(
...     "a.wav", ["cat", "dog"], np.array([0.0, 1.0]), np.array([2.0, 2.5]),
...     np.array([[0.2, 0.8], [0.6, 0.4]]))
>>> result.class_name, result.posteriors.round(3).tolist(), len(result.segments)
('dog', [0.4, 0.6], 2)
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Protocol,
    TypeVar,
    runtime_checkable,
)

import numpy as np

from deep_audio.data.plan import SegmentPlan
from deep_audio.errors import AudioError
from deep_audio.tasks import SingleLabel, Task

if TYPE_CHECKING:
    from deep_audio.config import Config

logger = logging.getLogger(__name__)
T = TypeVar("T")


@runtime_checkable
class Predictor(Protocol):
    """Class posteriors of waveform segments, and what they mean (see the module doc)."""

    task: Task
    class_names: list[str]
    plan: SegmentPlan
    batch_size: int
    config: Config

    def posteriors(self, segments: np.ndarray) -> np.ndarray:
        """``(n, plan.segment_samples)`` float32 -> ``(n, len(class_names))`` float32."""
        ...


@dataclass
class SegmentPrediction:
    """One segment: where it lies in the file (seconds) and its class posterior."""

    start_seconds: float
    end_seconds: float
    posteriors: np.ndarray  # (n_classes,)

    @property
    def class_index(self) -> int:
        return int(np.argmax(self.posteriors))


def _no_times() -> np.ndarray:
    return np.zeros(0)


@dataclass
class FileResult:
    """A file's decision, its posterior and every segment's place and posterior.

    The one result shape of every classifying path (PyTorch, ONNX, deep-feature and
    classic classifiers) and every command.

    Attributes
    ----------
    path : Path
    class_index : int
        The winning class, ``argmax(posteriors)``.
    class_name : str
    posteriors : np.ndarray, shape (n_classes,)
        The file's class probabilities (for segment classifiers, the mean of
        ``segment_posteriors`` over segments; multi-label, the maximum: a sound heard
        in one segment is in the file).
    starts_seconds, ends_seconds : np.ndarray, shape (n_segments,)
        Where each segment lies in the file; empty for a classifier of whole files.
    segment_posteriors : np.ndarray, shape (n_segments, n_classes)
        A frame model's: each segment's maximum over its frames.
    labels : list of str, or None
        Multi-label: the classes whose file posterior reaches the model's threshold
        (the file's tags, possibly none); ``None`` for a single-label model.
    """

    path: Path
    class_index: int
    class_name: str
    posteriors: np.ndarray
    starts_seconds: np.ndarray = field(default_factory=_no_times)
    ends_seconds: np.ndarray = field(default_factory=_no_times)
    segment_posteriors: np.ndarray | None = None
    labels: list[str] | None = None

    def __post_init__(self):
        if self.segment_posteriors is None:
            self.segment_posteriors = np.zeros((0, len(self.posteriors)))

    @classmethod
    def from_segments(cls, path: str | os.PathLike, class_names: Sequence[str],
                      starts_seconds: np.ndarray, ends_seconds: np.ndarray,
                      segment_posteriors: np.ndarray, *, task: Task = SingleLabel()
                      ) -> FileResult:
        """The result of a file from its segments', pooled by the ``task`` (the mean;
        multi-label: the maximum, tagged with the classes it decides on). A frame
        model's segment rows are each segment's maximum over its frames."""
        segment_posteriors = task.segment_rows(segment_posteriors)
        posteriors = task.file_posteriors(segment_posteriors)
        labels = None
        if task.multi_label:
            labels = [name for name, on in zip(class_names, task.decide(posteriors)) if on]
        return cls.from_posteriors(path, class_names, posteriors,
                                   starts_seconds=starts_seconds, ends_seconds=ends_seconds,
                                   segment_posteriors=segment_posteriors, labels=labels)

    @classmethod
    def from_posteriors(cls, path: str | os.PathLike, class_names: Sequence[str],
                        posteriors: np.ndarray, **segments: Any) -> FileResult:
        """The result of a file with this posterior; ``segments`` as the attributes."""
        winner = int(np.argmax(posteriors))
        return cls(Path(path), winner, class_names[winner], posteriors, **segments)

    @property
    def segments(self) -> list[SegmentPrediction]:
        """Each segment as an object (start and end in seconds, posterior)."""
        return [SegmentPrediction(float(start), float(end), row) for start, end, row
                in zip(self.starts_seconds, self.ends_seconds, self.segment_posteriors)]


# The name the README and earlier releases use.
FilePrediction = FileResult


def predict_files(paths: Iterable[str | os.PathLike], predictor: Predictor, *,
                  batch_size: int | None = None, skip_unreadable: bool = False,
                  skipped: list[tuple[Path, str]] | None = None) -> Iterator[FileResult]:
    """Run ``predictor`` over many files, sharing ``posteriors`` calls between them;
    yields a :class:`FileResult` per file, in input order.

    Every file is read and cut by the predictor's plan; its posterior is pooled from its
    segments' by the predictor's task. Files are read until at least ``batch_size``
    segments are waiting, so memory holds one batch plus the files in flight. With
    ``skip_unreadable`` a file that cannot be used is logged and skipped (appended with
    its reason to ``skipped`` when given); otherwise its :class:`AudioError` is raised.
    """
    plan = predictor.plan
    for group in segmented_files(paths, plan, batch_size=batch_size or predictor.batch_size,
                                 skip_unreadable=skip_unreadable, skipped=skipped):
        rows = predictor.posteriors(stack_segments(group, plan))
        for file, file_rows in zip(group, split_rows(rows, group)):
            yield FileResult.from_segments(file.path, predictor.class_names,
                                           *plan.times(file.starts, len(file.samples)),
                                           file_rows, task=predictor.task)


@dataclass
class SegmentedFile:
    """A decoded file and where its segments start.

    Attributes
    ----------
    path : Path
    samples : np.ndarray, float32, shape (samples,)
        Mono, at the plan's sample rate.
    starts : np.ndarray of int64, shape (n_segments,)
        First sample of each segment (see :meth:`SegmentPlan.starts`).
    """

    path: Path
    samples: np.ndarray
    starts: np.ndarray


def segmented_files(paths: Iterable[str | os.PathLike], plan: SegmentPlan, *,
                    batch_size: int, skip_unreadable: bool = False,
                    skipped: list[tuple[Path, str]] | None = None
                    ) -> Iterator[list[SegmentedFile]]:
    """Decode files with ``plan`` and find their segments, in groups of files.

    Files are read until at least ``batch_size`` segments are waiting; groups keep the
    input order. With ``skip_unreadable`` a file that cannot be used is logged, skipped
    and, with its reason, appended to ``skipped`` when that list is given; otherwise its
    :class:`AudioError` is raised.
    """
    group: list[SegmentedFile] = []
    waiting = 0
    for path, decoding in read_ahead((Path(p) for p in paths), plan.read):
        try:
            samples = decoding.result()
        except AudioError as error:
            if not skip_unreadable:
                raise
            logger.warning("skipping: %s", error)
            if skipped is not None:
                skipped.append((path, str(error)))
            continue
        starts = plan.starts(len(samples))
        group.append(SegmentedFile(path, samples, starts))
        waiting += len(starts)
        if waiting >= batch_size:
            yield group
            group, waiting = [], 0
    if group:
        yield group


def read_ahead(paths: Iterable[Path], read: Callable[[Path], T], *, workers: int = 2,
               ahead: int = 8) -> Iterator[tuple[Path, Future[T]]]:
    """``(path, future of read(path))`` in input order, up to ``ahead`` files read early.

    Decoding in threads (libsndfile and soxr release the GIL) overlaps it with the
    forward passes of the files before.
    """
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[tuple[Path, Future[T]]] = deque()
        for path in paths:
            pending.append((path, pool.submit(read, path)))
            if len(pending) > ahead:
                yield pending.popleft()
        while pending:
            yield pending.popleft()


def stack_segments(group: Sequence[SegmentedFile], plan: SegmentPlan) -> np.ndarray:
    """Every segment of the files in ``group``, in order: ``(n_segments,
    plan.segment_samples)`` float32 (the last segment of a short file is zero-padded)."""
    return np.concatenate([plan.cut(file.samples)[1] for file in group])


def split_rows(rows: np.ndarray, group: Sequence[SegmentedFile]) -> list[np.ndarray]:
    """Rows of :func:`stack_segments`'s output, split back into one array per file."""
    bounds = np.cumsum([len(file.starts) for file in group])[:-1]
    return np.split(rows, bounds)


def batched(segments: np.ndarray, batch_size: int,
            forward: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``forward`` of ``segments`` in slices of ``batch_size`` rows, concatenated."""
    return np.concatenate([forward(segments[first:first + batch_size])
                           for first in range(0, len(segments), batch_size)])
