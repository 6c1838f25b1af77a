"""Choosing the device and the autocast precision."""

from __future__ import annotations

from contextlib import nullcontext

import torch

from deep_audio.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU; other names go to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"device={name!r} is not a device name: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} asked for, but CUDA is not available here")
    return device


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``; ``None`` means float32."""
    cpu_bf16 = device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if precision == "fp32":
        return None
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if cuda_bf16 else torch.float16
        return torch.bfloat16 if cpu_bf16 else None
    if precision == "bf16":
        if not (cpu_bf16 or cuda_bf16):
            raise ConfigError(f"precision='bf16' is not supported on {device}")
        return torch.bfloat16
    if precision == "fp16":
        if device.type != "cuda":
            raise ConfigError("precision='fp16' needs a CUDA device; use bf16 on a CPU")
        return torch.float16
    raise ConfigError(f"unknown precision {precision!r}")


def autocast(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` for ``dtype``, or a no-op context for float32 (``None``)."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()
