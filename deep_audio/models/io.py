"""The one place that writes and reads model files.

A model file is a ``torch.save`` of plain data only (tensors, strings, numbers, lists,
dicts), so ``torch.load(path, weights_only=True)`` reads it without running code::

    {"format": "deep_audio.model", "format_version": 1,
     "state_dict": {...}, "class_names": [...], "config": {...}, "metadata": {...}}

Files are written atomically: a crash while saving leaves the previous file in place.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from deep_audio.config import stored_config
from deep_audio.errors import ConfigError, ModelFileError
from deep_audio.models.classifier import AudioClassifier

FORMAT = "deep_audio.model"
FORMAT_VERSION = 1


def save_model(path: str | os.PathLike, model: AudioClassifier, *,
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
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.to(dtype) if k in parameters else v for k, v in state.items()},
        "class_names": list(model.class_names),
        "config": model.config.to_dict(),
        "metadata": plain_data({**(metadata or {}), "versions": library_versions()}),
    }
    return atomic_save(payload, path)


def load_model(path: str | os.PathLike, *, device: torch.device | str = "cpu"
               ) -> AudioClassifier:
    """Read a model file written by :func:`save_model`; the model is in eval mode.

    The returned model has ``class_names``, ``config``, ``metadata`` and ``path`` (the
    file it was read from) attributes.

    Raises
    ------
    ModelFileError
        The file is missing, unreadable, not a deep_audio model, or inconsistent.
    """
    path = Path(path)
    payload = load_payload(path)
    try:
        config = stored_config(payload["config"], source=str(path))
        model = AudioClassifier(config, payload["class_names"])
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ConfigError, RuntimeError, ValueError) as error:
        raise ModelFileError(f"model file '{path}' is inconsistent: {error}") from error
    model.metadata = payload.get("metadata", {})
    model.path = path
    return model.to(device).eval()


def load_payload(path: Path) -> dict[str, Any]:
    """The raw dict of a model file, loaded with ``weights_only=True``."""
    if not path.is_file():
        raise ModelFileError(f"model file '{path}' does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for damaged or foreign files
        raise ModelFileError(f"cannot read model file '{path}': {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"'{path}' is not a deep_audio model file")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(f"model file '{path}' has format version "
                             f"{payload['format_version']}; this deep_audio reads up to "
                             f"{FORMAT_VERSION}: upgrade deep_audio")
    return payload


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A training checkpoint written with :func:`atomic_save`, loaded with ``weights_only``."""
    try:
        return torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged or foreign file
        raise ModelFileError(f"cannot read checkpoint '{path}': {error}") from error


def resolve_model_path(name: str | os.PathLike, models_dir: str | os.PathLike) -> Path:
    """Where a model called ``name`` lives: a bare name goes to ``models_dir``.

    ``.pt`` is added unless already there, so ``name`` and ``name.pt`` are the same file.

    >>> str(resolve_model_path("cnn", "models")), str(resolve_model_path("out/cnn.pt", "models"))
    ('models/cnn.pt', 'out/cnn.pt')
    """
    path = Path(name)
    if path.suffix != ".pt":
        path = path.with_name(path.name + ".pt")
    if path.parent == Path(".") and not str(name).startswith("."):
        path = Path(models_dir) / path
    return path


def atomic_save(payload: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as stream:
            torch.save(payload, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def library_versions() -> dict[str, str]:
    import torchaudio

    from deep_audio import __version__

    return {"deep_audio": __version__, "torch": torch.__version__,
            "torchaudio": torchaudio.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def plain_data(value: Any) -> Any:
    """``value`` with numpy scalars/arrays and tuples turned into plain Python types."""
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if value is None:
        return None
    for plain_type in (bool, int, float, str):  # bool first: it is an int too
        if isinstance(value, plain_type):
            return plain_type(value)  # drops subclasses such as torch's TorchVersion
    raise TypeError(f"cannot store {type(value).__name__} in model metadata")
