"""Similar-sound search: the files of an index nearest to a query file.

An index holds one embedding per file (:mod:`deep_audio.predict.embeddings`), scaled
to unit length. The distance between two files is the **cosine distance** of their
embeddings, ``1 - cos(a, b)``: 0 for the same direction, 1 for orthogonal embeddings,
at most 2. A file that is in the index is at distance ~0 (about 1e-6) from itself.

An index is saved as ``.npz`` (plain arrays, read with ``allow_pickle=False``)::

    format, format_version, embeddings (n_files, size) float32, files (n_files,) str,
    layer, model_path, signature (JSON of the model's feature signature)

A query is embedded with the index's model (or one given); a model that embeds
differently (other feature settings or weights) is refused.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deep_audio.errors import AudioError, DeepAudioError, ModelFileError
from deep_audio.io.audio import list_audio_files, printable
from deep_audio.io.files import atomic_write, check_header
from deep_audio.models import Classifier
from deep_audio.predict.embeddings import (
    check_layer,
    check_signature,
    default_layer,
    embed_files,
    embedding_matrix,
    feature_signature,
    model_path_of,
)
from deep_audio.predict.torch_predictor import as_model

logger = logging.getLogger(__name__)

FORMAT = "deep_audio.sound_index"
FORMAT_VERSION = 1


@dataclass
class SoundIndex:
    """File embeddings to search, and what made them.

    Attributes
    ----------
    embeddings : np.ndarray, float32, shape (n_files, size)
        File embeddings scaled to unit L2 norm (a zero embedding stays zero).
    files : list of str
        Path of each row.
    layer : str
        The embedding layer (``conv``, ``linear1``, ...).
    model_path : str or None
        The model file the embeddings came from; the default model for queries.
    signature : dict
        :func:`~deep_audio.predict.embeddings.feature_signature` of that model.
    skipped : list of (str, str)
        Files left out when building, with the reason (not saved).
    """

    embeddings: np.ndarray
    files: list[str]
    layer: str
    model_path: str | None
    signature: dict[str, Any]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the index to ``path`` (``.npz``) atomically; returns the path.

        A crash while saving leaves the previous file in place
        (:func:`~deep_audio.io.files.atomic_write`).
        """
        path = Path(path)
        if path.suffix != ".npz":
            raise DeepAudioError(f"index file '{printable(path)}' must end in .npz")
        arrays = dict(format=np.array(FORMAT), format_version=np.array(FORMAT_VERSION),
                      embeddings=self.embeddings, files=np.array(self.files, dtype=str),
                      layer=np.array(self.layer), model_path=np.array(self.model_path or ""),
                      signature=np.array(json.dumps(self.signature)))
        return atomic_write(path, lambda stream: np.savez(stream, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> SoundIndex:
        """Read an index written by :meth:`save`; no pickled objects are accepted.

        Raises
        ------
        ModelFileError
            The file is missing, damaged or not a deep_audio index.
        """
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"index file '{printable(path)}' does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                check_header(data, format=FORMAT, max_version=FORMAT_VERSION, path=path,
                             what="index file",
                             foreign=f"cannot read index file '{printable(path)}': it is not "
                                     "a deep_audio sound index")
                return cls(embeddings=data["embeddings"].astype(np.float32),
                           files=[str(f) for f in data["files"]], layer=str(data["layer"]),
                           model_path=str(data["model_path"]) or None,
                           signature=json.loads(str(data["signature"])))
        except ModelFileError:
            raise
        except Exception as error:  # zip, key and JSON errors of a damaged or foreign file
            raise ModelFileError(f"cannot read index file '{printable(path)}': "
                                 f"{error}") from error


def build_index(model: Classifier | str | os.PathLike,
                folders: str | os.PathLike | Sequence[str | os.PathLike], *,
                layer: str | None = None, precision: str = "fp32") -> SoundIndex:
    """Embed every audio file under ``folders`` (recursively) into a :class:`SoundIndex`.

    Parameters
    ----------
    model : Classifier or path
        A trained model; the index records its file and feature signature.
    folders : str, PathLike or a sequence of them
        Folders to index; unreadable files are skipped and listed in ``skipped``.
    layer : str
        ``conv``, ``linear1``, ... (see :func:`~deep_audio.predict.embeddings.embedding_layers`).
    precision : str
        See :func:`~deep_audio.predict.embeddings.embed_files`.

    Examples
    --------
    >>> index = build_index("models/cnn.pt", "sounds/", layer="linear2")  # doctest: +SKIP
    >>> index.save("sounds.npz")  # doctest: +SKIP
    >>> nearest(SoundIndex.load("sounds.npz"), "query.wav", k=3)  # doctest: +SKIP
    [('sounds/dog/12.wav', 0.021), ('sounds/dog/3.wav', 0.034), ('sounds/cat/1.wav', 0.2)]
    """
    model = as_model(model)
    layer = layer or default_layer(model)
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    check_layer(model, layer)
    if not folders:
        raise DeepAudioError("no folders given")
    # Not class folders: two folders may share a name, so files are listed directly.
    paths = [path for folder in folders for path in list_audio_files(folder)]
    if not paths:
        raise AudioError(f"no audio files in {[printable(f) for f in folders]}")
    features, used, skipped = embedding_matrix(model, paths, layer=layer, precision=precision,
                                               source=f"{[printable(f) for f in folders]}")
    return SoundIndex(unit_rows(features), [str(path) for path in used], layer,
                      model_path_of(model), feature_signature(model, layer), skipped)


def search(index: SoundIndex, query_files: Iterable[str | os.PathLike], *, k: int = 5,
           model: Classifier | str | os.PathLike | None = None, precision: str = "fp32",
           skip_unreadable: bool = False) -> Iterator[tuple[Path, list[tuple[str, float]]]]:
    """The ``k`` nearest indexed files of each query file, nearest first.

    Parameters
    ----------
    index : SoundIndex
    query_files : iterable of str or PathLike
        Audio files; they need not be in the index.
    k : int
        Neighbours per query, >= 1 (fewer when the index holds fewer files).
    model : Classifier or path, optional
        The model to embed queries with; default: the index's ``model_path``. It must
        embed as the index's model did.
    precision, skip_unreadable
        See :func:`~deep_audio.predict.embeddings.embed_files`.

    Yields
    ------
    (Path, list of (str, float))
        The query and its neighbours as ``(indexed file, cosine distance)``.

    Raises
    ------
    ModelFileError
        The model embeds differently from the index's model.
    """
    if k < 1:
        raise DeepAudioError(f"k={k} must be >= 1")
    if model is None:
        if not index.model_path:
            raise DeepAudioError("the index records no model file; pass the model")
        model = index.model_path
    model = as_model(model)
    check_signature(index.signature, model, what=f"the index of {len(index.files)} files "
                                                  f"(model '{index.model_path}')")
    for query in embed_files(query_files, model, layer=index.layer, precision=precision,
                             skip_unreadable=skip_unreadable):
        distances = 1.0 - index.embeddings @ unit_rows(query.embedding[None, :])[0]
        distances = np.clip(distances, 0.0, 2.0)
        order = np.argsort(distances, kind="stable")[:k]
        yield query.path, [(index.files[i], float(distances[i])) for i in order]


def nearest(index: SoundIndex, query_file: str | os.PathLike, k: int = 5, *,
            model: Classifier | str | os.PathLike | None = None
            ) -> list[tuple[str, float]]:
    """The ``k`` indexed files nearest to one file, as ``(path, cosine distance)``,
    nearest first; see :func:`search`."""
    ((_, neighbours),) = search(index, [query_file], k=k, model=model)
    return neighbours


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows of ``(n, size)`` scaled to unit L2 norm, float32; zero rows stay zero.

    >>> unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix, dtype=np.float64),
                     where=norms > 0).astype(np.float32)
