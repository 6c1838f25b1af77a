"""Hand-crafted audio features: 68 short-term, 136 mid-term statistics, one vector per file.

The features and their names follow pyAudioAnalysis 0.3.14 (``ShortTermFeatures`` and
``MidTermFeatures``) so that values, names and models carry over; every frame is computed
at once with numpy (no loop over frames). ``docs/classic.md`` lists the definitions, the
measured parity with pyAudioAnalysis and the few places where deep_audio deliberately
differs (inputs on which pyAudioAnalysis crashes or returns nothing).

Shapes: short-term features are ``(68, n_frames)`` (one column per frame, as in
pyAudioAnalysis), mid-term statistics ``(136, n_mid_windows)``, a file vector ``(136,)``
and a folder ``(n_files, 136)``.

>>> rate = 16000
>>> t = np.arange(rate) / rate
>>> features, names = short_term_features(np.sin(2 * np.pi * 1000 * t), rate,
...                                       window_seconds=0.050, step_seconds=0.025)
>>> features.shape, names[3]
((68, 39), 'spectral_centroid')
>>> round(float(features[3].mean() * rate / 2))  # centroid in Hz: the tone + one bin (20 Hz)
1020
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import scipy.fft
from threadpoolctl import ThreadpoolController

from deep_audio.config import seconds_to_samples
from deep_audio.errors import DeepAudioError
from deep_audio.io.audio import list_audio_files, read_audio

logger = logging.getLogger(__name__)

N_MFCC = 13
N_CHROMA = 12
N_SUB_BLOCKS = 10          # sub-frames of the energy entropy and sub-bands of the spectral entropy
ROLLOFF_SHARE = 0.90       # spectral rolloff: share of the spectral energy below the rolloff bin
MIN_WINDOW_SAMPLES = 2 * N_SUB_BLOCKS  # so that the spectrum has one bin per entropy sub-band
EPS = np.finfo(np.float64).eps  # pyAudioAnalysis's ``eps`` (sys.float_info.epsilon)
CHUNK_FRAMES = 256         # frames per block of work (keeps temporaries in cache)

BASE_NAMES = (
    ["zcr", "energy", "energy_entropy", "spectral_centroid", "spectral_spread",
     "spectral_entropy", "spectral_flux", "spectral_rolloff"]
    + [f"mfcc_{i}" for i in range(1, N_MFCC + 1)]
    + [f"chroma_{i}" for i in range(1, N_CHROMA + 1)]
    + ["chroma_std"]
)
SHORT_TERM_NAMES = BASE_NAMES + ["delta " + name for name in BASE_NAMES]
MID_TERM_NAMES = ([name + "_mean" for name in SHORT_TERM_NAMES]
                  + [name + "_std" for name in SHORT_TERM_NAMES])


def short_term_features(
    samples: np.ndarray, sample_rate: int, *, window_seconds: float, step_seconds: float,
) -> tuple[np.ndarray, list[str]]:
    """The 34 short-term features and their deltas, for every frame at once.

    The signal is first DC-removed and peak-normalised (as pyAudioAnalysis does), then cut
    into frames of ``round(window_seconds * sample_rate)`` samples every
    ``round(step_seconds * sample_rate)`` samples; a frame is kept only if it fits
    entirely in the signal. No window function is applied.

    Parameters
    ----------
    samples : np.ndarray, shape (samples,)
        Mono audio, any scale (it is peak-normalised). Silence and constant signals are
        allowed and give finite features.
    sample_rate : int
        Rate of ``samples`` in Hz.
    window_seconds : float
        Frame length in seconds; at least 20 samples.
    step_seconds : float
        Hop between frame starts in seconds; > 0.

    Returns
    -------
    features : np.ndarray, float64, shape (68, n_frames)
        Rows in the order of ``names``; ``n_frames = 1 + (samples - win) // hop``.
    names : list of str
        ``zcr, energy, energy_entropy, spectral_centroid, spectral_spread,
        spectral_entropy, spectral_flux, spectral_rolloff, mfcc_1..13, chroma_1..12,
        chroma_std``, then the same names prefixed by ``"delta "``.

    Raises
    ------
    DeepAudioError
        Settings out of range, a signal that is not 1-D or not finite, or a signal
        shorter than one window.
    """
    win_length, hop_length = _window_samples(sample_rate, window_seconds, step_seconds)
    signal = np.asarray(samples, dtype=np.float64)
    if signal.ndim != 1:
        raise DeepAudioError(f"samples must be mono with shape (samples,), got shape "
                             f"{signal.shape}; average the channels first")
    if not np.isfinite(signal).all():
        raise DeepAudioError("samples hold NaN or infinite values")
    if len(signal) < win_length:
        raise DeepAudioError(
            f"signal of {len(signal)} samples ({len(signal) / sample_rate * 1000:.1f} ms) is "
            f"shorter than one window of {win_length} samples ({window_seconds * 1000:g} ms)")

    signal = signal - signal.mean()
    signal /= max(signal.max(), -signal.min()) + 1e-10
    with _one_blas_thread():
        base = _base_features(signal, sample_rate, win_length, hop_length)
    deltas = np.zeros_like(base)
    deltas[:, 1:] = np.diff(base, axis=1)
    return np.concatenate([base, deltas]), list(SHORT_TERM_NAMES)


def mid_term_statistics(
    short_features: np.ndarray, *, window_frames: int, step_frames: int,
) -> np.ndarray:
    """Mean and standard deviation of each short-term feature over mid-term windows.

    Windows start every ``step_frames`` frames while the start lies inside the sequence;
    the last windows are cut at its end (so they may hold fewer frames).

    Parameters
    ----------
    short_features : np.ndarray, shape (n_features, n_frames)
    window_frames, step_frames : int
        Mid-term window and step in short-term frames, both >= 1.

    Returns
    -------
    np.ndarray, shape (2 * n_features, n_windows)
        Means in the first ``n_features`` rows, population standard deviations after.
    """
    if window_frames < 1 or step_frames < 1:
        raise DeepAudioError(f"window_frames={window_frames} and step_frames={step_frames} "
                             f"must be >= 1")
    n_features, n_frames = short_features.shape
    if n_frames == 0:
        raise DeepAudioError("no short-term frames to summarise")
    padded = np.full((n_features, n_frames + window_frames - 1), np.nan)
    padded[:, :n_frames] = short_features
    windows = np.lib.stride_tricks.sliding_window_view(padded, window_frames, axis=1)
    windows = windows[:, :n_frames:step_frames]          # (n_features, n_windows, frames)
    counts = np.minimum(window_frames, n_frames - np.arange(0, n_frames, step_frames))
    filled = np.nan_to_num(windows, nan=0.0)
    means = filled.sum(axis=2) / counts
    deviations = np.where(np.isnan(windows), 0.0, windows - means[..., None])
    stds = np.sqrt((deviations ** 2).sum(axis=2) / counts)
    return np.concatenate([means, stds])


def mid_term_features(
    samples: np.ndarray, sample_rate: int, *, mid_window_seconds: float,
    mid_step_seconds: float, short_window_seconds: float, short_step_seconds: float,
) -> tuple[np.ndarray, list[str]]:
    """Short-term features summarised over mid-term windows (136 statistics each).

    A mid-term window spans the short-term frames that fit in ``mid_window_seconds``
    (``round((mid - (short_window - short_step)) / short_step)`` frames, as in
    pyAudioAnalysis) and windows start every ``round(mid_step / short_step)`` frames.

    Parameters
    ----------
    samples : np.ndarray, shape (samples,)
        Mono audio.
    sample_rate : int
        Hz.
    mid_window_seconds, mid_step_seconds : float
        Mid-term window and step in seconds, at least one short-term step.
    short_window_seconds, short_step_seconds : float
        Short-term window and step in seconds (see :func:`short_term_features`).

    Returns
    -------
    features : np.ndarray, float64, shape (136, n_mid_windows)
    names : list of str
        ``"<short-term name>_mean"`` for the 68 features, then ``"<name>_std"``.
    """
    short, _ = short_term_features(samples, sample_rate, window_seconds=short_window_seconds,
                                   step_seconds=short_step_seconds)
    window_frames, step_frames = _mid_term_frames(
        sample_rate, mid_window_seconds, mid_step_seconds, short_window_seconds,
        short_step_seconds)
    return (mid_term_statistics(short, window_frames=window_frames, step_frames=step_frames),
            list(MID_TERM_NAMES))


def file_features(
    path: str | os.PathLike, *, mid_window_seconds: float, mid_step_seconds: float,
    short_window_seconds: float, short_step_seconds: float, sample_rate: int | None = None,
) -> tuple[np.ndarray, list[str]]:
    """One vector per file: the mean of its mid-term statistics.

    Parameters
    ----------
    path : str or PathLike
        Any file :func:`deep_audio.io.audio.read_audio` reads; stereo is averaged to mono.
    mid_window_seconds, mid_step_seconds, short_window_seconds, short_step_seconds : float
        See :func:`mid_term_features`.
    sample_rate : int, optional
        Resample to this rate in Hz first. ``None`` (default, like pyAudioAnalysis) keeps
        the file's own rate; spectral features are relative to it (centroid is a share
        of the Nyquist frequency), so mixing rates in one data set mixes scales.

    Returns
    -------
    vector : np.ndarray, float64, shape (136,)
    names : list of str

    Raises
    ------
    DeepAudioError
        The file cannot be read (:class:`~deep_audio.errors.AudioError`) or is shorter
        than one short-term window.
    """
    samples, rate = read_audio(path, sample_rate=sample_rate)
    try:
        mid, names = mid_term_features(
            samples, rate, mid_window_seconds=mid_window_seconds,
            mid_step_seconds=mid_step_seconds, short_window_seconds=short_window_seconds,
            short_step_seconds=short_step_seconds)
    except DeepAudioError as error:
        raise DeepAudioError(f"cannot use '{path}': {error}") from None
    return mid.mean(axis=1), names


@dataclass
class FolderFeatures:
    """Feature vectors of the usable files of a folder, and the files skipped with why.

    Attributes
    ----------
    features : np.ndarray, shape (n_files, 136)
    files : list of str
        Paths of the rows of ``features``.
    names : list of str
        The 136 statistic names.
    skipped : list of (str, str)
        ``(path, reason)`` of every file that could not be used.
    """

    features: np.ndarray
    files: list[str]
    names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def folder_features(
    folder: str | os.PathLike, *, mid_window_seconds: float, mid_step_seconds: float,
    short_window_seconds: float, short_step_seconds: float, sample_rate: int | None = None,
) -> FolderFeatures:
    """:func:`file_features` for every audio file under ``folder`` (recursively, sorted).

    Damaged, empty or too-short files are skipped with a logged warning naming the file
    and the reason, and listed in ``skipped``; they never abort the folder.

    Raises
    ------
    DeepAudioError
        ``folder`` is not a directory, or a window setting is out of range.
    """
    # Check the settings once, so that a bad setting is one error, not one skip per file.
    _window_samples(8000, short_window_seconds, short_step_seconds)
    _check_positive(mid_window_seconds=mid_window_seconds, mid_step_seconds=mid_step_seconds)
    rows, files, skipped = [], [], []
    for path in list_audio_files(folder):
        try:
            vector, _ = file_features(
                path, mid_window_seconds=mid_window_seconds, mid_step_seconds=mid_step_seconds,
                short_window_seconds=short_window_seconds,
                short_step_seconds=short_step_seconds, sample_rate=sample_rate)
        except DeepAudioError as error:
            logger.warning("skipping %s", error)
            skipped.append((str(path), str(error)))
            continue
        rows.append(vector)
        files.append(str(path))
    if skipped:
        logger.warning("%s: skipped %d of %d audio files", folder, len(skipped),
                       len(skipped) + len(files))
    features = np.array(rows) if rows else np.empty((0, len(MID_TERM_NAMES)))
    return FolderFeatures(features, files, list(MID_TERM_NAMES), skipped)


def directory_feature_extraction(
    folder: str | os.PathLike, mid_window_seconds: float, mid_step_seconds: float,
    short_window_seconds: float, short_step_seconds: float, *, sample_rate: int | None = None,
) -> tuple[np.ndarray, list[str], list[str]]:
    """pyAudioAnalysis's call: one 136-statistic vector per audio file of a folder.

    Same arguments and results as ``pyAudioAnalysis.MidTermFeatures
    .directory_feature_extraction`` (without its beat features), e.g.
    ``features, files, names = directory_feature_extraction("data/classical", 1.0, 1.0,
    0.1, 0.05)``. Skipped files are logged; :func:`folder_features` also returns them.

    Returns
    -------
    features : np.ndarray, shape (n_files, 136)
    files : list of str
    names : list of str
    """
    result = folder_features(
        folder, mid_window_seconds=mid_window_seconds, mid_step_seconds=mid_step_seconds,
        short_window_seconds=short_window_seconds, short_step_seconds=short_step_seconds,
        sample_rate=sample_rate)
    return result.features, result.files, result.names


def spectrogram(
    samples: np.ndarray, sample_rate: int, *, window_seconds: float, step_seconds: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Magnitude spectrogram (no window function, like the seed's view of a file).

    Returns
    -------
    magnitude : np.ndarray, shape (win_length // 2 + 1, n_frames)
    frequencies_hz : np.ndarray, shape (win_length // 2 + 1,)
    times_seconds : np.ndarray, shape (n_frames,)
        Frame centres.
    """
    win_length, hop_length = _window_samples(sample_rate, window_seconds, step_seconds)
    signal = np.asarray(samples, dtype=np.float64)
    if signal.ndim != 1 or len(signal) < win_length:
        raise DeepAudioError(f"need a mono signal of at least {win_length} samples, got shape "
                             f"{signal.shape}")
    frames = np.lib.stride_tricks.sliding_window_view(signal, win_length)[::hop_length]
    magnitude = np.abs(scipy.fft.rfft(frames, axis=1)).T
    frequencies = np.fft.rfftfreq(win_length, 1 / sample_rate)
    times = (np.arange(frames.shape[0]) * hop_length + win_length / 2) / sample_rate
    return magnitude, frequencies, times


