"""The one place for what every model and index file needs: atomic writing, the format
header check and where a model name lives.

Torch-free (numpy is not needed either), so the classic, ONNX and search paths use it
without importing torch.

- :func:`atomic_write`: writes go to a temporary file beside the target, are synced to
  disk and renamed over it, so a crash while saving leaves the previous file in place.
- :func:`check_header`: a file's ``format``/``format_version`` entries, checked with one
  message for a newer version.
- :func:`resolve_model_path`: a bare name goes to the models folder, the suffix is added
  when missing, a path with a folder is used as given.
- :func:`library_versions`: the versions a model file records of what wrote it.
"""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from deep_audio.errors import ModelFileError
from deep_audio.io.audio import printable


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any], *,
                 sync: bool = True) -> Path:
    """Call ``write(stream)`` on a temporary file beside ``path``, then rename it over ``path``.

    The temporary file (``.<name>.<pid>.<thread>.tmp`` in the same folder, so the rename
    stays on one file system and concurrent writers never share one) is flushed and, with
    ``sync``, synced to disk before :func:`os.replace`; if ``write`` raises, it is removed
    and ``path`` keeps its old content. Missing folders are created.

    Parameters
    ----------
    path : str or PathLike
        The file to write.
    write : callable
        Writes the whole content to the binary stream it is given (``torch.save``,
        ``np.savez``, ``skops.io.dump``, ...).
    sync : bool
        ``os.fsync`` before the rename, so that the new content survives a power cut;
        ``False`` for files that can be made again (the audio cache).

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "a.bin"
    >>> atomic_write(target, lambda stream: stream.write(b"new")).read_bytes()
    b'new'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(temporary, "wb") as stream:
            write(stream)
            if sync:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def check_header(payload: Any, *, format: str, max_version: int,
                 path: str | os.PathLike, what: str, foreign: str) -> None:
    """Refuse ``payload`` unless its ``format`` is ``format`` and its version is readable.

    Parameters
    ----------
    payload : Mapping or anything
        The loaded file: a dict, or an ``np.load`` archive (0-d arrays are read as their
        value). Anything that is not a mapping is foreign.
    format : str
        The expected ``payload["format"]``.
    max_version : int
        The newest ``payload["format_version"]`` this deep_audio reads (missing counts 0).
    path : str or PathLike
        The file, for the messages.
    what : str
        What the file is, for the version message ("model file", "index file").
    foreign : str
        The message for a payload without the right format marker.

    Raises
    ------
    ModelFileError
        ``foreign`` when the format is not ``format``; "<what> '<path>' has format version
        N; this deep_audio reads up to M: upgrade deep_audio" when the version is newer.

    Examples
    --------
    >>> check_header({"format": "x", "format_version": 1}, format="x", max_version=1,
    ...              path="a.x", what="x file", foreign="not an x file")
    >>> check_header({"format": "x", "format_version": 2}, format="x", max_version=1,
    ...              path="a.x", what="x file", foreign="not an x file")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    deep_audio.errors.ModelFileError: x file 'a.x' has format version 2; this deep_audio ...
    """
    found = payload.get("format") if isinstance(payload, Mapping) else None
    if found is None or str(found) != format:
        raise ModelFileError(foreign)
    version = int(payload.get("format_version", 0))
    if version > max_version:
        raise ModelFileError(f"{what} '{printable(path)}' has format version {version}; "
                             f"this deep_audio reads up to {max_version}: upgrade deep_audio")


def resolve_model_path(name: str | os.PathLike, models_dir: str | os.PathLike, *,
                       suffix: str = ".pt") -> Path:
    """Where a model called ``name`` lives.

    ``suffix`` is added unless ``name`` already ends in it, so ``name`` and
    ``name + suffix`` are one file. A bare name (no folder part, not starting with ``.``)
    goes to ``models_dir``; a path with a folder (``out/cnn``, ``./cnn``, ``/abs/cnn``) is
    used as given.

    >>> str(resolve_model_path("cnn", "models")), str(resolve_model_path("out/cnn.pt", "models"))
    ('models/cnn.pt', 'out/cnn.pt')
    >>> str(resolve_model_path("svm1", "models", suffix=".skops"))
    'models/svm1.skops'
    """
    path = Path(name)
    if path.suffix != suffix:
        path = path.with_name(path.name + suffix)
    if path.parent == Path(".") and not str(name).startswith("."):
        path = Path(models_dir) / path
    return path


def library_versions(*packages: str) -> dict[str, str]:
    """The versions of deep_audio, Python, numpy and ``packages`` (distribution names such
    as ``torch`` or ``scikit-learn``), as recorded in every model file.

    Read from the installed packages' metadata, so nothing is imported.
    """
    from importlib.metadata import PackageNotFoundError, version

    from deep_audio import __version__

    versions = {"deep_audio": __version__, "python": platform.python_version()}
    for name in ("numpy", *packages):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions
