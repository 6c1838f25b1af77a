"""Reading audio files: the one place that decodes and resamples.

Every format that libsndfile reads (WAV in 8/16/24/32-bit integer and float, FLAC, Ogg
Vorbis/Opus, MP3, AIFF) goes through :func:`read_audio`, which returns float32 samples
at the requested rate, and raises :class:`~deep_audio.errors.AudioError` naming the file
and the reason when a file cannot be used.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile
import soxr

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
    duration = frames.shape[0] / file_rate
    if duration < min_seconds:
        raise AudioError(f"cannot use '{path}': {duration * 1000:.1f} ms long, "
                         f"shorter than the minimum of {min_seconds * 1000:.1f} ms")

    if mono:
        frames = frames.mean(axis=1, keepdims=True)
    if sample_rate is not None and sample_rate != file_rate:
        frames = soxr.resample(frames, file_rate, sample_rate, quality="HQ")
        file_rate = sample_rate
    samples = np.ascontiguousarray(frames.T, dtype=np.float32)
    return (samples[0] if mono else samples), int(file_rate)


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
