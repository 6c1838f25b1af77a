"""Fixed-length segments of decoded waveforms, as a map-style ``Dataset``."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset


def segment_starts(n_samples: int, segment_samples: int, hop_samples: int) -> list[int]:
    """Start sample of each segment that covers a signal of ``n_samples`` samples.

    Segments start every ``hop_samples``; when that leaves a tail uncovered, one more
    segment ends at the last sample. A signal shorter than one segment gives ``[0]``
    (it is zero-padded).

    >>> segment_starts(50, 20, 10), segment_starts(45, 20, 10), segment_starts(5, 20, 10)
    ([0, 10, 20, 30], [0, 10, 20, 25], [0])
    """
    if segment_samples <= 0 or hop_samples <= 0:
        raise ValueError(f"segment_samples={segment_samples} and hop_samples={hop_samples} "
                         "must be > 0")
    last = n_samples - segment_samples
    if last <= 0:
        return [0]
    starts = list(range(0, last + 1, hop_samples))
    if starts[-1] != last:
        starts.append(last)
    return starts


def cut_segment(samples: np.ndarray, start: int, segment_samples: int) -> np.ndarray:
    """``samples[start:start + segment_samples]``, zero-padded at the end when short."""
    piece = samples[start:start + segment_samples]
    if len(piece) < segment_samples:
        piece = np.pad(piece, (0, segment_samples - len(piece)))
    return piece


class SegmentDataset(Dataset):
    """Every segment of every waveform, each with its file's label.

    Item ``i`` is ``(waveform (segment_samples,) float32 tensor, label int)``.
    ``file_index[i]`` says which waveform segment ``i`` came from.
    """

    def __init__(self, waveforms: Sequence[np.ndarray], labels: Sequence[int], *,
                 segment_samples: int, hop_samples: int):
        self.waveforms = list(waveforms)
        self.labels = list(labels)
        self.segment_samples = segment_samples
        index = [(file, start) for file, samples in enumerate(self.waveforms)
                 for start in segment_starts(len(samples), segment_samples, hop_samples)]
        self.file_index = np.array([file for file, _ in index], dtype=np.int64)
        self.starts = np.array([start for _, start in index], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        file = int(self.file_index[i])
        piece = cut_segment(self.waveforms[file], int(self.starts[i]), self.segment_samples)
        return torch.from_numpy(piece), self.labels[file]

    def segment_labels(self) -> np.ndarray:
        """Label of each segment, shape ``(len(self),)``."""
        return np.asarray(self.labels, dtype=np.int64)[self.file_index]
