"""Pretrained networks as backbones: waveform in, embedding out, a head for new classes on top.

A *backbone* (:class:`Backbone`) maps a waveform batch ``(batch, samples)`` at its own
sample rate to one embedding per segment ``(batch, size)`` and, where it has them, to
frame-level features ``(batch, frames, size)``. It carries its own front-end settings
(sample rate, window, hop, mel bands, f_min/f_max, normalisation) in :meth:`settings`,
plain data stored in the model file, so they cannot drift from the weights.

=================  ===========================================================  ==========
name               network                                                      module
=================  ===========================================================  ==========
seed_cnn           deep_audio's own CNN (:class:`~deep_audio.models.SeedCNN`);   models.cnn
                   a deep_audio model file (the default)
panns_cnn14        PANNs CNN14, 32 kHz, from a published ``Cnn14_mAP=*.pth``    models.panns
panns_cnn14_16k    PANNs CNN14, 16 kHz, from ``Cnn14_16k_mAP=*.pth``           models.panns
hf                 a Hugging Face audio encoder (AST, wav2vec2, HuBERT) from    models.hf
                   a local folder or hub id (``pip install deep_audio[hf]``)
=================  ===========================================================  ==========

:class:`BackboneClassifier` puts a linear head for the new classes on a backbone; it has
the interface of :class:`~deep_audio.models.AudioClassifier` that training, inference,
embeddings and export use (``config``, ``class_names``, ``plan``, ``embed``,
``embedding_sizes``, ``forward``). The transfer strategies mean the same for every
backbone: a backbone is a list of feature *blocks* (:meth:`Backbone.blocks`: the seed
CNN's conv blocks; CNN14's six conv blocks, its ``bn0`` in the first; a transformer's
embedding stem and layers) followed by the layers of the head (the seed CNN's linear
layers; CNN14's ``fc1`` and the new output layer; a transformer's new output layer).
Strategy 0 freezes every feature block, 1 all but the last, 2 none, and ``freeze(n)``
stops the first ``n`` units training, weights and BatchNorm statistics (frozen units stay
in eval mode, so BatchNorm keeps its running statistics and Dropout is off in them).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from deep_audio.config import Config, FrontEndConfig
from deep_audio.errors import DeepAudioError, ModelFileError
from deep_audio.data.plan import SegmentPlan

SEED_BACKBONE = "seed_cnn"
BACKBONES = ("seed_cnn", "panns_cnn14", "panns_cnn14_16k", "hf")


class Backbone(nn.Module):
    """A pretrained network seen as waveform -> embedding; subclasses fill it in.

    Attributes
    ----------
    name : str
        One of :data:`BACKBONES`.
    sample_rate : int
        Hz of the waveforms it takes.
    default_layer : str
        The embedding a head is put on (a key of :meth:`embedding_sizes`).
    """

    name: str = ""
    sample_rate: int = 0
    default_layer: str = ""

    def settings(self) -> dict[str, Any]:
        """Plain data that rebuilds this backbone (with its ``state_dict``): architecture
        and every front-end setting."""
        raise NotImplementedError

    def front_end_config(self) -> FrontEndConfig:
        """The front-end section of a model's config (its sample rate decides how files
        are read); the full settings are :meth:`settings`."""
        raise NotImplementedError

    def embedding_sizes(self) -> dict[str, int]:
        """Embedding names and their sizes, in network order."""
        raise NotImplementedError

    def embed(self, waveform: torch.Tensor, layer: str) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, embedding_sizes()[layer])``."""
        raise NotImplementedError

    def frames(self, waveform: torch.Tensor) -> torch.Tensor:
        """Frame-level features ``(batch, samples)`` -> ``(batch, frames, size)``."""
        raise DeepAudioError(f"backbone {self.name} has no frame-level features")

    def blocks(self) -> list[list[nn.Module]]:
        """The feature blocks, in network order (each a list of modules): what the seed
        CNN's conv blocks are to the transfer strategies."""
        raise NotImplementedError

    def head_blocks(self) -> list[list[nn.Module]]:
        """Pretrained layers after the feature blocks that belong with the head (the
        seed CNN's hidden linear layers; CNN14's ``fc1``); default none."""
        return []

    def check_segment(self, segment_samples: int) -> None:
        """Refuse a segment length the network cannot take (default: any is fine)."""


def freeze_blocks(blocks: Sequence[Sequence[nn.Module]], n_frozen: int) -> None:
    """``requires_grad`` off in the first ``n_frozen`` blocks, on in the others."""
    for index, block in enumerate(blocks):
        for module in block:
            for parameter in module.parameters():
                parameter.requires_grad_(index >= n_frozen)


