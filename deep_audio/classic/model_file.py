"""Classic model files: a skops file that loads without running code.

The file holds one dict, written with :func:`skops.io.dump`::

    {"format": "deep_audio.classic", "format_version": 1,
     "pipeline": <Pipeline>, "classifier_type": "svm", "class_names": [...],
     "feature_names": [...136 names...], "windows": {"mid_window_seconds": 1.0, ...},
     "sample_rate": None, "metadata": {...}}

Loading never unpickles: :func:`load_classic_model` first lists the types the file
needs beyond skops's defaults, refuses anything outside :data:`TRUSTED_TYPES`, then loads
with exactly those. A bare model name is written to ``<models_dir>/<name>.skops``
(``training.models_dir`` of the config, ``models`` by default; like the CNN path's
``.pt`` files); ``name`` and ``name.skops`` are the same model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from deep_audio.errors import ModelFileError
from deep_audio.io.audio import printable
from deep_audio.io.files import atomic_write, check_header, library_versions, resolve_model_path

FORMAT = "deep_audio.classic"
FORMAT_VERSION = 1
SUFFIX = ".skops"

# Types, beyond those skops trusts by default, that the six classifier pipelines need.
# Each entry is needed by at least one classifier type (checked by the tests): the SVMs'
# probability calibration, and the decision trees of the three forests/boosting models.
TRUSTED_TYPES = (
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.tree._tree.Tree",
)


def resolve_classic_model_path(name: str | os.PathLike, models_dir: str | os.PathLike
                               ) -> Path:
    """Where a classic model called ``name`` lives.

    A bare name (no directory part) goes to ``models_dir``; ``.skops`` is added unless
    already there.

    >>> [str(resolve_classic_model_path(name, "models")) for name in ("svm1", "out/a.skops")]
    ['models/svm1.skops', 'out/a.skops']
    """
    return resolve_model_path(name, models_dir, suffix=SUFFIX)


def save_classic_model(path: str | os.PathLike, model: dict[str, Any]) -> Path:
    """Write ``model`` (the dict described in the module docstring) to ``path`` atomically."""
    import skops.io

    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **model,
               "versions": library_versions("scikit-learn", "skops")}
    return atomic_write(path, lambda stream: skops.io.dump(payload, stream))


def load_classic_model(path: str | os.PathLike) -> dict[str, Any]:
    """Read a classic model file; no code in the file is executed.

    Raises
    ------
    ModelFileError
        Missing, damaged or foreign file, or a file that asks for a type outside
        :data:`TRUSTED_TYPES`.
    """
    import skops.io

    path = Path(path)
    name = printable(path)
    advice = "train it again with deep_audio's classic_training"
    if not path.is_file():
        raise ModelFileError(f"classic model file '{name}' does not exist")
    try:
        needed = skops.io.get_untrusted_types(file=path)
    except Exception as error:  # zip and JSON errors of a damaged file
        raise ModelFileError(f"'{name}' is not a readable classic model file (not a skops "
                             f"archive, or a damaged one: {type(error).__name__}); "
                             f"{advice}") from None
    refused = sorted(set(needed) - set(TRUSTED_TYPES))
    if refused:
        raise ModelFileError(f"'{name}' is not a deep_audio classic model as deep_audio writes "
                             f"them: it asks for Python types that deep_audio does not trust: "
                             f"{', '.join(refused)}; deep_audio refuses to load it because "
                             f"loading such types could run code; {advice}")
    try:
        payload = skops.io.load(path, trusted=list(needed))
    except Exception as error:
        raise ModelFileError(f"cannot load classic model file '{name}': it is damaged "
                             f"({type(error).__name__}); {advice}") from None
    check_header(payload, format=FORMAT, max_version=FORMAT_VERSION, path=path,
                 what="classic model file",
                 foreign=f"'{name}' is not a deep_audio classic model file (a skops file "
                         f"of another program); {advice}")
    return payload