# --- the 34 base features ---------------------------------------------------------------

def _base_features(signal: np.ndarray, sample_rate: int, win_length: int,
                   hop_length: int) -> np.ndarray:
    """The normalised signal to (34, n_frames) base features.

    Frames are processed in chunks of :data:`CHUNK_FRAMES` so that the temporaries stay
    in the CPU cache (about 1.5x faster than all frames at once); each chunk also gets
    the frame before it, which the spectral flux of its first frame needs. Threads do
    not help on 2 cores (measured), so there are none.
    """
    frames = np.lib.stride_tricks.sliding_window_view(signal, win_length)[::hop_length]
    n_frames = frames.shape[0]
    out = np.empty((len(BASE_NAMES), n_frames))

    # Zero crossings over the whole signal once; sign(0) = 0 counts half a crossing.
    signs = (signal > 0).view(np.int8) - (signal < 0).view(np.int8)
    changes = np.diff(signs)
    np.abs(changes, out=changes)
    crossings = np.zeros(len(signal), dtype=np.int64)
    np.cumsum(changes, out=crossings[1:])
    starts = np.arange(n_frames) * hop_length
    out[0] = (crossings[starts + win_length - 1] - crossings[starts]) / 2 / (win_length - 1)

    bounds = list(range(0, n_frames, CHUNK_FRAMES)) + [n_frames]

    def work(chunk: int) -> None:
        first, stop = bounds[chunk], bounds[chunk + 1]
        before = 1 if first > 0 else 0
        values = _frame_features(frames[first - before:stop], sample_rate)
        out[1:, first:stop] = values[:, before:]
        if not before:
            out[6, 0] = 0.0  # the first frame's flux: against itself, as pyAudioAnalysis

    for chunk in range(len(bounds) - 1):
        work(chunk)
    return out