class BackboneClassifier(nn.Module):
    """A backbone and a linear head for ``class_names``: waveform in, logits out.

    With no class names it is an *embedder*: a pretrained backbone as it came from its
    checkpoint, for embeddings and as the source of :func:`deep_audio.training.transfer.transfer_learning`;
    calling it raises.

    Parameters
    ----------
    config : Config
        Settings; its ``front_end`` section must be ``backbone.front_end_config()``.
    class_names : sequence of str
        The head's classes: none, or at least two.
    backbone : Backbone
    metadata, path
        As :class:`~deep_audio.models.AudioClassifier`.

    Shapes: ``(batch, segment_samples)`` in, ``(batch, n_classes)`` out.
    """

    def __init__(self, config: Config, class_names: Sequence[str], backbone: Backbone, *,
                 metadata: Mapping[str, Any] | None = None,
                 path: str | os.PathLike | None = None):
        super().__init__()
        if len(class_names) == 1:
            raise ValueError(f"a classifier needs at least two classes, got {list(class_names)}")
        if config.front_end != backbone.front_end_config():
            raise ValueError(f"the config's front end {config.front_end} is not the "
                             f"{backbone.name} backbone's {backbone.front_end_config()}")
        self.config = config
        self.class_names = list(class_names)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.path: Path | None = None if path is None else Path(path)
        self.plan = SegmentPlan.from_config(config)
        self.segment_samples = self.plan.segment_samples
        backbone.check_segment(self.segment_samples)
        self.backbone = backbone
        self.head_layer = backbone.default_layer
        self.head = (nn.Sequential(nn.Linear(backbone.embedding_sizes()[self.head_layer],
                                             len(class_names)))
                     if class_names else None)
        if class_names and getattr(config.model, "multi_label", False):
            # per-class decision thresholds, as AudioClassifier keeps them
            self.register_buffer("thresholds", torch.full((len(class_names),), 0.5))
        self.frozen_layers = 0

    @property
    def backbone_name(self) -> str:
        return self.backbone.name

    def backbone_spec(self) -> dict[str, Any]:
        """What the model file stores to rebuild the backbone: ``{"name", "settings"}``."""
        return {"name": self.backbone.name, "settings": self.backbone.settings()}

    @property
    def n_blocks(self) -> int:
        """Feature blocks of the backbone: strategy 0 freezes them all, 1 all but one."""
        return len(self.backbone.blocks())

    def layers(self) -> list[list[nn.Module]]:
        """Feature blocks, the backbone's head blocks, then the new head: the units
        :meth:`freeze` counts."""
        return (self.backbone.blocks() + self.backbone.head_blocks()
                + ([[self.head]] if self.head is not None else []))

    def linear_layers(self) -> list[nn.Sequential]:
        """The head (one linear layer), as ``SeedCNN.linear_layers`` for transfer."""
        return [self.head] if self.head is not None else []

    def freeze(self, n_layers: int) -> None:
        """Stop training the first ``n_layers`` units, weights and BatchNorm statistics;
        the head always trains (see :meth:`SeedCNN.freeze`)."""
        n_total = len(self.layers())
        if not 0 <= n_layers < n_total:
            raise ValueError(f"n_layers={n_layers} must be in [0, {n_total - 1}]: the "
                             f"{self.backbone.name} backbone has {self.n_blocks} blocks and "
                             "the head always trains")
        self.frozen_layers = n_layers
        freeze_blocks(self.layers(), n_layers)
        self.train(self.training)

    def train(self, mode: bool = True) -> "BackboneClassifier":
        super().train(mode)
        for block in self.layers()[:self.frozen_layers]:
            for module in block:
                module.eval()
        return self

    def embedding_sizes(self) -> dict[str, int]:
        return self.backbone.embedding_sizes()

    def embed(self, waveform: torch.Tensor, layer: str) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, embedding_sizes()[layer])``."""
        sizes = self.embedding_sizes()
        if layer not in sizes:
            raise DeepAudioError(f"layer={layer!r} is not one of {', '.join(sizes)}")
        return self.backbone.embed(waveform, layer)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if self.head is None:
            raise DeepAudioError(
                f"the {self.backbone.name} backbone from '{self.path}' has no head for "
                "classes: use it for embeddings (extract_features, deep_feature_training) "
                "or train one with transfer_learning")
        return self.head(self.backbone.embed(waveform, self.head_layer))


def backbone_config(config: Config, backbone: Backbone) -> Config:
    """``config`` with the backbone's front end."""
    return dataclasses.replace(config, front_end=backbone.front_end_config())


def build_backbone(name: str, settings: Mapping[str, Any]) -> Backbone:
    """An untrained backbone from stored :meth:`Backbone.settings` (weights come after)."""
    if name in ("panns_cnn14", "panns_cnn14_16k"):
        from deep_audio.models.panns import Cnn14Backbone

        return Cnn14Backbone.from_settings(name, settings)
    if name == "hf":
        from deep_audio.models.hf import HFBackbone

        return HFBackbone.from_settings(settings)
    raise ModelFileError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES[1:])}")


def load_pretrained(name: str, source: str | os.PathLike) -> Backbone:
    """A pretrained backbone from its published file (PANNs) or folder / hub id (hf).

    Raises
    ------
    ModelFileError
        ``name`` is unknown, or ``source`` is missing or not that network's checkpoint
        (the message names the file and what was expected).
    """
    if name in ("panns_cnn14", "panns_cnn14_16k"):
        from deep_audio.models.panns import load_panns_checkpoint

        return load_panns_checkpoint(source, name)
    if name == "hf":
        from deep_audio.models.hf import load_hf

        return load_hf(source)
    raise ModelFileError(f"--backbone {name!r} is not one of {', '.join(BACKBONES)}")


def check_backbone_name(name: str | None) -> str:
    """``name`` (``None`` is ``seed_cnn``), or a :class:`DeepAudioError` listing the names."""
    name = name or SEED_BACKBONE
    if name not in BACKBONES:
        raise DeepAudioError(f"backbone={name!r} is not one of {', '.join(BACKBONES)}")
    return name


def load_backbone_model(name: str, source: str | os.PathLike, *,
                        config: Config | None = None,
                        device: torch.device | str = "cpu") -> BackboneClassifier:
    """A pretrained backbone as an embedder (no head), in eval mode.

    ``config`` gives the segment and inference settings (default
    :func:`deep_audio.config.load_config`); the front end is the backbone's. The model's
    ``path`` is ``source`` and its ``metadata["backbone_source"]`` says where it came from.
    """
    from deep_audio.config import load_config

    backbone = load_pretrained(name, source)
    config = backbone_config(config or load_config(), backbone)
    model = BackboneClassifier(config, [], backbone, path=source,
                               metadata={"backbone_source": str(source)})
    model.source_backbone = name
    return model.to(device).eval()
