"""Reading audio files: the one place that decodes and resamples.

Every format that libsndfile reads (WAV in 8/16/24/32-bit integer and float, FLAC, Ogg
Vorbis/Opus, MP3, AIFF) goes through :func:`read_audio`, which returns float32 samples
at the requested rate, and raises :class:`~deep_audio.errors.AudioError` naming the file
and the reason when a file cannot be used: a folder or a broken link named like audio, a
format libsndfile cannot decode (:data:`UNSUPPORTED_AUDIO_EXTENSIONS`), a file whose
header promises more samples than it holds (truncated), no samples, NaN/Inf.

File names are passed to libsndfile as bytes (``os.fsencode``), so a name that is not
valid UTF-8 is read like any other; messages show it through :func:`printable`.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile
import soxr

from deep_audio.config import seconds_to_samples
from deep_audio.errors import AudioError

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"}
)
# Audio that libsndfile cannot decode (AAC/ALAC in MP4, WMA, WebM, AMR): listed by
# list_audio_files so that they are reported as skipped, never silently left out.
UNSUPPORTED_AUDIO_EXTENSIONS = frozenset(
    {".m4a", ".m4b", ".mp4", ".mp4a", ".aac", ".wma", ".webm", ".3gp", ".amr"}
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
        The file is missing, not a regular file, in an unsupported format, cannot be
        decoded, is truncated (its header promises more samples than it holds), is empty
        or too short, or holds NaN/Inf.
    """
    path = Path(path)
    with _open(path) as stream:
        file_rate = stream.samplerate
        try:
            frames = stream.read(dtype="float32", always_2d=True)
        except Exception as error:  # libsndfile reports damage through several types
            raise AudioError(f"cannot decode '{printable(path)}': "
                             f"{_reason(error, path)}") from error
        _check_complete(path, stream, len(frames))
    if frames.size == 0:
        raise AudioError(f"cannot use '{printable(path)}': it holds no samples")
    if not np.isfinite(frames).all():
        raise AudioError(f"cannot use '{printable(path)}': it holds NaN or infinite samples")
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
        raise AudioError(f"cannot use '{printable(path)}': {seconds * 1000:.1f} ms long, "
                         f"shorter than the minimum of {min_seconds * 1000:.1f} ms")