def _frame_features(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """(n, win) frames to (33, n) features: all but the zero-crossing rate.

    The flux of row 0 compares the frame with itself (0); callers overwrite it when they
    know the previous frame.
    """
    n_frames, win_length = frames.shape
    n_bins = win_length // 2
    out = np.empty((len(BASE_NAMES) - 1, n_frames))

    block = win_length // N_SUB_BLOCKS
    blocks = frames[:, :block * N_SUB_BLOCKS].reshape(n_frames, N_SUB_BLOCKS, block)
    block_energy = np.einsum("ijk,ijk->ij", blocks, blocks)
    frame_energy = np.einsum("ij,ij->i", frames, frames)
    out[0] = frame_energy / win_length
    out[1] = _entropy(block_energy, frame_energy)

    # Spectrum: first K = win // 2 bins of |FFT|, divided by K.
    magnitude = np.abs(scipy.fft.rfft(frames, axis=1)[:, :n_bins])
    magnitude /= n_bins
    power = magnitude * magnitude
    total_power = power.sum(axis=1)

    # Centroid and spread over bin frequencies (k + 1) * fs / (2K), as shares of fs / 2.
    # The spread uses sum((f - c)^2 w) = sum(f^2 w) - 2 c sum(f w) + c^2 sum(w).
    bin_hz = np.arange(1, n_bins + 1) * (sample_rate / (2.0 * n_bins))
    peak = magnitude.max(axis=1)
    moments = magnitude @ np.stack([np.ones(n_bins), bin_hz, bin_hz ** 2], axis=1)
    moments /= np.where(peak == 0, EPS, peak)[:, None]    # weights = magnitude / peak
    denominator = moments[:, 0] + EPS
    centroid = moments[:, 1] / denominator
    spread_sq = (moments[:, 2] - 2 * centroid * moments[:, 1]
                 + centroid ** 2 * moments[:, 0]) / denominator
    out[2] = centroid / (sample_rate / 2.0)
    out[3] = np.sqrt(np.maximum(spread_sq, 0.0)) / (sample_rate / 2.0)
    out[4] = _entropy(power[:, :(n_bins // N_SUB_BLOCKS) * N_SUB_BLOCKS]
                      .reshape(n_frames, N_SUB_BLOCKS, -1).sum(axis=2), total_power)

    # Flux between the sum-normalised spectra of consecutive frames.
    shares = magnitude / (magnitude.sum(axis=1, keepdims=True) + n_bins * EPS)
    out[5, 0] = 0.0
    difference = shares[1:] - shares[:-1]
    out[5, 1:] = np.einsum("ij,ij->i", difference, difference)

    # Rolloff: first bin whose cumulative power (+ eps) exceeds 90 % of the total, over K.
    cumulative = np.cumsum(power, axis=1)
    below = (cumulative + EPS <= (ROLLOFF_SHARE * total_power)[:, None]).sum(axis=1)
    out[6] = np.where(below < n_bins, below, 0) / n_bins

    filter_bank, dct = _mfcc_matrices(sample_rate, n_bins)
    out[7:7 + N_MFCC] = (np.log10(magnitude @ filter_bank + EPS) @ dct).T

    chroma = power @ _chroma_matrix(sample_rate, n_bins)
    chroma /= np.where(total_power == 0, EPS, total_power)[:, None]
    first = 7 + N_MFCC
    out[first:first + N_CHROMA] = chroma.T
    out[first + N_CHROMA] = chroma.std(axis=1)
    return out


def _one_blas_thread() -> contextlib.AbstractContextManager:
    """Run the small matrix products on one BLAS thread.

    A multi-threaded BLAS makes them several times slower when the cores are busy (38 ms
    vs 120-240 ms for a minute of audio on 2 loaded cores, measured).
    """
    return _blas_controller().limit(limits=1, user_api="blas")


@lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    """Built on first use: it lists the thread pools of the libraries loaded by then."""
    return ThreadpoolController()


def _entropy(parts: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Entropy in bits of each row's parts (n, 10) as shares of its total (n,).

    The total may exceed the sum of the parts (a tail of ``length % 10`` samples or bins
    is left out of the 10 blocks but kept in the total), as in pyAudioAnalysis.
    """
    shares = parts / (totals[:, None] + EPS)
    return -(shares * np.log2(shares + EPS)).sum(axis=1)


@lru_cache(maxsize=32)
def _mfcc_matrices(sample_rate: int, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Filter bank (K, 40) and DCT-II matrix (40, 13), as pyAudioAnalysis builds them.

    The 40 triangles (unit area) have corners at 13 linear frequencies from 133.33 Hz in
    steps of 66.67 Hz, then 27 log-spaced by a factor 1.0711703. Like pyAudioAnalysis,
    bin k is placed at ``k * fs / K`` Hz when the triangles are laid on the bins.
    """
    n_linear, n_log = 13, 27
    corners = np.empty(n_linear + n_log + 2)
    corners[:n_linear] = 133.33 + np.arange(n_linear) * (200 / 3)
    corners[n_linear:] = corners[n_linear - 1] * 1.0711703 ** np.arange(1, n_log + 3)
    low, centre, high = corners[:-2, None], corners[1:-1, None], corners[2:, None]
    heights = 2.0 / (high - low)

    bins = np.arange(n_bins)[None, :]
    bin_hz = bins / n_bins * sample_rate
    first = np.floor(low * n_bins / sample_rate) + 1
    middle = np.floor(centre * n_bins / sample_rate) + 1
    last = np.floor(high * n_bins / sample_rate) + 1
    rising = (bins >= first) & (bins < middle)
    falling = (bins >= middle) & (bins < last)
    bank = (np.where(rising, heights / (centre - low) * (bin_hz - low), 0.0)
            + np.where(falling, heights / (high - centre) * (high - bin_hz), 0.0))

    n_bands = len(low)
    k = np.arange(N_MFCC)[None, :]
    n = np.arange(n_bands)[:, None]
    dct = np.sqrt(2.0 / n_bands) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_bands))
    dct[:, 0] /= np.sqrt(2.0)
    return np.ascontiguousarray(bank.T), dct


@lru_cache(maxsize=32)
def _chroma_matrix(sample_rate: int, n_bins: int) -> np.ndarray:
    """(K, 12) matrix from the power spectrum to unnormalised chroma, as pyAudioAnalysis.

    Bin k (at ``(k + 1) * fs / (2K)`` Hz) has semitone number n = round(12 log2(f / 27.5)).
    pyAudioAnalysis writes the power of the last bin of each semitone to slot n of a
    K-long vector (negative n wrap around to the end), divides slot p by the bin count
    of semitone ``n[p]`` and sums the slots p by ``p % 12``. When a semitone number
    reaches K (windows of about 12 ms or less) it raises instead; there each slot is the
    semitone's last bin divided by that semitone's bin count.
    """
    bin_hz = np.arange(1, n_bins + 1) * sample_rate / (2.0 * n_bins)
    semitone = np.round(12.0 * np.log2(bin_hz / 27.5)).astype(int)
    _, inverse, counts = np.unique(semitone, return_inverse=True, return_counts=True)
    bins_per_semitone = counts[inverse]                   # per bin: size of its semitone
    compatible = semitone.max() < n_bins
    n_slots = n_bins if compatible else max(n_bins, semitone.max() + 1)
    slot = semitone % n_slots
    owner = np.full(n_slots, -1)
    np.maximum.at(owner, slot, np.arange(n_bins))       # the last bin written to each slot
    used = np.flatnonzero(owner >= 0)
    if compatible:
        divisor = bins_per_semitone[semitone[used] % n_bins]
    else:
        divisor = bins_per_semitone[owner[used]]
    matrix = np.zeros((n_bins, N_CHROMA))
    np.add.at(matrix, (owner[used], used % N_CHROMA), 1.0 / divisor)
    return matrix


# --- settings ---------------------------------------------------------------------------

def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, (int, float, np.number)) and np.isfinite(value) and value > 0):
            raise DeepAudioError(f"{name}={value!r} must be a number > 0")


