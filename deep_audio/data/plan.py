"""Where fixed-length segments start in a signal, and cutting them out (numpy only).

:class:`SegmentPlan` is the one segment plan: the sample rate, segment length and hop,
and the minimum file length, built from a :class:`~deep_audio.config.Config` or from an
exported model's metadata. It reads files, cuts waveforms, streams the segments of a
long recording block by block and gives every segment's start and end in seconds.
Training (:class:`deep_audio.data.SegmentDataset`), PyTorch inference, long recordings
and the torch-free ONNX runner (:mod:`deep_audio.predict.onnx`) all cut through it, so
every path cuts a file the same way. Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from deep_audio.config import seconds_to_samples
from deep_audio.errors import DeepAudioError, MissingMetadataError
from deep_audio.io.audio import read_audio, read_audio_blocks

if TYPE_CHECKING:
    from deep_audio.config import Config

# Keys of an exported model's metadata (ONNX metadata_props, TorchScript extra file).
METADATA_PREFIX = "deep_audio."


def segment_starts(n_samples: int, segment_samples: int, hop_samples: int) -> list[int]:
    """Start sample of each segment that covers a signal of ``n_samples`` samples.

    Segments start every ``hop_samples``; when that leaves a tail uncovered, one more
    segment ends at the last sample. A signal shorter than one segment gives ``[0]``
    (it is zero-padded).

    >>> segment_starts(50, 20, 10), segment_starts(45, 20, 10), segment_starts(5, 20, 10)
    ([0, 10, 20, 30], [0, 10, 20, 25], [0])
    """
    if segment_samples <= 0 or hop_samples <= 0:
        raise DeepAudioError(f"segment_samples={segment_samples} and hop_samples={hop_samples} "
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


@dataclass(frozen=True)
class SegmentPlan:
    """How every path reads a file and cuts it into segments: the one segment plan.

    Training, PyTorch inference, the torch-free ONNX runner and long recordings all read
    and cut through a plan, so a file gives the same segments (and the same refusal of a
    file that is too short) on every path.

    Parameters
    ----------
    sample_rate : int
        Hz; files are decoded and resampled to it.
    segment_samples : int
        Segment length in samples at ``sample_rate``, > 0.
    hop_samples : int
        Samples between segment starts, > 0.
    min_seconds : float
        Files shorter than this are refused (:class:`~deep_audio.errors.AudioError`).

    Examples
    --------
    >>> plan = SegmentPlan(sample_rate=10, segment_samples=20, hop_samples=10)
    >>> starts, segments = plan.cut(np.arange(45, dtype=np.float32))
    >>> starts.tolist(), segments.shape
    ([0, 10, 20, 25], (4, 20))
    >>> [t.tolist() for t in plan.times(starts, 45)]
    [[0.0, 1.0, 2.0, 2.5], [2.0, 3.0, 4.0, 4.5]]
    """

    sample_rate: int
    segment_samples: int
    hop_samples: int
    min_seconds: float = 0.0

    def __post_init__(self):
        for name in ("sample_rate", "segment_samples", "hop_samples"):
            if getattr(self, name) <= 0:
                raise DeepAudioError(f"{name}={getattr(self, name)} must be > 0")
        if self.min_seconds < 0:
            raise DeepAudioError(f"min_seconds={self.min_seconds} must be >= 0")

    @classmethod
    def from_config(cls, config: Config) -> SegmentPlan:
        """The plan of a config: ``front_end.sample_rate`` and the ``segments`` section."""
        rate = config.front_end.sample_rate
        segments = config.segments
        return cls(sample_rate=rate,
                   segment_samples=seconds_to_samples(segments.segment_seconds, rate),
                   hop_samples=seconds_to_samples(segments.segment_hop_seconds, rate),
                   min_seconds=float(segments.min_file_seconds))

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> SegmentPlan:
        """The plan stored in an exported model's metadata (see :meth:`to_metadata`).

        A file exported before the minimum length was stored takes it from its stored
        config (``deep_audio.config``, written by every export).

        Raises
        ------
        MissingMetadataError
            A key is missing (also a ``KeyError``).
        ValueError
            A value is not a number.
        """
        def value(name: str) -> str:
            key = f"{METADATA_PREFIX}{name}"
            if key not in metadata:
                raise MissingMetadataError(key)
            return metadata[key]

        minimum = metadata.get(f"{METADATA_PREFIX}min_file_seconds")
        if minimum is None:
            stored = json.loads(metadata.get(f"{METADATA_PREFIX}config", "{}"))
            minimum = stored.get("segments", {}).get("min_file_seconds")
        if minimum is None:
            raise MissingMetadataError(f"{METADATA_PREFIX}min_file_seconds")
        return cls(sample_rate=int(value("sample_rate")),
                   segment_samples=int(value("segment_samples")),
                   hop_samples=int(value("segment_hop_samples")),
                   min_seconds=float(minimum))

    def to_metadata(self) -> dict[str, str]:
        """The plan as string key/value pairs, as an export stores it.

        >>> SegmentPlan(16000, 32000, 16000, 0.01).to_metadata()["deep_audio.segment_samples"]
        '32000'
        """
        return {f"{METADATA_PREFIX}sample_rate": str(self.sample_rate),
                f"{METADATA_PREFIX}segment_samples": str(self.segment_samples),
                f"{METADATA_PREFIX}segment_hop_samples": str(self.hop_samples),
                f"{METADATA_PREFIX}min_file_seconds": repr(float(self.min_seconds))}

    def with_hop_seconds(self, hop_seconds: float) -> SegmentPlan:
        """The same plan with another hop, given in seconds."""
        return replace(self, hop_samples=seconds_to_samples(hop_seconds, self.sample_rate))

    def read(self, path: str | os.PathLike) -> np.ndarray:
        """A file decoded for this plan: mono float32 at ``sample_rate``, shape (samples,).

        Raises
        ------
        AudioError
            The file cannot be decoded, or is shorter than ``min_seconds``.
        """
        return read_audio(path, sample_rate=self.sample_rate, min_seconds=self.min_seconds)[0]

    def read_blocks(self, path: str | os.PathLike, *, block_seconds: float
                    ) -> Iterator[np.ndarray]:
        """A file of any length decoded block by block, refused as :meth:`read` refuses."""
        return read_audio_blocks(path, sample_rate=self.sample_rate,
                                 block_seconds=block_seconds, min_seconds=self.min_seconds)

    def starts(self, n_samples: int) -> np.ndarray:
        """Start sample of each segment of a signal, int64, shape (n_segments,); see
        :func:`segment_starts`."""
        return np.asarray(segment_starts(n_samples, self.segment_samples, self.hop_samples),
                          dtype=np.int64)

    def cut(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The starts and the segments ``(n_segments, segment_samples)`` of a signal; the
        last segment is zero-padded when the signal is shorter than one segment."""
        starts = self.starts(len(samples))
        return starts, np.stack([cut_segment(samples, int(start), self.segment_samples)
                                 for start in starts])

    def times(self, starts: Sequence[int] | np.ndarray, n_samples: int
              ) -> tuple[np.ndarray, np.ndarray]:
        """Start and end in seconds of segments starting at ``starts`` in a signal of
        ``n_samples``; a segment ends at the signal's end at the latest."""
        starts = np.asarray(starts, dtype=np.int64)
        return (starts / self.sample_rate,
                np.minimum(starts + self.segment_samples, n_samples) / self.sample_rate)

    def stream(self, blocks: Iterable[np.ndarray]) -> SegmentStream:
        """The segments of a signal that arrives in blocks; see :class:`SegmentStream`."""
        return SegmentStream(self, blocks)