def list_audio_files(folder: str | os.PathLike) -> list[Path]:
    """Everything under ``folder`` named like audio, found recursively, sorted.

    This is the one listing of audio files; every command finds its inputs here. An
    entry counts when its extension (any case) is in :data:`AUDIO_EXTENSIONS` or
    :data:`UNSUPPORTED_AUDIO_EXTENSIONS`, whatever it is: a folder or a broken link
    named ``x.wav`` and an ``.m4a`` file are listed too, so that :func:`read_audio`
    refuses them with a reason and the caller reports them as skipped instead of losing
    them without a word. Other files are not audio: they are counted, and one log line
    says how many of which extension were ignored. Hidden files and folders (a name
    starting with ``.``) are left out.

    Raises
    ------
    AudioError
        ``folder`` does not exist or is not a directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AudioError(f"cannot list '{printable(folder)}': not a directory")
    found, ignored = [], Counter()
    for path in folder.rglob("*"):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        suffix = path.suffix.lower()
        if suffix in AUDIO_EXTENSIONS or suffix in UNSUPPORTED_AUDIO_EXTENSIONS:
            found.append(path)
        elif path.is_file() or path.is_symlink():
            ignored[suffix or "no extension"] += 1
    if ignored:
        logger.info("%s", ignored_summary(folder, ignored))
    return sorted(found)


def ignored_summary(folder: str | os.PathLike, ignored: Counter) -> str:
    """One line naming how many non-audio files of each extension ``folder`` holds.

    >>> ignored_summary("dog", Counter({".txt": 2, ".jpg": 1}))
    "'dog': ignored 3 non-audio files (.txt x2, .jpg x1)"
    """
    kinds = ", ".join(f"{suffix} x{count}" for suffix, count in ignored.most_common())
    total = sum(ignored.values())
    return (f"'{printable(folder)}': ignored {total} non-audio "
            f"file{'s' if total != 1 else ''} ({kinds})")


def printable(path: str | bytes | os.PathLike) -> str:
    """``path`` as text that can always be printed and stored as UTF-8.

    A file name that is not valid UTF-8 reaches Python with its odd bytes as lone
    surrogates (``os.fsdecode``), which cannot be printed or encoded; here each such
    byte is written ``\\xNN`` instead. Valid names are returned unchanged.

    >>> printable(os.fsdecode(b"caf\\xe9.wav")), printable("caf\\u00e9.wav")
    ('caf\\\\xe9.wav', 'café.wav')
    """
    text = os.fsdecode(os.fspath(path))
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates that are not escaped bytes
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def check_file(path: str | os.PathLike) -> None:
    """Refuse, with the reason, a path :func:`read_audio` could never read.

    Cheap (no decoding): a missing file, a broken symbolic link, a folder, a device or
    pipe, and a format libsndfile cannot decode (:data:`UNSUPPORTED_AUDIO_EXTENSIONS`).

    Raises
    ------
    AudioError
        Naming the file and the reason.
    """
    path = Path(path)
    name = printable(path)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in UNSUPPORTED_AUDIO_EXTENSIONS:
            raise AudioError(f"cannot use '{name}': unsupported format {suffix}: "
                             "convert to wav/flac/ogg/mp3")
        return
    if path.is_symlink():
        try:
            target = f" to '{printable(os.readlink(path))}'"
        except OSError:
            target = ""
        raise AudioError(f"cannot read '{name}': broken symbolic link{target}")
    if path.is_dir():
        raise AudioError(f"cannot read '{name}': it is a folder, not an audio file")
    if path.exists():
        raise AudioError(f"cannot read '{name}': not a regular file (a device, pipe or socket)")
    raise AudioError(f"cannot read '{name}': no such file")


def _open(path: Path) -> soundfile.SoundFile:
    """``path`` opened by libsndfile, after :func:`check_file`; its header is checked."""
    check_file(path)
    try:
        stream = soundfile.SoundFile(os.fsencode(path))
    except Exception as error:  # libsndfile reports damage through several types
        raise AudioError(f"cannot decode '{printable(path)}': {_reason(error, path)}") from error
    try:
        _check_header(path, stream)
    except BaseException:
        stream.close()
        raise
    return stream


# libsndfile's header log (SoundFile.extra_info) notes a chunk that claims more bytes than
# the file holds as "data : 16000 (should be 7978)".
_CLAIMED_BYTES = re.compile(r"^\s*(data|SSND|riff|RIFF|FORM|RF64)\s*:\s*(\d+)\s*"
                            r"\(should be (\d+)\)", re.MULTILINE)
_AIFF_FRAMES = re.compile(r"Frame count read from 'COMM' chunk \((\d+)\)")
_BYTES_PER_SAMPLE = {"PCM_S8": 1, "PCM_U8": 1, "ULAW": 1, "ALAW": 1, "PCM_16": 2,
                     "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}
_UNKNOWN_LENGTH = 0xFFFF_FF00  # sizes near 2**32: a streaming header, length not known


def _check_header(path: Path, stream: soundfile.SoundFile) -> None:
    """Refuse a WAV/W64/AIFF file whose header promises more samples than it holds.

    libsndfile silently reads such a file as shorter; it is damaged (cut off in a copy or
    download, or still being written), so it is refused as truncated.
    """
    log = stream.extra_info
    frames = stream.frames
    promised = None
    match = _AIFF_FRAMES.search(log)
    if match:
        promised = int(match.group(1))
    else:
        claims = {name.lower(): (int(claimed), int(held))
                  for name, claimed, held in _CLAIMED_BYTES.findall(log)}
        # The data chunk's own size when the log gives it (WAV); the container's size
        # otherwise (W64 logs only that); a container off by a pad byte is not damage.
        claimed, held = claims.get("data") or claims.get("ssnd") or claims.get("riff") \
            or claims.get("form") or claims.get("rf64") or (0, 0)
        bytes_per_frame = _BYTES_PER_SAMPLE.get(stream.subtype, 0) * stream.channels
        if held < claimed < _UNKNOWN_LENGTH and claimed - held >= max(bytes_per_frame, 2):
            if not bytes_per_frame:
                raise AudioError(f"cannot use '{printable(path)}': truncated: header promises "
                                 f"{claimed} bytes of audio, file holds {held}")
            promised = frames + math.ceil((claimed - held) / bytes_per_frame)
    if promised is not None and promised > frames:
        raise AudioError(_truncated(path, promised, frames))


def _check_complete(path: Path, stream: soundfile.SoundFile, n_read: int) -> None:
    """Refuse a file that decoded fewer samples than its header promised (e.g. MP3)."""
    if 0 < stream.frames and n_read < stream.frames:
        raise AudioError(_truncated(path, stream.frames, n_read))


def _reason(error: Exception, path: Path) -> str:
    # libsndfile's message starts with the path, which the caller already shows.
    text = str(error).strip()
    for shown in (repr(os.fsencode(path)), repr(str(path))):
        text = text.removeprefix(f"Error opening {shown}:").strip()
    return printable(text) or type(error).__name__


def _truncated(path: Path, promised: int, held: int) -> str:
    return (f"cannot use '{printable(path)}': truncated: header promises {promised} samples, "
            f"file holds {held} (damaged, or cut off while being copied)")


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
    name = printable(path)
    if block_seconds <= 0:
        raise AudioError(f"cannot read '{name}' in blocks of block_seconds={block_seconds}: "
                         "must be > 0")
    with _open(path) as stream:
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
                raise AudioError(f"cannot decode '{name}' after {n_frames / file_rate:.1f} s:"
                                 f" {_reason(error, path)}") from error
            last = len(frames) == 0
            if not np.isfinite(frames).all():
                raise AudioError(f"cannot use '{name}': it holds NaN or infinite samples "
                                 f"(after {n_frames / file_rate:.1f} s)")
            n_frames += len(frames)
            if last:
                _check_complete(path, stream, n_frames)
                if n_frames == 0:
                    raise AudioError(f"cannot use '{name}': it holds no samples")
                if n_frames / file_rate < min_seconds:
                    raise AudioError(f"cannot use '{name}': {n_frames / file_rate * 1000:.1f}"
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
        The file is missing, cannot be opened, or is truncated (see :func:`read_audio`).
    """
    with _open(Path(path)) as stream:
        return stream.frames / stream.samplerate
