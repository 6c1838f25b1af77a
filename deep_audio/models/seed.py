"""The seed talk's network as a backbone: log-mel, normalisation and conv blocks.

With a :class:`~deep_audio.models.heads.Head` of hidden layers (1024, 256), dropout
(0.75, 0.5), LeakyReLU on the logits, channels 32-64-128-256, 5x5 kernels, ``pooling=
"flatten"`` and a 2 s x 128-band input it is the network of the seed talk
(``configs/seed.yaml``): 24576 inputs to the first linear layer, 26,510,800 parameters
for 16 classes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from deep_audio.config import POOLINGS, Config, FrontEndConfig, seconds_to_samples
from deep_audio.errors import ConfigError, DeepAudioError
from deep_audio.features import LogMel, Normalize
from deep_audio.models.backbones import Backbone
from deep_audio.tasks import FrameDetection, Task


# The embedding a head sees under each time pooling of the last block (model.pooling,
# transfer.head_pooling).
POOLED_EMBEDDINGS = {"time_mean": "conv_bands", "time_max": "conv_bands_max"}


class SeedBackbone(Backbone):
    """Log-mel, per-band normalisation, then Conv2d-BatchNorm-LeakyReLU-MaxPool blocks.

    Parameters
    ----------
    front_end : FrontEndConfig
        The log-mel settings.
    segment_samples : int
        Input length; with ``pooling="flatten"`` it fixes the head's input size.
    conv_channels : sequence of int
        Output channels of each block; each block halves time and frequency (rounding
        down), leaving ``frames // 2**k`` frames and ``n_mels // 2**k`` bands.
    kernel_size : int
    pooling : {"flatten", "time_mean", "time_max"}
        What a head sees: every value of the last block (the seed's; the size grows with
        the segment length), or the mean (``conv_bands``) or maximum (``conv_bands_max``)
        over time per channel and band.
    time_pooling : int, optional
        For frame-level outputs (:meth:`frames_from_features`): only the first
        ``time_pooling`` blocks halve time, the others halve frequency only, so frames
        are ``frame_seconds = hop_seconds * 2**time_pooling`` long. ``None`` (the seed,
        and every model file written before frames): every block halves both.
    frame_bands : bool
        Frames keep the last block's bands (``conv_channels[-1] * bands`` values per
        frame, channel-major, as ``conv_bands``) instead of averaging over them: what a
        frame detector transferred from a frozen network needs, whose channels were
        trained with the band axis beside them (the band is much of what tells pitch).

    Embeddings: ``conv`` (the last block averaged over time and frequency,
    ``conv_channels[-1]`` values), ``conv_bands`` (averaged over time only,
    ``conv_channels[-1] * bands``, channel-major) and ``conv_bands_max`` (the maximum over
    time: a short sound in a long segment is not diluted by the silence around it).

    Shapes: ``(batch, segment_samples)`` in; :meth:`features` gives the normalised
    log-mel ``(batch, 1, frames, n_mels)``.
    """

    name = "seed_cnn"

    def __init__(self, front_end: FrontEndConfig, *, segment_samples: int,
                 conv_channels: Sequence[int] = (32, 64, 128, 256), kernel_size: int = 5,
                 pooling: str = "flatten", time_pooling: int | None = None,
                 frame_bands: bool = False):
        super().__init__()
        if pooling not in POOLINGS:
            raise ConfigError(f"pooling={pooling!r} must be one of {', '.join(POOLINGS)}")
        self.front_end_settings = front_end
        self.sample_rate = front_end.sample_rate
        self.segment_samples = int(segment_samples)
        self.conv_channels = tuple(int(c) for c in conv_channels)
        self.kernel_size = int(kernel_size)
        self.pooling = pooling
        n_blocks = len(self.conv_channels)
        if time_pooling is not None and not 0 <= time_pooling <= n_blocks:
            raise ConfigError(f"time_pooling={time_pooling} must be between 0 and the "
                              f"number of blocks ({n_blocks})")
        self.time_pooling = None if time_pooling is None else int(time_pooling)
        self.time_halvings = n_blocks if time_pooling is None else self.time_pooling
        self.frame_bands = bool(frame_bands)
        self.default_layer = POOLED_EMBEDDINGS.get(pooling, "conv_bands")
        self.front_end = LogMel.from_config(front_end)
        self.frame_samples = self.front_end.hop_length * 2 ** self.time_halvings
        self.normalize = Normalize(front_end.n_mels)
        frames, bands = self.front_end.n_frames(self.segment_samples), front_end.n_mels
        self.input_shape = (1, frames, bands)
        in_channels = 1
        for index, channels in enumerate(self.conv_channels, start=1):
            self.add_module(f"conv_layer{index}", nn.Sequential(
                nn.Conv2d(in_channels, channels, kernel_size, stride=1,
                          padding=kernel_size // 2),
                nn.BatchNorm2d(channels),
                nn.LeakyReLU(),
                nn.MaxPool2d(2 if index <= self.time_halvings else (1, 2)),
            ))
            in_channels = channels
            frames = frames // 2 if index <= self.time_halvings else frames
            bands = bands // 2
        if frames < 1 or bands < 1:
            raise ConfigError(
                f"input of {self.input_shape[1]} frames x {front_end.n_mels} mel bands is "
                f"too small for {len(self.conv_channels)} pooling blocks (each halves both "
                "axes)")
        self.output_bands = bands
        self.flat_features = in_channels * bands * (frames if pooling == "flatten" else 1)

    @classmethod
    def from_config(cls, config: Config) -> SeedBackbone:
        return cls(config.front_end,
                   segment_samples=seconds_to_samples(config.segments.segment_seconds,
                                                      config.front_end.sample_rate),
                   conv_channels=config.model.conv_channels,
                   kernel_size=config.model.kernel_size, pooling=config.model.pooling)

    @classmethod
    def for_frames(cls, config: Config) -> SeedBackbone:
        """The backbone of a frame task: ``time_pooling`` from
        ``config.model.frame_time_pooling``."""
        return cls(config.front_end,
                   segment_samples=seconds_to_samples(config.segments.segment_seconds,
                                                      config.front_end.sample_rate),
                   conv_channels=config.model.conv_channels,
                   kernel_size=config.model.kernel_size, pooling="time_mean",
                   time_pooling=config.model.frame_time_pooling)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SeedBackbone:
        return cls(FrontEndConfig(**settings["front_end"]),
                   segment_samples=settings["segment_samples"],
                   conv_channels=settings["conv_channels"],
                   kernel_size=settings["kernel_size"], pooling=settings["pooling"],
                   time_pooling=settings.get("time_pooling"),
                   frame_bands=settings.get("frame_bands", False))

    def settings(self) -> dict[str, Any]:
        settings = {"front_end": dataclasses.asdict(self.front_end_settings),
                    "segment_samples": self.segment_samples,
                    "conv_channels": list(self.conv_channels),
                    "kernel_size": self.kernel_size, "pooling": self.pooling}
        if self.time_pooling is not None:  # files without it: every block halves time
            settings["time_pooling"] = self.time_pooling
        if self.frame_bands:  # files without it: frames average the bands
            settings["frame_bands"] = True
        return settings

    @property
    def frame_size(self) -> int:
        """Values per frame of :meth:`frames_from_features`."""
        return self.conv_channels[-1] * (self.output_bands if self.frame_bands else 1)

    @property
    def frame_seconds(self) -> float:
        """Length (and hop) of a frame of :meth:`frames_from_features`."""
        return self.frame_samples / self.sample_rate

    def frames_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """Frame-level features, ``(batch, 1, frames, n_mels)`` -> ``(batch, n_frames,
        frame_size)``: the last block averaged over frequency (with ``frame_bands``, its
        bands side by side).

        Only the first ``n_frames = samples // frame_samples`` output frames are kept, so
        frame ``i`` stands for ``[i, i + 1) * frame_seconds`` of the segment and frames of
        consecutive segments tile time. (They are cut after the blocks, not before: a
        sliced input to the convolutions fixes the batch size in an ONNX export.)
        """
        n_frames = (features.shape[2] - 1) // 2 ** self.time_halvings
        maps = self.feature_maps(features)[:, :, :n_frames]
        if self.frame_bands:
            return maps.permute(0, 2, 1, 3).flatten(2)
        return maps.mean(dim=3).transpose(1, 2)

    def front_end_config(self) -> FrontEndConfig:
        return self.front_end_settings

    def conv_blocks(self) -> list[nn.Sequential]:
        return [getattr(self, f"conv_layer{i}") for i in range(1, len(self.conv_channels) + 1)]

    def blocks(self) -> list[list[nn.Module]]:
        return [[block] for block in self.conv_blocks()]

    def embedding_sizes(self) -> dict[str, int]:
        """
        >>> from deep_audio.config import load_config
        >>> SeedBackbone.from_config(load_config(n_mels=32)).embedding_sizes()
        {'conv': 128, 'conv_bands': 256, 'conv_bands_max': 256}
        """
        channels = self.conv_channels[-1]
        return {"conv": channels, "conv_bands": channels * self.output_bands,
                "conv_bands_max": channels * self.output_bands}

    @property
    def head_input_size(self) -> int:
        return self.flat_features

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel, ``(batch, samples)`` -> ``(batch, 1, frames, n_mels)``."""
        return self.normalize(self.front_end(waveform)).transpose(1, 2).unsqueeze(1)

    def feature_maps(self, features: torch.Tensor) -> torch.Tensor:
        """The last block's maps ``(batch, channels, frames, bands)``."""
        for block in self.conv_blocks():
            features = block(features)
        return features

    def embed_features(self, features: torch.Tensor, layer: str) -> torch.Tensor:
        maps = self.feature_maps(features)
        if layer == "conv":
            return maps.mean(dim=(2, 3))
        if layer == "conv_bands":
            return maps.mean(dim=2).flatten(1)
        if layer == "conv_bands_max":
            return maps.amax(dim=2).flatten(1)
        raise DeepAudioError(f"layer={layer!r} is not one of {', '.join(self.embedding_sizes())}")

    def head_input(self, features: torch.Tensor) -> torch.Tensor:
        """``conv_bands`` (``conv_bands_max`` with ``pooling="time_max"``), or with
        ``pooling="flatten"`` every value of the last block."""
        maps = self.feature_maps(features)
        if self.pooling == "time_mean":
            return maps.mean(dim=2).flatten(1)
        if self.pooling == "time_max":
            return maps.amax(dim=2).flatten(1)
        return maps.flatten(1)

    def check_segment(self, segment_samples: int) -> None:
        if self.pooling == "flatten" and segment_samples != self.segment_samples:
            raise DeepAudioError(
                f"this network flattens its last conv maps, so it takes segments of exactly "
                f"{self.segment_samples} samples, not {segment_samples}")


def frame_task(task: Task, config: Config) -> Task:
    """``task``, a :class:`~deep_audio.tasks.FrameDetection` with the ``frame_seconds``
    of the seed backbone ``config`` makes (others as they are): what the training
    targets need before the model exists."""
    if not isinstance(task, FrameDetection):
        return task
    return task.with_frame_seconds(SeedBackbone.for_frames(config).frame_seconds)