class SegmentStream:
    """``(start, segment)`` pairs of a signal read block by block, in time order.

    The starts are :meth:`SegmentPlan.starts` of the whole signal; memory holds one block
    and one segment. ``n_samples`` is the signal's length once the stream is exhausted.

    >>> plan = SegmentPlan(sample_rate=10, segment_samples=20, hop_samples=10)
    >>> stream = plan.stream(np.split(np.arange(45, dtype=np.float32), [7, 30]))
    >>> [start for start, _ in stream], stream.n_samples
    ([0, 10, 20, 25], 45)
    """

    def __init__(self, plan: SegmentPlan, blocks: Iterable[np.ndarray]):
        self.plan = plan
        self.blocks = blocks
        self.n_samples: int | None = None

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        size, hop = self.plan.segment_samples, self.plan.hop_samples
        buffer, buffer_start, next_start, total = np.zeros(0, np.float32), 0, 0, 0
        for block in self.blocks:
            buffer = np.concatenate([buffer, block])
            total += len(block)
            while next_start + size <= total:
                offset = next_start - buffer_start
                yield next_start, buffer[offset:offset + size]
                next_start += hop
            keep_from = max(buffer_start, min(next_start, total - size))
            buffer, buffer_start = buffer[keep_from - buffer_start:], keep_from
        self.n_samples = total
        last = total - size
        if last <= 0:
            if next_start == 0:  # shorter than one segment: one zero-padded segment
                yield 0, cut_segment(buffer, 0, size)
        elif next_start - hop != last:  # the tail: one segment ending at the end
            yield last, buffer[last - buffer_start:]
