"""Reading audio files: the one place that decodes and resamples.

Every format that libsndfile reads (WAV in 8/16/24/32-bit integer and float, FLAC, Ogg
Vorbis/Opus, MP3, AIFF) goes through :func:`read_audio`, which returns float32 samples
at the requested rate, and raises :class:`~deep_audio.errors.AudioError` naming the file
and the reason when a file cannot be used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile
import soxr

from deep_audio.config import seconds_to_samples
from deep_audio.errors import AudioError

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"}
)


def read_audio(
    path: str | os.PathLike,
    *,
    sample_rate: int | None = None,
    mono: bool = True,
    min_seconds: float = 0.0,
) -> tuple[np.ndarray, int]:
    """Decode an audio file to float32 samples in [-1, 1].

    Parameters
    ----------
    path : str or PathLike
        Any file libsndfile can read.
    sample_rate : int, optional
        Target rate in Hz; the file is resampled (soxr, high quality) when its rate
        differs. ``None`` keeps the file's own rate.
    mono : bool
        Average the channels into one.
    min_seconds : float
        Files shorter than this (after decoding) are refused.

    Returns
    -------
    samples : np.ndarray, float32
        Shape ``(samples,)`` when ``mono``, else ``(channels, samples)``.
    sample_rate : int
        Rate of ``samples`` in Hz.

    Raises
    ------
    AudioError
        The file is missing, cannot be decoded, is empty or too short, or holds NaN/Inf.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"cannot read '{path}': no such file")
    try:
        frames, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as error:  # libsndfile reports damage through several types
        raise AudioError(f"cannot decode '{path}': {_reason(error, path)}") from error
    if frames.size == 0:
        raise AudioError(f"cannot use '{path}': it holds no samples")
    if not np.isfinite(frames).all():
        raise AudioError(f"cannot use '{path}': it holds NaN or infinite samples")
    check_duration(path, frames.shape[0] / file_rate, min_seconds)

    if mono:
        frames = frames.mean(axis=1, keepdims=True)
    if sample_rate is not None and sample_rate != file_rate:
        frames = soxr.resample(frames, file_rate, sample_rate, quality="HQ")
        file_rate = sample_rate
    samples = np.ascontiguousarray(frames.T, dtype=np.float32)
    return (samples[0] if mono else samples), int(file_rate)


def check_duration(path: str | os.PathLike, seconds: float, min_seconds: float) -> None:
    """Refuse a file of ``seconds`` seconds when that is under ``min_seconds``.

    Raises
    ------
    AudioError
        Naming the file, its length and the minimum.
    """
    if seconds < min_seconds:
        raise AudioError(f"cannot use '{path}': {seconds * 1000:.1f} ms long, "
                         f"shorter than the minimum of {min_seconds * 1000:.1f} ms")


def list_audio_files(folder: str | os.PathLike) -> list[Path]:
    """Audio files under ``folder``, found recursively, sorted; hidden files skipped.

    Raises
    ------
    AudioError
        ``folder`` does not exist or is not a directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AudioError(f"cannot list '{folder}': not a directory")
    return sorted(
        path for path in folder.rglob("*")
        if path.suffix.lower() in AUDIO_EXTENSIONS
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _reason(error: Exception, path: Path) -> str:
    # libsndfile's message starts with the path, which the caller already shows.
    text = str(error).strip().removeprefix(f"Error opening {str(path)!r}:").strip()
    return text or type(error).__name__


def read_audio_blocks(
    path: str | os.PathLike,
    *,
    sample_rate: int,
    block_seconds: float,
    min_seconds: float = 0.0,
) -> Iterator[np.ndarray]:
    """Decode a file of any length block by block: mono float32 at ``sample_rate``.

    Memory holds one block (plus the resampler's short filter state), so hours of audio
    can be read. The concatenated blocks equal :func:`read_audio`'s mono output (soxr's
    streaming and one-shot resampling give the same samples).

    Parameters
    ----------
    path : str or PathLike
        Any file libsndfile can read.
    sample_rate : int
        Output rate in Hz; streamed through ``soxr.ResampleStream`` (high quality) when
        the file's rate differs.
    block_seconds : float
        Length of the decoded blocks in seconds of the file; blocks after resampling
        may differ by a few samples, and the last one is shorter.
    min_seconds : float
        Files shorter than this are refused (checked once the end is reached).

    Yields
    ------
    np.ndarray, float32, shape (samples,)
        Consecutive blocks; empty blocks are never yielded.

    Raises
    ------
    AudioError
        As :func:`read_audio`: the file is missing, cannot be decoded, holds no samples,
        is too short, or holds NaN/Inf (the last two only once that part is read).
    """
    path = Path(path)
    if block_seconds <= 0:
        raise AudioError(f"cannot read '{path}' in blocks of block_seconds={block_seconds}: "
                         "must be > 0")
    if not path.is_file():
        raise AudioError(f"cannot read '{path}': no such file")
    try:
        stream = soundfile.SoundFile(path)
    except Exception as error:  # libsndfile reports damage through several types
        raise AudioError(f"cannot decode '{path}': {_reason(error, path)}") from error
    with stream:
        file_rate = stream.samplerate
        block_frames = max(1, seconds_to_samples(block_seconds, file_rate))
        resampler = (soxr.ResampleStream(file_rate, sample_rate, 1, dtype="float32",
                                         quality="HQ")
                     if file_rate != sample_rate else None)
        n_frames = 0
        while True:
            try:
                frames = stream.read(block_frames, dtype="float32", always_2d=True)
            except Exception as error:
                raise AudioError(f"cannot decode '{path}' after {n_frames / file_rate:.1f} s:"
                                 f" {_reason(error, path)}") from error
            last = len(frames) == 0
            if not np.isfinite(frames).all():
                raise AudioError(f"cannot use '{path}': it holds NaN or infinite samples "
                                 f"(after {n_frames / file_rate:.1f} s)")
            n_frames += len(frames)
            if last:
                if n_frames == 0:
                    raise AudioError(f"cannot use '{path}': it holds no samples")
                if n_frames / file_rate < min_seconds:
                    raise AudioError(f"cannot use '{path}': {n_frames / file_rate * 1000:.1f}"
                                     f" ms long, shorter than the minimum of "
                                     f"{min_seconds * 1000:.1f} ms")
            block = frames.mean(axis=1)
            if resampler is not None:
                block = resampler.resample_chunk(block, last=last)
            if len(block):
                yield np.ascontiguousarray(block, dtype=np.float32)
            if last:
                return


def audio_duration(path: str | os.PathLike) -> float:
    """Length of an audio file in seconds, from its header (nothing is decoded).

    Raises
    ------
    AudioError
        The file is missing or cannot be opened.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"cannot read '{path}': no such file")
    try:
        info = soundfile.info(path)
    except Exception as error:
        raise AudioError(f"cannot decode '{path}': {_reason(error, path)}") from error
    return info.frames / info.samplerate
