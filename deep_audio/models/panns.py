"""PANNs CNN14 (Kong et al. 2020, "PANNs: Large-Scale Pretrained Audio Neural Networks
for Audio Pattern Recognition"), written from the paper, loading the published checkpoints.

The network: a log-mel front end (Hann-windowed STFT with centred, reflect-padded frames,
power spectrum, Slaney mel bank, ``10 log10(max(x, 1e-10))``), BatchNorm over the mel bins
(``bn0``), six conv blocks (two 3x3 conv + BatchNorm + ReLU, then 2x2 average pooling;
none after the sixth) with 64 ... 2048 channels, global pooling (mean over frequency,
then max + mean over time), ``fc1`` (2048) + ReLU = the embedding, and ``fc_audioset``
(527) + sigmoid = the AudioSet tags.

==================  ===========  =====  ====  ===  ==========  ============================
variant             sample_rate  n_fft  hop   mel  f_min-f_max  published file (Zenodo 3987831)
==================  ===========  =====  ====  ===  ==========  ============================
panns_cnn14         32000        1024   320   64   50-14000    ``Cnn14_mAP=0.431.pth``
panns_cnn14_16k     16000        512    160   64   50-8000     ``Cnn14_16k_mAP=0.438.pth``
==================  ===========  =====  ====  ===  ==========  ============================

A published file is a ``torch.save`` of ``{"model": state_dict, ...}``; it is read with
``weights_only=True``. Its STFT and mel matrices (``spectrogram_extractor.*``,
``logmel_extractor.melW``) are not weights to learn: they are checked against the ones
this module computes for the variant (which catches a file of the other sample rate) and
then dropped.

The decision-level variant (:class:`Cnn14DecisionLevel`, ``Cnn14_DecisionLevelMax``:
AudioSet tags per 10 ms frame) loads with ``load_cnn14(path, decision_level=True)``; as a
backbone for new classes a decision-level file loads like any CNN14 file (same weights).
Frame-level features of CNN14 are :meth:`Cnn14.frames` (one 2048-value frame per 32 input
frames).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torchaudio
from torch import nn
from torch.nn import functional as F

from deep_audio.config import FrontEndConfig
from deep_audio.errors import DeepAudioError, ModelFileError
from deep_audio.io.audio import printable
from deep_audio.models.backbones import Backbone

AUDIOSET_CLASSES = 527
CHANNELS = (64, 128, 256, 512, 1024, 2048)
EMBEDDING_SIZE = 2048
# Input frames per output frame of the conv stack: five 2x2 poolings.
TIME_REDUCTION = 32


@dataclass(frozen=True)
class PannsFrontEnd:
    """The log-mel settings of a CNN14 variant (units in the names; Hz and samples)."""

    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int = 64
    f_min: float = 50.0
    f_max: float = 14000.0
    window: str = "hann"        # periodic Hann of n_fft samples
    center: bool = True         # frames centred: n_fft // 2 samples padded each side
    pad_mode: str = "reflect"
    power: float = 2.0
    amin: float = 1e-10         # floor before log10
    ref: float = 1.0            # dB reference
    top_db: float | None = None  # no clipping


VARIANTS = {
    "panns_cnn14": PannsFrontEnd(sample_rate=32000, n_fft=1024, hop_length=320,
                                 f_max=14000.0),
    "panns_cnn14_16k": PannsFrontEnd(sample_rate=16000, n_fft=512, hop_length=160,
                                     f_max=8000.0),
}
# The published checkpoint of each variant (Zenodo record 3987831).
PUBLISHED = {"panns_cnn14": "Cnn14_mAP=0.431.pth", "panns_cnn14_16k": "Cnn14_16k_mAP=0.438.pth"}


class PannsLogMel(nn.Module):
    """CNN14's log-mel front end, computed with ``torch.stft``.

    Shapes: ``(batch, samples)`` in, ``(batch, 1, frames, n_mels)`` out, with
    ``frames = samples // hop_length + 1``. Computed in float32.
    """

    def __init__(self, settings: PannsFrontEnd):
        super().__init__()
        if settings.top_db is not None or settings.window != "hann":
            raise ModelFileError(f"unsupported PANNs front end {settings}")
        self.settings = settings
        self.register_buffer("window", torch.hann_window(settings.n_fft, periodic=True),
                             persistent=False)
        mel = torchaudio.functional.melscale_fbanks(
            settings.n_fft // 2 + 1, settings.f_min, settings.f_max, settings.n_mels,
            settings.sample_rate, norm="slaney", mel_scale="slaney")
        self.register_buffer("mel_bank", mel, persistent=False)  # (n_fft // 2 + 1, n_mels)

    def n_frames(self, n_samples: int) -> int:
        return n_samples // self.settings.hop_length + 1

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        s = self.settings
        with torch.autocast(waveform.device.type, enabled=False):
            spectrum = torch.stft(waveform.float(), s.n_fft, hop_length=s.hop_length,
                                  win_length=s.n_fft, window=self.window, center=s.center,
                                  pad_mode=s.pad_mode, return_complex=True)
            power = spectrum.real.square() + spectrum.imag.square()  # (batch, bins, frames)
            mel = torch.matmul(power.transpose(1, 2), self.mel_bank)  # (batch, frames, mels)
            log_mel = 10.0 * torch.log10(mel.clamp(min=s.amin))
            log_mel = log_mel - 10.0 * math.log10(max(s.amin, s.ref))  # 0 dB at ref
            return log_mel.unsqueeze(1)


class ConvBlock(nn.Module):
    """Two 3x3 conv (no bias) + BatchNorm + ReLU, then average pooling.

    Shapes: ``(batch, in, frames, bands)`` -> ``(batch, out, frames // p, bands // p)``.
    """

    def __init__(self, in_channels: int, out_channels: int, pool: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, self.pool) if self.pool > 1 else x


class Cnn14(nn.Module):
    """CNN14: waveform -> (AudioSet tag probabilities, 2048-value embedding).

    Parameters
    ----------
    front_end : PannsFrontEnd
        One of :data:`VARIANTS`.
    audioset_classes : int
        Outputs of ``fc_audioset`` (527); 0 leaves the AudioSet layer out (a backbone
        for new classes does not need it).

    Shapes: ``(batch, samples)`` in; :meth:`forward` gives ``(batch, audioset_classes)``
    and ``(batch, 2048)``. Segments of at least 32 frames (``31 * hop_length`` samples).
    """

    def __init__(self, front_end: PannsFrontEnd, *, audioset_classes: int = AUDIOSET_CLASSES,
                 dropout: bool = True):
        super().__init__()
        self.log_mel = PannsLogMel(front_end)
        self.bn0 = nn.BatchNorm2d(front_end.n_mels)
        channels = (1,) + CHANNELS
        for index in range(1, len(CHANNELS) + 1):
            self.add_module(f"conv_block{index}", ConvBlock(
                channels[index - 1], channels[index], pool=2 if index < len(CHANNELS) else 1))
        self.fc1 = nn.Linear(EMBEDDING_SIZE, EMBEDDING_SIZE)
        self.fc_audioset = (nn.Linear(EMBEDDING_SIZE, audioset_classes)
                            if audioset_classes else None)

    def conv_blocks(self) -> list[ConvBlock]:
        return [getattr(self, f"conv_block{i}") for i in range(1, len(CHANNELS) + 1)]

    def feature_maps(self, waveform: torch.Tensor) -> torch.Tensor:
        """The last conv block's output ``(batch, 2048, frames // 32, n_mels // 32)``."""
        return self.maps_of(self.log_mel(waveform))

    def maps_of(self, log_mel: torch.Tensor) -> torch.Tensor:
        """:meth:`feature_maps` from the log-mel ``(batch, 1, frames, n_mels)``."""
        x = self.bn0(log_mel.transpose(1, 3)).transpose(1, 3)  # BatchNorm over the mel bins
        for block in self.conv_blocks():  # a frozen (eval-mode) block drops nothing
            x = F.dropout(block(x), p=0.2, training=block.training)
        return x

    def frame_embeddings(self, log_mel: torch.Tensor) -> torch.Tensor:
        """The decision-level variant's frames, ``(batch, 1, frames, n_mels)`` ->
        ``(batch, frames // 32, 2048)``: the last block's maps averaged over frequency,
        each step smoothed (max + mean over 3 steps), then ``fc1`` + ReLU per step."""
        x = self.maps_of(log_mel).mean(dim=3)             # (batch, 2048, time)
        x = F.max_pool1d(x, 3, stride=1, padding=1) + F.avg_pool1d(x, 3, stride=1, padding=1)
        x = F.dropout(x, p=0.5, training=self.fc1.training).transpose(1, 2)
        return F.relu(self.fc1(x))

    def pooled(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Global pooling (max + mean over time of the frame features) of the log-mel,
        ``(batch, 2048)``."""
        x = self.maps_of(log_mel).mean(dim=3)     # (batch, 2048, time)
        return x.amax(dim=2) + x.mean(dim=2)

    def embedding(self, log_mel: torch.Tensor) -> torch.Tensor:
        """``fc1`` + ReLU of the pooled features, ``(batch, 2048)``."""
        x = F.dropout(self.pooled(log_mel), p=0.5, training=self.fc1.training)
        return F.relu(self.fc1(x))

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.fc_audioset is None:
            raise DeepAudioError("this CNN14 was built without its AudioSet layer")
        embedding = self.embedding(self.log_mel(waveform))
        return torch.sigmoid(self.fc_audioset(embedding)), embedding


class Cnn14DecisionLevel(Cnn14):
    """CNN14's decision-level variant: AudioSet tags per frame, the clip's their maximum.

    Same layers (and checkpoint keys) as :class:`Cnn14`; after the conv blocks each time
    step of the frequency-averaged maps is smoothed (max + mean over 3 steps), goes
    through ``fc1`` + ReLU and ``fc_audioset`` + sigmoid; the clip's tags are the maximum
    over time, and the frame tags are repeated 32 times (the conv stack's time reduction)
    and padded with the last one to the input's frame count. Published as
    ``Cnn14_DecisionLevelMax_mAP=0.385.pth`` (32 kHz).

    Shapes: ``(batch, samples)`` in; :meth:`forward` gives clip tags
    ``(batch, audioset_classes)`` and frame tags ``(batch, frames, audioset_classes)``
    (``frames = samples // hop_length + 1``, 10 ms apart).
    """

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.fc_audioset is None:
            raise DeepAudioError("this CNN14 was built without its AudioSet layer")
        frames = self.log_mel.n_frames(waveform.shape[-1])
        x = F.dropout(self.frame_embeddings(self.log_mel(waveform)), p=0.5,
                      training=self.fc1.training)
        steps = torch.sigmoid(self.fc_audioset(x))       # (batch, time, classes)
        framewise = steps.repeat_interleave(TIME_REDUCTION, dim=1)
        framewise = torch.cat([framewise, framewise[:, -1:].expand(
            -1, frames - framewise.shape[1], -1)], dim=1)
        return steps.amax(dim=1), framewise


class Cnn14Backbone(Backbone):
    """CNN14 as a :class:`~deep_audio.models.backbones.Backbone` (no AudioSet layer).

    Embeddings: ``conv`` (the globally pooled conv features, 2048 values) and
    ``linear1`` (``fc1`` + ReLU, 2048: the PANNs embedding, the default). Feature blocks
    for freezing: the six conv blocks (the first with ``bn0``); ``fc1`` goes with the
    head, as the seed CNN's hidden linear layers do. Frames (for frame detection): the
    decision-level variant's, ``fc1`` + ReLU per 320 ms step (:meth:`frames_from_features`).
    """

    default_layer = "linear1"

    def __init__(self, name: str):
        super().__init__()
        if name not in VARIANTS:
            raise DeepAudioError(f"unknown CNN14 variant {name!r}; known: {', '.join(VARIANTS)}")
        self.name = name
        self.front_end = VARIANTS[name]
        self.sample_rate = self.front_end.sample_rate
        self.network = Cnn14(self.front_end, audioset_classes=0)

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, Any]) -> Cnn14Backbone:
        backbone = cls(name)
        stored = dict(settings.get("front_end", {}))
        expected = backbone.settings()["front_end"]
        if stored != expected:
            raise ModelFileError(f"stored {name} front end {stored} is not the network's "
                                 f"{expected}")
        return backbone

    def settings(self) -> dict[str, Any]:
        return {"architecture": "cnn14", "front_end": dict(vars(self.front_end))}

    def front_end_config(self) -> FrontEndConfig:
        s = self.front_end
        return FrontEndConfig(sample_rate=s.sample_rate, window_seconds=s.n_fft / s.sample_rate,
                              hop_seconds=s.hop_length / s.sample_rate, n_fft=s.n_fft,
                              n_mels=s.n_mels, f_min=s.f_min, f_max=s.f_max)

    def embedding_sizes(self) -> dict[str, int]:
        return {"conv": EMBEDDING_SIZE, "linear1": EMBEDDING_SIZE}

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """The log-mel ``(batch, 1, frames, n_mels)``."""
        return self.network.log_mel(waveform)

    def embed_features(self, features: torch.Tensor, layer: str) -> torch.Tensor:
        if layer == "conv":
            return self.network.pooled(features)
        if layer == "linear1":
            return self.network.embedding(features)
        raise DeepAudioError(f"layer={layer!r} is not one of {', '.join(self.embedding_sizes())}")

    @property
    def frame_seconds(self) -> float:
        """320 ms: the conv stack's time reduction (32) times the 10 ms hop."""
        return TIME_REDUCTION * self.front_end.hop_length / self.sample_rate

    @property
    def frame_size(self) -> int:
        return EMBEDDING_SIZE

    def frames_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """The decision-level frames (:meth:`Cnn14.frame_embeddings`) of the log-mel, the
        first ``samples // (32 * hop_length)`` of them."""
        n_frames = (features.shape[2] - 1) // TIME_REDUCTION
        return self.network.frame_embeddings(features)[:, :n_frames]

    def blocks(self) -> list[list[nn.Module]]:
        blocks = [[block] for block in self.network.conv_blocks()]
        blocks[0].insert(0, self.network.bn0)
        return blocks

    def head_blocks(self) -> list[list[nn.Module]]:
        return [[self.network.fc1]]

    def check_segment(self, segment_samples: int) -> None:
        frames = self.network.log_mel.n_frames(segment_samples)
        if frames < TIME_REDUCTION:
            raise DeepAudioError(
                f"segments of {segment_samples} samples give {frames} frames; {self.name} "
                f"needs at least {TIME_REDUCTION} (segment_seconds >= "
                f"{(TIME_REDUCTION - 1) * self.front_end.hop_length / self.sample_rate:.2f})")


# Entries of a published file that are not learned weights (checked, then dropped).
_FRONT_END_KEYS = ("spectrogram_extractor.stft.conv_real.weight",
                   "spectrogram_extractor.stft.conv_imag.weight", "logmel_extractor.melW")


def panns_state_dict(path: str | os.PathLike, name: str) -> dict[str, torch.Tensor]:
    """The learned weights of a published CNN14 checkpoint, checked against ``name``.

    Returns the checkpoint's ``model`` entry without the fixed STFT/mel matrices (key
    names as in the file: ``bn0.*``, ``conv_block1.conv1.weight``, ..., ``fc1.*``,
    ``fc_audioset.*``).

    Raises
    ------
    ModelFileError
        The file is missing, unreadable, holds Python objects, is not a CNN14
        checkpoint, or is one for another sample rate; one line naming the file and
        what was expected.
    """
    path = Path(path)
    expected = VARIANTS[name]
    what = (f"a PANNs CNN14 checkpoint at {expected.sample_rate} Hz "
            f"(published as {PUBLISHED[name]})")
    if not path.is_file():
        raise ModelFileError(f"checkpoint '{printable(path)}' does not exist; expected {what}")
    try:
        payload = _load_published(path)
    except ModelFileError as error:
        found = re.search(r"e\.g\. ([\w.]+)", str(error))
        reason = (f"it contains Python objects (e.g. {found.group(1)}), which deep_audio "
                  "refuses to load because loading them could run code" if found else
                  "not a readable PyTorch archive (damaged, cut off, or another kind of file)")
        raise ModelFileError(f"'{printable(path)}' cannot be read as {what}: {reason}") from None
    state = payload.get("model") if isinstance(payload, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(f"'{printable(path)}' is not {what}: it has no 'model' entry "
                             "holding a state_dict")
    reference = Cnn14(expected).state_dict()
    missing = sorted(k for k in reference if k not in state and not k.startswith("log_mel"))
    if missing:
        raise ModelFileError(f"'{printable(path)}' is not {what}: it lacks {len(missing)} of "
                             f"CNN14's weights (e.g. {missing[0]}); another architecture?")
    wrong = [k for k, v in reference.items() if k in state and state[k].shape != v.shape]
    if wrong:
        raise ModelFileError(f"'{printable(path)}' is not {what}: {wrong[0]} has shape "
                             f"{tuple(state[wrong[0]].shape)}, expected "
                             f"{tuple(reference[wrong[0]].shape)}")
    _check_front_end(path, state, expected, what)
    return {k: v for k, v in state.items() if k not in _FRONT_END_KEYS}


def _load_published(path: Path) -> Any:
    """``torch.load(weights_only=True)`` of a published file; numpy arrays (training-time
    extras such as a sampler's state) are allowed as data, nothing else is."""
    from deep_audio.io.weights import load_weights_only

    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # not a zip archive: let the plain loader say what it is
        unsafe = []
    if unsafe and all(name in _NUMPY_DATA or name.startswith("numpy.dtypes.")
                      for name in unsafe):
        import numpy as np

        # the dtype classes an array names are only found while loading it
        allowed = [_numpy_global(name) for name in unsafe] + [
            getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
        with torch.serialization.safe_globals(allowed):
            return load_weights_only(path, "model")
    return load_weights_only(path, "model")


_NUMPY_DATA = ("numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
               "numpy.ndarray", "numpy.dtype")


def _numpy_global(name: str) -> Any:
    import importlib

    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def _check_front_end(path: Path, state: Mapping[str, torch.Tensor], expected: PannsFrontEnd,
                     what: str) -> None:
    """Compare a checkpoint's mel matrix with the variant's; names the rate it was made for."""
    mel = state.get("logmel_extractor.melW")
    if mel is None:
        return
    bins = expected.n_fft // 2 + 1
    if tuple(mel.shape) != (bins, expected.n_mels):
        found = [(v.sample_rate, n) for n, v in VARIANTS.items()
                 if tuple(mel.shape) == (v.n_fft // 2 + 1, v.n_mels)]
        hint = f" (that of {found[0][1]}, {found[0][0]} Hz)" if found else ""
        raise ModelFileError(f"'{printable(path)}' is not {what}: its mel bank has shape "
                             f"{tuple(mel.shape)}{hint}, expected {(bins, expected.n_mels)}")
    ours = PannsLogMel(expected).mel_bank
    if not torch.allclose(mel.float(), ours, atol=1e-5):
        raise ModelFileError(f"'{printable(path)}' is not {what}: its mel bank differs from "
                             f"the one for {expected.sample_rate} Hz, {expected.f_min:g}-"
                             f"{expected.f_max:g} Hz")


def load_panns_checkpoint(path: str | os.PathLike, name: str) -> Cnn14Backbone:
    """A :class:`Cnn14Backbone` with the weights of a published checkpoint, in eval mode."""
    backbone = Cnn14Backbone(name)
    state = panns_state_dict(path, name)
    state = {k: v for k, v in state.items() if not k.startswith("fc_audioset.")}
    backbone.network.load_state_dict(state)
    return backbone.eval()


def load_cnn14(path: str | os.PathLike, name: str = "panns_cnn14", *,
               decision_level: bool = False) -> Cnn14:
    """The whole CNN14 with its AudioSet layer (for tagging), from a published file;
    ``decision_level=True`` gives :class:`Cnn14DecisionLevel` (frame-wise tags)."""
    network = (Cnn14DecisionLevel if decision_level else Cnn14)(VARIANTS[name])
    network.load_state_dict(panns_state_dict(path, name))
    return network.eval()
