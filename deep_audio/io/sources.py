"""Live audio sources: a microphone, raw PCM from a pipe, a file played as a stream.

Every source yields consecutive blocks of mono float32 samples at the ``sample_rate`` it
was made with (the model's rate), so a listener never meets another rate:

- :class:`ReplaySource`: a file decoded by :func:`~deep_audio.io.audio.read_audio_blocks`
  (the decoder and resampler offline classification uses, so a replayed file gives the
  samples :func:`~deep_audio.predict.segment_recording` reads), in small blocks released
  in real time or as fast as they are asked for;
- :class:`PcmSource`: raw little-endian PCM (``s16le`` or ``f32le``, interleaved
  channels) from a binary stream such as standard input (``arecord``, ``ffmpeg``);
- :class:`MicrophoneSource`: an input device through ``sounddevice`` (PortAudio), an
  optional package imported only when a microphone is opened.

Channels are averaged into one and other rates resampled with ``soxr`` (high quality,
streamed), as :func:`~deep_audio.io.audio.read_audio` does for files. ``live`` tells
whether audio arrives at its own pace (then a listener that falls behind must drop
audio) or only when asked for (a fast replay). Nothing here imports torch.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import soxr

from deep_audio.config import seconds_to_samples
from deep_audio.errors import SourceError
from deep_audio.io.audio import printable, read_audio_blocks

logger = logging.getLogger(__name__)

# Bytes per sample of each raw PCM format ``PcmSource`` reads, and its numpy type.
PCM_FORMATS = {"s16le": ("<i2", 2), "f32le": ("<f4", 4)}


class ToModelRate:
    """Interleaved frames ``(n, channels)`` at ``rate`` Hz to mono float32 at
    ``sample_rate`` Hz: the channels averaged, then resampled by a ``soxr`` stream.

    >>> ToModelRate(16000, 16000).convert(np.ones((4, 2), np.float32)).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, rate: int, sample_rate: int):
        if rate <= 0 or sample_rate <= 0:
            raise SourceError(f"rate={rate} and sample_rate={sample_rate} must be > 0 Hz")
        self.rate = rate
        self.sample_rate = sample_rate
        self.resampler = (soxr.ResampleStream(rate, sample_rate, 1, dtype="float32",
                                              quality="HQ")
                          if rate != sample_rate else None)

    def convert(self, frames: np.ndarray, *, last: bool = False) -> np.ndarray:
        """``frames`` ``(n, channels)`` -> mono float32 ``(m,)``; ``last`` flushes the
        resampler at the end of the stream."""
        mono = np.asarray(frames, dtype=np.float32).mean(axis=1)
        if self.resampler is not None:
            mono = self.resampler.resample_chunk(mono, last=last)
        return np.ascontiguousarray(mono, dtype=np.float32)


class ReplaySource:
    """A file played as a stream: blocks of ``block_seconds``, in real time or at once.

    Parameters
    ----------
    path : str or PathLike
        Any file :func:`~deep_audio.io.audio.read_audio_blocks` reads.
    sample_rate : int
        Hz of the blocks (the model's rate).
    realtime : bool
        Release each block when its last sample would have been recorded (``live``);
        ``False``: as fast as blocks are asked for.
    block_seconds : float
        Length of the blocks, > 0.
    min_seconds : float
        A file shorter than this is refused (the model's minimum).
    """

    def __init__(self, path: str | os.PathLike, *, sample_rate: int, realtime: bool = True,
                 block_seconds: float = 0.1, min_seconds: float = 0.0):
        if block_seconds <= 0:
            raise SourceError(f"block_seconds={block_seconds} must be > 0")
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.live = realtime
        self.block_seconds = block_seconds
        self.min_seconds = min_seconds
        self.name = f"replay of '{printable(self.path)}'" + ("" if realtime else " (fast)")

    def blocks(self) -> Iterator[np.ndarray]:
        """Consecutive mono float32 blocks at ``sample_rate``."""
        block_samples = max(1, seconds_to_samples(self.block_seconds, self.sample_rate))
        started, sent = time.monotonic(), 0
        for decoded in read_audio_blocks(self.path, sample_rate=self.sample_rate,
                                         block_seconds=60.0, min_seconds=self.min_seconds):
            for first in range(0, len(decoded), block_samples):
                block = decoded[first:first + block_samples]
                sent += len(block)
                if self.live:  # the block exists once its last sample is "recorded"
                    time.sleep(max(0.0, started + sent / self.sample_rate - time.monotonic()))
                yield block

    def close(self) -> None:
        """Nothing to release (the file is closed when its blocks end)."""


