"""An on-disk cache of decoded, resampled audio, read back as memory-mapped arrays.

Decoding and resampling cost more than the log-mel front-end, and a training run reads
every file once per epoch; with the cache, the first pass decodes each file once and
every later epoch, run or process reads ``.npy`` files instead. The cached item is the
waveform (not the log-mel), so one cache serves every front-end setting, waveform
augmentation works, and the spectrogram is still computed in batches on the training
device.

Layout: ``<directory>/<rate>hz/<key[:2]>/<key>.npy`` (float32 samples) or
``<key>.error`` (why the file could not be decoded), where ``key`` hashes the file's
absolute path (its bytes, so any file name works), size, modification time and inode, so
a changed file gets a new entry and
the stale one is never read. Entries are written to a temporary file and renamed into
place, so concurrent processes sharing a cache never read a partial entry; two
processes decoding one file write identical bytes and the last rename wins.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from deep_audio.errors import AudioError, ConfigError
from deep_audio.io.audio import check_file, printable, read_audio
from deep_audio.io.files import atomic_write

FORMAT_VERSION = 1  # bump when the decoder's output changes (e.g. another resampler)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/deep_audio``, else ``~/.cache/deep_audio``."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "deep_audio"


def resolve_cache_dir(setting: str | None) -> Path | None:
    """The ``cache_dir`` setting as a folder: ``"auto"`` is :func:`default_cache_dir`,
    ``"none"`` (or ``None``) means no cache."""
    if setting is None or str(setting).lower() in ("none", "null", "off", ""):
        return None
    return default_cache_dir() if setting == "auto" else Path(setting).expanduser()


class AudioCache:
    """Decoded audio at one sample rate, cached as ``.npy`` files under ``directory``.

    Parameters
    ----------
    directory : str or PathLike
        Cache root; created on first write. Safe to share between processes.
    sample_rate : int
        Rate in Hz the files are resampled to; each rate has its own sub-folder.
    """

    def __init__(self, directory: str | os.PathLike, sample_rate: int):
        self.directory = Path(directory)
        self.sample_rate = int(sample_rate)
        self.folder = self.directory / f"{self.sample_rate}hz"

    def __repr__(self) -> str:
        return f"AudioCache({str(self.directory)!r}, sample_rate={self.sample_rate})"

    def key(self, path: str | os.PathLike) -> str:
        """Hash of the file's identity: absolute path, size, mtime (ns) and inode.

        The path enters as its bytes (``os.fsencode``), so a name that is not valid
        UTF-8 has a key too; for every other name these are the bytes of its UTF-8 text.
        """
        path = Path(path).absolute()
        try:
            status = path.stat()
        except OSError as error:
            raise AudioError(f"cannot read '{printable(path)}': {error.strerror}") from None
        identity = (f"v{FORMAT_VERSION}|".encode() + os.fsencode(path)
                    + f"|{status.st_size}|{status.st_mtime_ns}|{status.st_ino}".encode())
        return hashlib.sha256(identity).hexdigest()

    def entry(self, path: str | os.PathLike) -> CachedAudio:
        """The cached samples of ``path``, decoding and storing them on a miss.

        Raises
        ------
        AudioError
            The file cannot be decoded (the reason is cached too, so a damaged file is
            not decoded again until it changes), or is no file at all (a folder, a broken
            link: see :func:`~deep_audio.io.audio.check_file`; nothing is cached then).
        """
        check_file(path)
        key = self.key(path)
        stem = self.folder / key[:2] / key
        samples_path, error_path = stem.with_suffix(".npy"), stem.with_suffix(".error")
        if error_path.is_file():
            raise AudioError(error_path.read_text(encoding="utf-8"))
        if samples_path.is_file():
            try:
                return CachedAudio(samples_path)
            except (OSError, ValueError):
                pass  # a damaged entry (disk trouble, an edit by hand): decode again
        try:
            samples, _ = read_audio(path, sample_rate=self.sample_rate)
        except AudioError as error:
            self._write(error_path, str(error).encode("utf-8", "backslashreplace"))
            raise
        self._write_array(samples_path, samples)
        return CachedAudio(samples_path)

    def _write_array(self, target: Path, samples: np.ndarray) -> None:
        def save(stream):
            np.save(stream, np.ascontiguousarray(samples, dtype=np.float32))
        self._atomic(target, save)

    def _write(self, target: Path, data: bytes) -> None:
        self._atomic(target, lambda stream: stream.write(data))

    def _atomic(self, target: Path, write) -> None:
        try:
            atomic_write(target, write, sync=False)  # a lost entry is decoded again
        except OSError as error:
            raise ConfigError(f"cannot write to the audio cache '{self.directory}': "
                              f"{error.strerror or error}; set cache_dir to a writable "
                              "folder, or to none for no cache") from error


class CachedAudio:
    """The samples of one cache entry: ``len()`` and slicing, read from disk on demand.

    Slicing maps the file, copies the slice out and unmaps it, so holding thousands of
    these costs no memory: only the slices a batch needs are ever resident.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        samples = np.load(self.path, mmap_mode="r")
        if samples.ndim != 1 or samples.dtype != np.float32:
            raise AudioError(f"'{self.path}' is not a cache entry")
        self.length = len(samples)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: slice) -> np.ndarray:
        return np.array(np.load(self.path, mmap_mode="r")[index])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.asarray(self[:], dtype=dtype)

    def __repr__(self) -> str:
        return f"CachedAudio({str(self.path)!r}, length={self.length})"
