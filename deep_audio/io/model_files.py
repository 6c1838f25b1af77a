"""The one place that writes and reads model files.

A model file is a ``torch.save`` of plain data only (tensors, strings, numbers, lists,
dicts), so ``torch.load(path, weights_only=True)`` reads it without running code::

    {"format": "deep_audio.model", "format_version": 3,
     "backbone": {"name": ..., "settings": {...}},   # rebuilds the network and front end
     "head": {...} or None,                          # Head.settings() (FrameHead's with
                                                     # "kind": "frame"); None: an embedder
     "task": {"name": "single_label"} or {"name": "multi_label", "thresholds": [...]}
             or {"name": "frame_detection", "thresholds": [...], "frame_seconds": ...},
     "state_dict": {...}, "class_names": [...], "config": {...}, "metadata": {...}}

Files of earlier releases load as what they were: format 1 (the seed CNN: no
``backbone`` entry, keys ``front_end.*``, ``normalize.*``, ``cnn.*``, a multi-label
model's ``thresholds`` buffer) and format 2 (a pretrained backbone with a linear head,
``head.0.*``). Files are written atomically: a crash while saving leaves the previous file
in place. A file that is not one is refused with a :class:`~deep_audio.errors.ModelFileError`
that says what it is and what to do instead; no code in it runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deep_audio.config import Config, stored_config
from deep_audio.errors import ConfigError, DeepAudioError, ModelFileError
from deep_audio.io.audio import printable
from deep_audio.io.files import atomic_write, check_header, library_versions, resolve_model_path
from deep_audio.io.weights import ADVICE, load_weights_only
from deep_audio.models.classifier import Classifier
from deep_audio.models.heads import FrameHead, Head
from deep_audio.models.registry import (
    SEED_BACKBONE,
    build_backbone,
    check_backbone_name,
    load_backbone_model,
)
from deep_audio.models.seed import SeedBackbone
from deep_audio.tasks import MultiLabel, SingleLabel, Task, task_from_dict

__all__ = ["FORMAT", "FORMAT_VERSION", "atomic_save", "legacy_state_dict", "library_versions",
           "load_checkpoint", "load_model", "load_payload", "plain_data", "resolve_model_path",
           "save_model"]

FORMAT = "deep_audio.model"
FORMAT_VERSION = 3  # 1: the seed CNN; 2: adds "backbone"; 3: every network a backbone,
                    # with "head" and "task"


def save_model(path: str | os.PathLike, model: Classifier, *,
               metadata: Mapping[str, Any] | None = None,
               parameter_dtype: str = "float32") -> Path:
    """Write ``model`` (weights, backbone, head, task, class names, config) and plain
    ``metadata`` to ``path``.

    ``parameter_dtype="float16"`` stores the learned weights at half size (buffers such
    as normalisation and BatchNorm statistics stay float32); loading casts them back.
    """
    dtype = {"float32": torch.float32, "float16": torch.float16}[parameter_dtype]
    parameters = {name for name, _ in model.named_parameters()}
    state = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "backbone": plain_data({"name": model.backbone.name,
                                "settings": model.backbone.settings()}),
        "head": None if model.head is None else plain_data(model.head.settings()),
        "task": plain_data(model.task.to_dict()),
        "state_dict": {k: v.to(dtype) if k in parameters else v for k, v in state.items()},
        "class_names": list(model.class_names),
        "config": model.config.to_dict(),
        "metadata": plain_data({**(metadata or {}),
                                "versions": library_versions("torch", "torchaudio")}),
    }
    return atomic_save(payload, path)


def load_model(path: str | os.PathLike, *, device: torch.device | str = "cpu",
               backbone: str | None = None, config: Config | None = None) -> Classifier:
    """Read a model file written by :func:`save_model` (or an earlier release); the model
    is in eval mode, its ``metadata`` the file's and its ``path`` the file.

    ``backbone`` (other than ``None`` or ``"seed_cnn"``) reads ``path`` as that
    backbone's published checkpoint instead (a PANNs ``.pth`` file, or a Hugging Face
    folder or hub id): the result is an embedder without a head, for embeddings and
    transfer learning; ``config`` then gives its segment and inference settings.

    Raises
    ------
    ModelFileError
        The file is missing, unreadable, not a deep_audio model, or inconsistent.
    """
    if check_backbone_name(backbone) != SEED_BACKBONE:
        return load_backbone_model(backbone, path, config=config, device=device)
    path = Path(path)
    payload = load_payload(path)
    try:
        model = _model_from_payload(payload, path)
    except (KeyError, TypeError, ConfigError, RuntimeError, ValueError,
            DeepAudioError) as error:
        if isinstance(error, ModelFileError):
            raise
        raise ModelFileError(f"model file '{printable(path)}' is inconsistent: {error}") from error
    return model.to(device).eval()


def _model_from_payload(payload: Mapping[str, Any], path: Path) -> Classifier:
    """Rebuild the classifier of any format version, its weights loaded."""
    config = stored_config(payload["config"], source=str(path))
    state = dict(payload["state_dict"])
    class_names = payload["class_names"]
    if payload.get("format_version", 1) >= 3:
        spec = payload["backbone"]
        backbone = build_backbone(spec["name"], spec["settings"])
        head = None if payload["head"] is None else _head(payload["head"])
        task = task_from_dict(payload["task"])
    else:
        backbone, head, task, state = _legacy(payload, config, state)
    model = Classifier(config, class_names, backbone, head, task,
                       metadata=payload.get("metadata", {}), path=path)
    model.load_state_dict(state)
    return model


def _head(settings: Mapping[str, Any]) -> Head | FrameHead:
    """The head of stored ``settings``: a :class:`FrameHead` when ``kind`` says so."""
    settings = dict(settings)
    if settings.pop("kind", None) == FrameHead.kind:
        return FrameHead(**_head_arguments(settings))
    return Head(**_head_arguments(settings))


def _head_arguments(settings: Mapping[str, Any]) -> dict[str, Any]:
    settings = dict(settings)
    return {"in_features": settings.pop("in_features"), "n_classes": settings.pop("n_classes"),
            **settings}


def _legacy(payload: Mapping[str, Any], config: Config, state: dict[str, torch.Tensor]
            ) -> tuple[Any, Head | None, Task, dict[str, torch.Tensor]]:
    """Backbone, head, task and renamed state of a format 1 or 2 file."""
    thresholds = state.pop("thresholds", None)
    task: Task = SingleLabel()
    if config.training.task == "multi_label":
        task = MultiLabel(() if thresholds is None else thresholds.tolist())
    class_names = payload["class_names"]
    if "backbone" in payload:  # format 2: a pretrained backbone and a linear head
        spec = payload["backbone"]
        backbone = build_backbone(spec["name"], spec["settings"])
        head = (Head(backbone.head_input_size, len(class_names)) if class_names else None)
        state = {_new_key(k, {"head.0.": "head.linear_layer1.0."}): v for k, v in state.items()}
        return backbone, head, task, state
    backbone = SeedBackbone.from_config(config)
    head = Head.from_config(config.model, backbone.head_input_size, len(class_names))
    return backbone, head, task, {_new_key(k, _SEED_KEYS): v for k, v in state.items()}


# format 1 key prefixes -> today's
_SEED_KEYS = {"front_end.": "backbone.front_end.", "normalize.": "backbone.normalize.",
              "cnn.conv_layer": "backbone.conv_layer", "cnn.linear_layer": "head.linear_layer"}


def _new_key(key: str, prefixes: Mapping[str, str]) -> str:
    for old, new in prefixes.items():
        if key.startswith(old):
            return new + key[len(old):]
    return key


def legacy_state_dict(model: Classifier) -> dict[str, torch.Tensor]:
    """``model``'s state as a format 1 or 2 file held it (key names, a multi-label seed
    model's ``thresholds`` buffer): what weight digests of earlier releases hashed, so
    that indexes and deep-feature classifiers built then still match their model."""
    state = model.state_dict()
    if model.backbone.name == SEED_BACKBONE:
        prefixes = {new: old for old, new in _SEED_KEYS.items()}
    else:
        prefixes = {"head.linear_layer1.0.": "head.0."}
    legacy = {_new_key(k, prefixes): v for k, v in state.items()}
    if isinstance(model.task, MultiLabel) and model.head is not None:
        legacy["thresholds"] = torch.as_tensor(
            model.task.threshold_array(len(model.class_names)), dtype=torch.float32)
    return legacy


def load_payload(path: Path) -> dict[str, Any]:
    """The raw dict of a model file, loaded with ``weights_only=True``.

    Raises
    ------
    ModelFileError
        The file is missing, is not a readable PyTorch archive, holds Python objects,
        holds something other than a deep_audio model (e.g. a bare state_dict), or has a
        newer format version.
    """
    if not path.is_file():
        raise ModelFileError(f"model file '{printable(path)}' does not exist")
    payload = load_weights_only(path, "model")
    check_header(payload, format=FORMAT, max_version=FORMAT_VERSION, path=path,
                 what="model file", foreign=_foreign(path, payload))
    return payload


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A training checkpoint written with :func:`atomic_save`, loaded with ``weights_only``.

    Raises
    ------
    ModelFileError
        As :func:`load_payload`: missing, unreadable, or holding Python objects.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"checkpoint '{printable(path)}' does not exist")
    return load_weights_only(path, "checkpoint")


def _foreign(path: Path, payload: Any) -> str:
    """Why ``payload`` (loaded without error) is not a deep_audio model, and what to do."""
    name = printable(path)
    if isinstance(payload, dict) and payload.get("format") == "deep_audio.classic":
        return (f"'{name}' is a deep_audio classic model: use the classic commands "
                "(classic_test) with it")
    state = payload.get("state_dict", payload) if isinstance(payload, dict) else None
    if isinstance(state, dict) and state and all(
            isinstance(v, torch.Tensor) for v in state.values()):
        return (f"'{name}' holds a state_dict without deep_audio's metadata (format, class "
                "names, settings), so deep_audio cannot rebuild a model from it: it was "
                f"not written by deep_audio; {ADVICE['model']}")
    return (f"'{name}' is not a deep_audio model file (it holds a "
            f"{type(payload).__name__} without deep_audio's format marker); "
            f"{ADVICE['model']}")


def atomic_save(payload: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` ``payload`` to ``path`` atomically
    (:func:`~deep_audio.io.files.atomic_write`)."""
    return atomic_write(path, lambda stream: torch.save(payload, stream))



def plain_data(value: Any) -> Any:
    """``value`` with numpy scalars/arrays and tuples turned into plain Python types.

    Text is made printable (:func:`~deep_audio.io.audio.printable`): a file name that is not
    valid UTF-8 is stored with its odd bytes written ``\\xNN``.
    """
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, str)):
        return printable(value)  # a non-UTF-8 file name stays readable and valid UTF-8
    if value is None:
        return None
    for plain_type in (bool, int, float):  # bool first: it is an int too
        if isinstance(value, plain_type):
            return plain_type(value)  # drops subclasses such as torch's TorchVersion
    raise ModelFileError(f"cannot store {type(value).__name__} in model metadata")