class PcmSource:
    """Raw little-endian PCM from a binary stream (standard input, a pipe, a socket).

    Parameters
    ----------
    stream : binary file
        Read with ``os.read`` on its descriptor when it has one (whatever the pipe holds,
        so a block is passed on as soon as it arrives), else with ``stream.read``.
    rate : int
        Hz of the PCM.
    sample_rate : int
        Hz of the blocks (the model's rate); resampled when it differs from ``rate``.
    channels : int
        Interleaved channels, averaged into one.
    format : str
        ``s16le`` (16-bit integers, scaled by 1/32768 as libsndfile reads WAV) or
        ``f32le`` (32-bit floats).
    block_seconds : float
        The most audio one read asks for.
    name : str
        How messages and summaries name the stream.
    """

    live = True

    def __init__(self, stream: BinaryIO, *, rate: int, sample_rate: int, channels: int = 1,
                 format: str = "s16le", block_seconds: float = 0.1, name: str = "stdin"):
        if format not in PCM_FORMATS:
            raise SourceError(f"PCM format '{format}' is not one of {sorted(PCM_FORMATS)}")
        if channels < 1:
            raise SourceError(f"channels={channels} must be >= 1")
        if block_seconds <= 0:
            raise SourceError(f"block_seconds={block_seconds} must be > 0")
        self.stream = stream
        self.rate = rate
        self.sample_rate = sample_rate
        self.channels = channels
        self.format = format
        self.block_seconds = block_seconds
        self.name = f"{name} ({format}, {rate} Hz, {channels} channel{'s' * (channels > 1)})"
        self.converter = ToModelRate(rate, sample_rate)

    def _read(self, n_bytes: int) -> bytes:
        try:
            return os.read(self.stream.fileno(), n_bytes)
        except (AttributeError, OSError, ValueError):  # no descriptor (an in-memory stream)
            return self.stream.read(n_bytes)

    def blocks(self) -> Iterator[np.ndarray]:
        """Mono float32 blocks at ``sample_rate`` until the stream ends (EOF)."""
        dtype, width = PCM_FORMATS[self.format]
        frame_bytes = width * self.channels
        want = max(1, seconds_to_samples(self.block_seconds, self.rate)) * frame_bytes
        pending = b""
        while True:
            data = self._read(want)
            if not data:
                break
            pending += data
            whole = len(pending) - len(pending) % frame_bytes
            if whole == 0:
                continue
            frames = np.frombuffer(pending[:whole], dtype=dtype).reshape(-1, self.channels)
            pending = pending[whole:]
            block = self.converter.convert(_to_float(frames))
            if len(block):
                yield block
        if pending:
            logger.warning("%s ended inside a frame: %d trailing bytes ignored", self.name,
                           len(pending))
        tail = self.converter.convert(np.zeros((0, self.channels), np.float32), last=True)
        if len(tail):
            yield tail

    def close(self) -> None:
        """The stream belongs to the caller; nothing is closed."""