def _window_samples(sample_rate: int, window_seconds: float, step_seconds: float
                    ) -> tuple[int, int]:
    _check_positive(sample_rate=sample_rate, window_seconds=window_seconds,
                    step_seconds=step_seconds)
    win_length = seconds_to_samples(window_seconds, sample_rate)
    hop_length = seconds_to_samples(step_seconds, sample_rate)
    if win_length < MIN_WINDOW_SAMPLES:
        raise DeepAudioError(f"window_seconds={window_seconds} is {win_length} samples at "
                             f"{sample_rate} Hz; need at least {MIN_WINDOW_SAMPLES}")
    if hop_length < 1:
        raise DeepAudioError(f"step_seconds={step_seconds} is under one sample at "
                             f"{sample_rate} Hz")
    return win_length, hop_length


def _mid_term_frames(sample_rate: int, mid_window_seconds: float, mid_step_seconds: float,
                     short_window_seconds: float, short_step_seconds: float) -> tuple[int, int]:
    _check_positive(mid_window_seconds=mid_window_seconds, mid_step_seconds=mid_step_seconds)
    mid_window = seconds_to_samples(mid_window_seconds, sample_rate)
    mid_step = seconds_to_samples(mid_step_seconds, sample_rate)
    short_window, short_step = _window_samples(sample_rate, short_window_seconds,
                                               short_step_seconds)
    window_frames = round((mid_window - (short_window - short_step)) / short_step)
    step_frames = round(mid_step / short_step)
    if window_frames < 1 or step_frames < 1:
        raise DeepAudioError(
            f"mid-term window {mid_window_seconds} s / step {mid_step_seconds} s hold no "
            f"short-term frame of {short_window_seconds} s every {short_step_seconds} s")
    return int(window_frames), int(step_frames)
