"""A folder of background recordings, decoded once for mixing into training segments.

Background mixing (:class:`deep_audio.training.augment.Augmentation`) draws its excerpts
from this bank: every recording in the folder at the front end's rate, one after the
other, with where each starts, so an excerpt can be taken from one recording at a time.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch

from deep_audio.errors import AudioError, ConfigError
from deep_audio.io.audio import list_audio_files, printable, read_audio

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackgroundBank:
    """Background recordings end to end.

    ``samples``: ``(total_samples,)`` float32; ``starts`` and ``lengths``:
    ``(n_recordings,)`` int64, where each recording lies in ``samples``.
    """

    samples: torch.Tensor
    starts: torch.Tensor
    lengths: torch.Tensor


def load_backgrounds(folder: str | os.PathLike, sample_rate: int) -> BackgroundBank:
    """Every audio file under ``folder`` (recursively), mono at ``sample_rate`` Hz.

    A file that cannot be read is skipped with a warning naming it and the reason.

    Raises
    ------
    ConfigError
        ``folder`` is not a directory or holds no readable audio.
    """
    try:
        paths = list_audio_files(folder)
    except AudioError as error:
        raise ConfigError(f"background_folder: {error}") from error
    recordings = []
    for path in paths:
        try:
            samples, _ = read_audio(path, sample_rate=sample_rate)
        except AudioError as error:
            logger.warning("background recording skipped: %s", error)
            continue
        if not (samples != 0).any():  # silence would mix in nothing, at any SNR
            logger.warning("background recording skipped: '%s' is silent", printable(path))
            continue
        recordings.append(torch.from_numpy(samples))
    if not recordings:
        raise ConfigError(f"background_folder '{printable(folder)}' holds no readable, "
                          f"non-silent audio ({len(paths)} audio files listed)")
    lengths = torch.tensor([len(r) for r in recordings], dtype=torch.int64)
    starts = torch.cumsum(lengths, 0) - lengths
    logger.info("background mixing: %d recordings, %.1f s, from '%s'", len(recordings),
                float(lengths.sum()) / sample_rate, printable(folder))
    return BackgroundBank(torch.cat(recordings), starts, lengths)
