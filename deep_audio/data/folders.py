"""Class folders to labelled files, decoding with a skip list, and the file-level split."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deep_audio.data.cache import AudioCache, CachedAudio
from deep_audio.errors import AudioError, DeepAudioError
from deep_audio.io.audio import check_duration, list_audio_files, printable, read_audio

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledFile:
    """An audio file and the index of its class."""

    path: Path
    label: int


@dataclass
class DecodedFiles:
    """Files that decoded, their samples, and the files that were skipped with why.

    ``waveforms[i]`` is a float32 array, or with a cache a
    :class:`~deep_audio.data.cache.CachedAudio` (sliced from disk on demand).
    """

    files: list[LabelledFile]
    waveforms: list[np.ndarray | CachedAudio]
    skipped: list[tuple[Path, str]]


def class_folders(folders: Sequence[str | os.PathLike], *, min_folders: int = 2
                  ) -> tuple[list[str], list[LabelledFile]]:
    """One class per folder, named after it; files are found recursively.

    This and :func:`class_names_of` are the one listing of class folders: every command
    that takes class folders finds names and files here.

    Files come from :func:`~deep_audio.io.audio.list_audio_files`: with the usable ones,
    anything named like audio that cannot be read (a folder, a broken link, an ``.m4a``)
    is listed too, so :func:`decode_files` reports it as skipped with its reason.

    Returns
    -------
    class_names : list of str
        Folder names, in the order given.
    files : list of LabelledFile
        Every audio file with its class index.

    Parameters
    ----------
    folders : sequence of str or PathLike
        One folder per class.
    min_folders : int
        How many folders are needed: 2 to train, 1 to embed or evaluate.

    Raises
    ------
    DeepAudioError
        Fewer than ``min_folders`` folders, two folders with one name, or a folder with
        no audio.
    """
    paths = [Path(folder) for folder in folders]
    names = class_names_of(paths, min_folders=min_folders)
    files = []
    for label, path in enumerate(paths):
        found = list_audio_files(path)
        if not found:
            raise AudioError(f"class folder '{printable(path)}' holds no audio files")
        files.extend(LabelledFile(file, label) for file in found)
    return names, files


def class_names_of(folders: Sequence[str | os.PathLike], *, min_folders: int = 2
                   ) -> list[str]:
    """The class names of class folders: their names, which must be distinct.

    Two folders with one name (``train/dog`` and ``extra/dog``) are refused: their files
    would silently become one class, or two classes that cannot be told apart.

    Raises
    ------
    DeepAudioError
        Fewer than ``min_folders`` folders, or two folders with one name.
    """
    paths = [Path(folder) for folder in folders]
    if len(paths) < min_folders:
        needed = {1: "one class folder", 2: "two class folders"}.get(
            min_folders, f"{min_folders} class folders")
        raise DeepAudioError(f"need at least {needed}, got {[printable(p) for p in paths]}")
    names = [path.resolve().name for path in paths]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DeepAudioError(f"class folders must have distinct names; repeated: {repeated}")
    return names


def decode_files(files: Sequence[LabelledFile], *, sample_rate: int, min_seconds: float,
                 workers: int | None = None, cache: AudioCache | None = None
                 ) -> DecodedFiles:
    """Decode every file at ``sample_rate``; unusable files are skipped, not fatal.

    Decoding runs in a thread pool (libsndfile and soxr release the GIL). With ``cache``,
    each file is decoded at most once across runs and processes, and the result holds
    on-disk entries instead of arrays, so memory does not grow with the dataset.
    """
    workers = workers or min(8, os.cpu_count() or 1)

    def decode(item: LabelledFile):
        try:
            if cache is None:
                return read_audio(item.path, sample_rate=sample_rate,
                                  min_seconds=min_seconds)[0]
            samples = cache.entry(item.path)
            check_duration(item.path, len(samples) / sample_rate, min_seconds)
            return samples
        except AudioError as error:
            return error

    result = DecodedFiles([], [], [])
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for item, outcome in zip(files, pool.map(decode, files)):
            if isinstance(outcome, AudioError):
                logger.debug("skipping: %s", outcome)
                result.skipped.append((item.path, str(outcome)))
            else:
                result.files.append(item)
                result.waveforms.append(outcome)
    return result


def stratified_file_split(labels: Sequence[int], *, validation_fraction: float, seed: int
                          ) -> tuple[list[int], list[int]]:
    """Split file indices into training and validation, class by class.

    Each class with at least two files gives ``round(validation_fraction * n)`` files
    (at least one) to validation; a class with one file stays in training. Splitting
    files, not segments, keeps the segments of one recording on one side.

    >>> stratified_file_split([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], validation_fraction=0.2, seed=0)
    ([0, 1, 3, 4, 5, 6, 7, 8], [2, 9])
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    train, validation = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        n_validation = 0 if len(members) < 2 else max(1, round(validation_fraction * len(members)))
        n_validation = min(n_validation, len(members) - 1)
        validation.extend(members[:n_validation].tolist())
        train.extend(members[n_validation:].tolist())
    return sorted(train), sorted(validation)
