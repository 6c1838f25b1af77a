"""Fixed-length segments of decoded waveforms, as a map-style ``Dataset``."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from deep_audio.segmenting import cut_segment, segment_starts

__all__ = ["SegmentDataset", "cut_segment", "segment_starts"]


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
