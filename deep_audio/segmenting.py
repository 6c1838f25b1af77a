"""Where fixed-length segments start in a signal, and cutting them out (numpy only).

Shared by training (:class:`deep_audio.data.SegmentDataset`), inference and the
torch-free ONNX runner (:mod:`deep_audio.onnx_inference`), so every path cuts a file the
same way.
"""

from __future__ import annotations

import numpy as np


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


def cut_segments(samples: np.ndarray, segment_samples: int, hop_samples: int
                 ) -> tuple[list[int], np.ndarray]:
    """Every segment of a signal: the starts of :func:`segment_starts` and the segments.

    Returns
    -------
    starts : list of int
        Start sample of each segment.
    segments : np.ndarray, shape (n_segments, segment_samples)
        Zero-padded at the end when the signal is shorter than one segment.

    >>> starts, segments = cut_segments(np.arange(5.0), 4, 2)
    >>> starts, segments.tolist()
    ([0, 1], [[0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]])
    """
    starts = segment_starts(len(samples), segment_samples, hop_samples)
    return starts, np.stack([cut_segment(samples, start, segment_samples) for start in starts])
