"""Features: the log-mel front-end of the CNN path, and hand-crafted features.

The log-mel names are imported on first use, so that the classic path
(``deep_audio.features.handcrafted``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deep_audio.features.logmel import LogMel, Normalize, band_statistics

__all__ = ["LogMel", "Normalize", "band_statistics"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module("deep_audio.features.logmel"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