class MicrophoneSource:
    """An input device through ``sounddevice`` (PortAudio).

    Parameters
    ----------
    device : str or int, optional
        A device name (or part of one) or index as ``python -m sounddevice`` lists them;
        ``None``: the default input device.
    sample_rate : int
        Hz of the blocks (the model's rate). The device is opened at this rate when it
        takes it, else at its default rate and resampled.
    channels : int
        Channels recorded, averaged into one.
    block_seconds : float
        Audio per callback.

    Raises
    ------
    SourceError
        When opened (:meth:`blocks`): ``sounddevice`` or the PortAudio library is not
        installed, or no such input device exists (the message lists those found).
    """

    live = True

    def __init__(self, device: str | int | None = None, *, sample_rate: int,
                 channels: int = 1, block_seconds: float = 0.1):
        self.device = device
        self.sample_rate = sample_rate
        self.channels = channels
        self.block_seconds = block_seconds
        self.name = "the default microphone" if device is None else f"microphone '{device}'"
        self.overflows = 0
        self.ended_by: str | None = None  # why the device stopped, when it did
        self._stream: Any = None

    def open(self) -> None:
        """Open the device and start recording into a queue."""
        sd = import_sounddevice()
        wanted = "the default input device" if self.device is None else \
            f"an input device matching {self.device!r}"
        try:
            info = sd.query_devices(self.device, kind="input")
        except (ValueError, sd.PortAudioError) as error:
            raise SourceError(f"no microphone: looked for {wanted} and found none ({error});"
                              f" input devices: {input_devices(sd) or 'none'}") from error
        self.name = f"microphone '{info['name']}'"
        self._queue: queue.Queue = queue.Queue()

        def callback(indata, frames, time_info, status):
            if status.input_overflow:
                self.overflows += 1
            self._queue.put(indata.copy())

        for rate in dict.fromkeys([self.sample_rate, int(info["default_samplerate"])]):
            try:
                stream = sd.InputStream(
                    samplerate=rate, device=self.device, channels=self.channels,
                    dtype="float32", callback=callback,
                    blocksize=max(1, seconds_to_samples(self.block_seconds, rate)))
            except sd.PortAudioError as error:
                logger.info("%s does not open at %d Hz: %s", self.name, rate, error)
                continue
            self.converter = ToModelRate(rate, self.sample_rate)
            self._stream = stream
            stream.start()
            return
        raise SourceError(f"{self.name} opens neither at {self.sample_rate} Hz nor at its "
                          f"default rate {int(info['default_samplerate'])} Hz")

    def blocks(self) -> Iterator[np.ndarray]:
        """Mono float32 blocks at ``sample_rate`` until the device stops (unplugged)."""
        if self._stream is None:
            self.open()
        while True:
            try:
                frames = self._queue.get(timeout=0.5)
            except queue.Empty:
                # closed, or the device went away (unplugged): the end of the stream
                if self._stream is None or not self._stream.active:
                    logger.warning("%s stopped delivering audio", self.name)
                    self.ended_by = f"{self.name} stopping (unplugged or closed)"
                    # what the resampler still holds
                    tail = self.converter.convert(np.zeros((0, self.channels), np.float32),
                                                  last=True)
                    if len(tail):
                        yield tail
                    return
                continue
            block = self.converter.convert(frames)
            if len(block):
                yield block

    def close(self) -> None:
        """Stop recording and release the device."""
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
        if self.overflows:
            logger.warning("%s overflowed %d time(s): PortAudio dropped input", self.name,
                           self.overflows)


def import_sounddevice() -> Any:
    """The ``sounddevice`` module, or a :class:`SourceError` that says what is missing."""
    try:
        import sounddevice
    except ImportError as error:
        raise SourceError("listening to a microphone needs the sounddevice package, which "
                          "is not installed: pip install 'deep_audio[listen]' (or read "
                          "from a pipe with --stdin)") from error
    except OSError as error:  # sounddevice is there, the PortAudio library is not
        raise SourceError(f"sounddevice cannot load the PortAudio library ({error}); on "
                          "Debian or Ubuntu: apt install libportaudio2") from error
    return sounddevice


def input_devices(sd: Any) -> list[str]:
    """Names of the devices that can record."""
    return [device["name"] for device in sd.query_devices() if device["max_input_channels"] > 0]


def _to_float(frames: np.ndarray) -> np.ndarray:
    if frames.dtype.kind == "i":
        return frames.astype(np.float32) / 32768.0
    return frames.astype(np.float32)
