"""The one place that writes and reads model files.

A model file is a ``torch.save`` of plain data only (tensors, strings, numbers, lists,
dicts), so ``torch.load(path, weights_only=True)`` reads it without running code::

    {"format": "deep_audio.model", "format_version": 1,
     "state_dict": {...}, "class_names": [...], "config": {...}, "metadata": {...}}

A model built on a pretrained backbone (:mod:`deep_audio.models.backbones`) is written
with ``format_version`` 2 and one more entry, ``"backbone": {"name": ..., "settings":
{...}}``: plain data that rebuilds the network and its front end (sample rate, window,
hop, mel bands, normalisation, or a Hugging Face config), so the settings travel with
the weights. Files without it are the seed CNN, as before.

Files are written atomically: a crash while saving leaves the previous file in place.

A file that is not one (a pickle with Python objects, damaged bytes, another tool's
state_dict) is refused with a :class:`~deep_audio.errors.ModelFileError` that says what
the file is and what to do instead; no code in it runs, and PyTorch's own message (which
suggests loading with ``weights_only=False``, the one thing not to do with a file of
unknown origin) is never passed on.
"""

from __future__ import annotations

import os
import pickletools  # disassembles opcodes to name a refused object; never unpickles
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from deep_audio.io.audio import printable
from deep_audio.config import Config, stored_config
from deep_audio.errors import ConfigError, ModelFileError
from deep_audio.io.files import atomic_write, check_header, library_versions, resolve_model_path
from deep_audio.models.backbones import (SEED_BACKBONE, BackboneClassifier, build_backbone,
                                         check_backbone_name, load_backbone_model)
from deep_audio.models.classifier import AudioClassifier

__all__ = ["FORMAT", "FORMAT_VERSION", "atomic_save", "library_versions", "load_checkpoint",
           "load_model", "load_payload", "plain_data", "resolve_model_path", "save_model"]

FORMAT = "deep_audio.model"
FORMAT_VERSION = 2  # 1: the seed CNN; 2: adds "backbone"


def save_model(path: str | os.PathLike, model: AudioClassifier | BackboneClassifier, *,
               metadata: Mapping[str, Any] | None = None,
               parameter_dtype: str = "float32") -> Path:
    """Write ``model`` (weights, class names, config) and plain ``metadata`` to ``path``.

    ``parameter_dtype="float16"`` stores the learned weights at half size (buffers such
    as normalisation and BatchNorm statistics stay float32); loading casts them back.
    """
    dtype = {"float32": torch.float32, "float16": torch.float16}[parameter_dtype]
    parameters = {name for name, _ in model.named_parameters()}
    state = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "format_version": 1,  # the seed CNN's files stay readable by older releases
        "state_dict": {k: v.to(dtype) if k in parameters else v for k, v in state.items()},
        "class_names": list(model.class_names),
        "config": model.config.to_dict(),
        "metadata": plain_data({**(metadata or {}), "versions": library_versions("torch", "torchaudio")}),
    }
    if isinstance(model, BackboneClassifier):
        payload["format_version"] = 2
        payload["backbone"] = plain_data(model.backbone_spec())
    return atomic_save(payload, path)


def load_model(path: str | os.PathLike, *, device: torch.device | str = "cpu",
               backbone: str | None = None, config: Config | None = None
               ) -> AudioClassifier | BackboneClassifier:
    """Read a model file written by :func:`save_model`; the model is in eval mode.

    The returned model's ``metadata`` is the file's and its ``path`` the file it was read
    from (see :class:`~deep_audio.models.AudioClassifier`).

    ``backbone`` (other than ``None`` or ``"seed_cnn"``) reads ``path`` as that
    backbone's published checkpoint instead (a PANNs ``.pth`` file, or a Hugging Face
    folder or hub id): the result is a :class:`BackboneClassifier` without a head, for
    embeddings and transfer learning (see
    :func:`~deep_audio.models.backbones.load_backbone_model`); ``config`` then gives
    its segment and inference settings (default ``configs/default.yaml``).

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
        config = stored_config(payload["config"], source=str(path))
        if "backbone" in payload:
            spec = payload["backbone"]
            model = BackboneClassifier(config, payload["class_names"],
                                       build_backbone(spec["name"], spec["settings"]),
                                       metadata=payload.get("metadata", {}), path=path)
        else:
            model = AudioClassifier(config, payload["class_names"],
                                    metadata=payload.get("metadata", {}), path=path)
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ConfigError, RuntimeError, ValueError) as error:
        raise ModelFileError(f"model file '{path}' is inconsistent: {error}") from error
    return model.to(device).eval()


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
    payload = _load_weights_only(path, "model")
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
    return _load_weights_only(path, "checkpoint")


_ADVICE = {
    "model": "train a model with deep_audio, or export the weights from the tool that made "
             "the file and load them into a deep_audio model in Python",
    "checkpoint": "delete it and train again without --resume",
}


def _load_weights_only(path: Path, kind: str) -> Any:
    """``torch.load(path, weights_only=True)``; a file it refuses becomes a plain message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4"
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for damaged or foreign files
        objects = _python_objects(path, error)
        what = "deep_audio model" if kind == "model" else "deep_audio training checkpoint"
        if objects:
            message = (f"'{printable(path)}' is not a {what}: it contains Python objects "
                       f"(pickled classes, e.g. {objects}), which deep_audio refuses to load "
                       "because loading them could run code")
        else:
            message = (f"'{printable(path)}' is not a {what} file (not a readable PyTorch "
                       "archive: damaged, cut off, or another kind of file)")
        # Not chained: torch's message advises weights_only=False, never to be followed here.
        raise ModelFileError(f"{message}; {_ADVICE[kind]}") from None


# Globals that a torch.save of plain data uses; anything else is a Python object.
_PLAIN_GLOBALS = re.compile(r"^(torch\b|collections (OrderedDict|defaultdict)$|"
                            r"_codecs encode$|builtins (set|frozenset|bytearray)$)")


def _python_objects(path: Path, error: Exception) -> str | None:
    """The first Python class or function a refused file would have loaded, or ``None``.

    Found from torch's message, else by listing (never running) the file's pickle
    opcodes: a raw pickle, or ``data.pkl`` inside a zip archive.
    """
    found = re.search(r"GLOBAL ([\w.]+)", str(error))
    if found:
        return found.group(1)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                member = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                data = archive.read(member) if member else b""
        else:
            with open(path, "rb") as stream:
                data = stream.read(64 << 20)
    except (OSError, zipfile.BadZipFile, RuntimeError):
        return None
    if not data.startswith(b"\x80"):  # pickles of protocol 2 and above start with PROTO
        return None
    strings: list[str] = []
    try:
        for opcode, argument, _ in pickletools.genops(data):
            if opcode.name == "GLOBAL" and not _PLAIN_GLOBALS.match(argument):
                return argument.replace(" ", ".")
            if opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                name = f"{strings[-2]} {strings[-1]}"
                if not _PLAIN_GLOBALS.match(name):
                    return name.replace(" ", ".")
            if isinstance(argument, str):
                strings.append(argument)
    except Exception:  # a damaged pickle: whatever came before it held no object
        return None
    return None


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
                f"not written by deep_audio; {_ADVICE['model']}")
    return (f"'{name}' is not a deep_audio model file (it holds a "
            f"{type(payload).__name__} without deep_audio's format marker); "
            f"{_ADVICE['model']}")


def atomic_save(payload: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` ``payload`` to ``path`` atomically (:func:`~deep_audio.io.files.atomic_write`)."""
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
    raise TypeError(f"cannot store {type(value).__name__} in model metadata")
