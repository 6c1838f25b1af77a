"""Backbones by name: rebuilt from a model file's settings, or read from a published
checkpoint (see :mod:`deep_audio.models.backbones` for the table)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deep_audio.config import Config, load_config
from deep_audio.errors import DeepAudioError, ModelFileError
from deep_audio.models.backbones import Backbone
from deep_audio.models.classifier import Classifier

SEED_BACKBONE = "seed_cnn"
BACKBONES = ("seed_cnn", "panns_cnn14", "panns_cnn14_16k", "hf")
PANNS = ("panns_cnn14", "panns_cnn14_16k")
# The checkout deep_audio runs from: the shipped models live in its models/ folder.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def build_backbone(name: str, settings: Mapping[str, Any]) -> Backbone:
    """An untrained backbone from stored :meth:`Backbone.settings` (weights come after)."""
    if name == SEED_BACKBONE:
        from deep_audio.models.seed import SeedBackbone

        return SeedBackbone.from_settings(settings)
    if name in PANNS:
        from deep_audio.models.panns import Cnn14Backbone

        return Cnn14Backbone.from_settings(name, settings)
    if name == "hf":
        from deep_audio.models.hf import HFBackbone

        return HFBackbone.from_settings(settings)
    raise ModelFileError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")


def load_pretrained(name: str, source: str | os.PathLike) -> Backbone:
    """A pretrained backbone from its published file (PANNs) or folder / hub id (hf).

    Raises
    ------
    ModelFileError
        ``name`` is unknown, or ``source`` is missing or not that network's checkpoint
        (the message names the file and what was expected).
    """
    if name in PANNS:
        from deep_audio.models.panns import load_panns_checkpoint

        return load_panns_checkpoint(source, name)
    if name == "hf":
        from deep_audio.models.hf import load_hf

        return load_hf(source)
    raise ModelFileError(f"--backbone {name!r} is not one of {', '.join(BACKBONES[1:])}")


def check_backbone_name(name: str | None) -> str:
    """``name`` (``None`` is ``seed_cnn``), or a :class:`DeepAudioError` listing the names."""
    name = name or SEED_BACKBONE
    if name not in BACKBONES:
        raise DeepAudioError(f"backbone={name!r} is not one of {', '.join(BACKBONES)}")
    return name


def load_backbone_model(name: str, source: str | os.PathLike, *,
                        config: Config | None = None, device: str = "cpu") -> Classifier:
    """A pretrained backbone as an embedder (a classifier without head), in eval mode.

    ``config`` gives the segment and inference settings (default
    :func:`deep_audio.config.load_config`); the front end is the backbone's. Its
    ``metadata["backbone_source"]`` says where it came from.
    """
    import dataclasses

    backbone = load_pretrained(name, source)
    config = dataclasses.replace(config or load_config(),
                                 front_end=backbone.front_end_config())
    model = Classifier(config, [], backbone, path=source,
                       metadata={"backbone_source": str(source)})
    return model.to(device).eval()


def default_source_model(config: Config | None = None) -> Path:
    """The model file reused when a command names none: ``transfer.source_model``, a
    relative path taken from the working folder, else from the deep_audio checkout
    (``models/pretrained_general.pt``, the general network of docs/pretrained.md)."""
    named = Path((config or load_config()).transfer.source_model)
    for path in (named, PROJECT_ROOT / named):
        if path.is_file():
            return path
    raise ModelFileError(
        f"no model given and the default source model '{named}' is not there (looked in "
        f"{Path.cwd()} and {PROJECT_ROOT}): name one with -m MODEL.pt, or set "
        "transfer.source_model")
