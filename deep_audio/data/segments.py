"""Fixed-length segments of decoded waveforms, as a map-style ``Dataset``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from deep_audio.data.plan import cut_segment, segment_starts

__all__ = ["SegmentDataset", "cut_segment", "event_targets", "frame_targets",
           "segment_starts"]


class SegmentDataset(Dataset):
    """Every segment of every waveform, each with its target.

    Single-label: ``labels`` holds a class index per file and item ``i`` is
    ``(waveform (segment_samples,) float32 tensor, label int)``. Multi-label: ``labels``
    holds a 0/1 vector ``(n_classes,)`` per file and the target is a float32 tensor
    ``(n_classes,)``: the file's labels (weak), or for a file with ``events`` (strong
    labels) the classes whose events cover the segment (see :func:`event_targets`).
    ``file_index[i]`` says which waveform segment ``i`` came from; ``strong`` whether
    any file has events.

    Frame detection (``frame_seconds`` given, multi-label): the target is a float32
    matrix ``(frames + 1, n_classes)`` per segment, ``frames = segment_samples //
    frame_samples``: frame ``j`` stands for ``[start + j * frame_seconds, start + (j + 1)
    * frame_seconds)`` (0/1 from the file's events, :func:`frame_targets`), the last row
    for the clip, unknown (NaN). A file without events (weak labels) has unknown frames
    and its labels in the last row.
    """

    def __init__(self, waveforms: Sequence[np.ndarray], labels: Sequence, *,
                 segment_samples: int, hop_samples: int,
                 events: Sequence[Sequence[tuple[float, float, int]]] | None = None,
                 sample_rate: int | None = None, event_overlap_fraction: float = 0.5,
                 frame_seconds: float | None = None):
        self.waveforms = list(waveforms)
        self.labels = list(labels)
        self.segment_samples = segment_samples
        index = [(file, start) for file, samples in enumerate(self.waveforms)
                 for start in segment_starts(len(samples), segment_samples, hop_samples)]
        self.file_index = np.array([file for file, _ in index], dtype=np.int64)
        self.starts = np.array([start for _, start in index], dtype=np.int64)
        self.multi_label = bool(self.labels) and np.ndim(self.labels[0]) == 1
        self.strong = any(events or ())  # some targets come from events
        self.targets: np.ndarray | None = None
        if self.multi_label and frame_seconds:
            self.targets = self._frame_targets(events or (), sample_rate, frame_seconds)
        elif self.multi_label:
            self.targets = np.asarray(self.labels, dtype=np.float32)[self.file_index]
            for file, file_events in enumerate(events or ()):
                if not file_events:
                    continue
                rows = np.flatnonzero(self.file_index == file)
                self.targets[rows] = event_targets(
                    self.starts[rows] / sample_rate, segment_samples / sample_rate,
                    file_events, self.targets.shape[1],
                    overlap_fraction=event_overlap_fraction)

    def _frame_targets(self, events, sample_rate: int, frame_seconds: float) -> np.ndarray:
        """``(len(self), frames + 1, n_classes)`` float32 (see the class docstring)."""
        frame_samples = round(frame_seconds * sample_rate)
        n_frames = self.segment_samples // frame_samples
        clip = np.asarray(self.labels, dtype=np.float32)
        targets = np.full((len(self), n_frames + 1, clip.shape[1]), np.nan, dtype=np.float32)
        targets[:, -1] = clip[self.file_index]  # weak labels: the clip's
        for file, file_events in enumerate(events):
            if file_events:
                rows = np.flatnonzero(self.file_index == file)
                frames = frame_targets(self.starts[rows] / sample_rate,
                                       frame_samples / sample_rate, n_frames,
                                       file_events, clip.shape[1])
                targets[rows, :-1], targets[rows, -1] = frames, np.nan
        return targets

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int | torch.Tensor]:
        file = int(self.file_index[i])
        piece = cut_segment(self.waveforms[file], int(self.starts[i]), self.segment_samples)
        if self.targets is not None:
            return torch.from_numpy(piece), torch.from_numpy(self.targets[i])
        return torch.from_numpy(piece), self.labels[file]

    def segment_labels(self) -> np.ndarray:
        """Target of each segment: class indices ``(len(self),)``, or multi-label a
        0/1 matrix ``(len(self), n_classes)``."""
        if self.targets is not None:
            return self.targets
        return np.asarray(self.labels, dtype=np.int64)[self.file_index]


def event_targets(starts_seconds: np.ndarray, segment_seconds: float,
                  events: Sequence[tuple[float, float, int]], n_classes: int, *,
                  overlap_fraction: float) -> np.ndarray:
    """Which classes sound in each segment, from strong labels.

    A segment ``[start, start + segment_seconds)`` is positive for an event's class when
    the event covers at least ``overlap_fraction`` of the segment, or of the event when
    the event is shorter than the segment (so a 0.2 s hit inside a 1 s segment counts).

    Returns
    -------
    np.ndarray, float32, shape (n_segments, n_classes)

    >>> event_targets(np.array([0.0, 1.0, 2.0]), 1.0, [(0.9, 1.2, 1), (2.6, 4.0, 0)], 2,
    ...               overlap_fraction=0.5).tolist()
    [[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    """
    starts = np.asarray(starts_seconds, dtype=np.float64)
    targets = np.zeros((len(starts), n_classes), dtype=np.float32)
    ends = starts + segment_seconds
    for onset, offset, label in events:
        overlap = np.clip(np.minimum(ends, offset) - np.maximum(starts, onset), 0.0, None)
        needed = overlap_fraction * min(segment_seconds, offset - onset)
        targets[(overlap > 0) & (overlap >= needed - 1e-9), label] = 1.0
    return targets


def frame_targets(starts_seconds: np.ndarray, frame_seconds: float, n_frames: int,
                  events: Sequence[tuple[float, float, int]], n_classes: int) -> np.ndarray:
    """Which classes sound in each frame of each segment, from strong labels.

    Frame ``j`` of a segment starting at ``s`` is ``[s + j * frame_seconds, s + (j + 1) *
    frame_seconds)``; it is positive for an event's class when the event covers at least
    half of it, or when the event lies inside it (an event shorter than half a frame
    still marks the frame it falls in).

    Returns
    -------
    np.ndarray, float32, shape (n_segments, n_frames, n_classes)

    >>> frame_targets(np.array([0.0]), 0.1, 5, [(0.14, 0.31, 1)], 2)[0, :, 1].tolist()
    [0.0, 1.0, 1.0, 0.0, 0.0]
    """
    starts = (np.asarray(starts_seconds, dtype=np.float64)[:, None]
              + np.arange(n_frames) * frame_seconds)
    ends = starts + frame_seconds
    targets = np.zeros((*starts.shape, n_classes), dtype=np.float32)
    for onset, offset, label in events:
        overlap = np.clip(np.minimum(ends, offset) - np.maximum(starts, onset), 0.0, None)
        needed = 0.5 * min(frame_seconds, offset - onset)
        targets[(overlap > 0) & (overlap >= needed - 1e-9), label] = 1.0
    return targets
