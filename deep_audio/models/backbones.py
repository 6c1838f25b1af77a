"""The backbone interface: a network that turns a waveform into embeddings.

Every network in deep_audio is a :class:`Backbone`; a
:class:`~deep_audio.models.classifier.Classifier` puts a head for classes on one.

=================  ===========================================================  ==============
name               network                                                      module
=================  ===========================================================  ==============
seed_cnn           deep_audio's own CNN: log-mel, normalisation, conv blocks    models.seed
panns_cnn14        PANNs CNN14, 32 kHz, from a published ``Cnn14_mAP=*.pth``    models.panns
panns_cnn14_16k    PANNs CNN14, 16 kHz, from ``Cnn14_16k_mAP=*.pth``           models.panns
hf                 a Hugging Face audio encoder (AST, wav2vec2, HuBERT) from    models.hf
                   a local folder or hub id (``pip install deep_audio[hf]``)
=================  ===========================================================  ==============

A backbone computes in two steps, so that augmentation can work between them on every
network: :meth:`Backbone.features` (the front end: a log-mel image ``(batch, 1, frames,
n_mels)`` for the spectrogram networks, the waveform itself for an encoder that brings
its own feature extractor) and :meth:`Backbone.embed_features` (the network proper).
Its settings (:meth:`Backbone.settings`) are plain data stored in the model file, so the
front end cannot drift from the weights. The transfer strategies count its feature
*blocks* (:meth:`Backbone.blocks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from deep_audio.config import FrontEndConfig
from deep_audio.errors import DeepAudioError


class Backbone(nn.Module):
    """A network seen as waveform -> embedding; subclasses fill it in.

    Attributes
    ----------
    name : str
        Its registry name (:data:`deep_audio.models.registry.BACKBONES`).
    sample_rate : int
        Hz of the waveforms it takes.
    default_layer : str
        The embedding a head sits on and ``embed`` gives by default.
    spectrogram_features : bool
        :meth:`features` is a log-mel image that SpecAugment masks and mixup can work on.
    """

    name: str = ""
    sample_rate: int = 0
    default_layer: str = ""
    spectrogram_features: bool = True

    def settings(self) -> dict[str, Any]:
        """Plain data that rebuilds this backbone (with its ``state_dict``)."""
        raise NotImplementedError

    def front_end_config(self) -> FrontEndConfig:
        """The front-end section of a model's config (its sample rate decides how files
        are read)."""
        raise NotImplementedError

    def embedding_sizes(self) -> dict[str, int]:
        """Embedding names and their sizes, in network order."""
        raise NotImplementedError

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """The front end: ``(batch, samples)`` -> what :meth:`embed_features` takes."""
        return waveform

    def embed_features(self, features: torch.Tensor, layer: str) -> torch.Tensor:
        """``features(waveform)`` -> ``(batch, embedding_sizes()[layer])``."""
        raise NotImplementedError

    def head_input(self, features: torch.Tensor) -> torch.Tensor:
        """What a head sees: the ``default_layer`` embedding (a backbone whose head input
        is not an embedding, such as the seed's flattened maps, overrides this)."""
        return self.embed_features(features, self.default_layer)

    @property
    def head_input_size(self) -> int:
        return self.embedding_sizes()[self.default_layer]

    def embed(self, waveform: torch.Tensor, layer: str) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, embedding_sizes()[layer])``."""
        return self.embed_features(self.features(waveform), layer)

    @property
    def frame_seconds(self) -> float:
        """Length (and hop) of a frame of :meth:`frames_from_features`."""
        raise DeepAudioError(f"backbone {self.name} has no frame-level features")

    @property
    def frame_size(self) -> int:
        """Values per frame of :meth:`frames_from_features`."""
        raise DeepAudioError(f"backbone {self.name} has no frame-level features")

    def frames_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """Frame-level features from :meth:`features`: ``(batch, n_frames, frame_size)``
        with ``n_frames = samples // frame_samples``, frame ``i`` standing for ``[i, i +
        1) * frame_seconds`` of the segment, so that frames of consecutive segments tile
        time (what a :class:`~deep_audio.models.heads.FrameHead` takes)."""
        raise DeepAudioError(f"backbone {self.name} has no frame-level features")

    def frames(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, n_frames, frame_size)``."""
        return self.frames_from_features(self.features(waveform))

    def blocks(self) -> list[list[nn.Module]]:
        """The feature blocks, in network order (each a list of modules)."""
        raise NotImplementedError

    def head_blocks(self) -> list[list[nn.Module]]:
        """Pretrained layers after the feature blocks that belong with the head
        (CNN14's ``fc1``); default none."""
        return []

    def check_segment(self, segment_samples: int) -> None:
        """Refuse a segment length the network cannot take (default: any is fine)."""


def freeze_blocks(blocks: Sequence[Sequence[nn.Module]], n_frozen: int) -> None:
    """``requires_grad`` off in the first ``n_frozen`` blocks, on in the others."""
    for index, block in enumerate(blocks):
        for module in block:
            for parameter in module.parameters():
                parameter.requires_grad_(index >= n_frozen)
