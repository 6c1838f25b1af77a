"""Classifying files with any model: a predictor, a PyTorch model in memory, an ONNX file
or a deep_audio model file (:func:`as_predictor` makes the predictor; see
:mod:`deep_audio.predict.predictor` for what a predictor is)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from deep_audio.predict.predictor import FileResult, Predictor, predict_files


def as_predictor(model: Any, *, precision: str = "fp32", batch_size: int | None = None,
                 device: str = "cpu") -> Predictor:
    """``model`` itself when it is a predictor, else a predictor made from it.

    Parameters
    ----------
    model : predictor, Classifier, path, or a list of these
        A predictor; a loaded PyTorch model; an ``.onnx`` file (run by onnxruntime,
        without torch); or any other path, a deep_audio model file. A list or tuple of
        several: an :class:`~deep_audio.predict.ensemble.Ensemble`, their posteriors
        averaged.
    precision : str
        Of a PyTorch model's forward passes: ``fp32``, ``bf16``, ``fp16`` or ``auto``.
    batch_size : int, optional
        Segments per forward pass; default the model's ``inference_batch_size``.
    device : str
        Where a PyTorch model file is loaded (``cpu``, ``cuda``, ``auto``).
    """
    if isinstance(model, Predictor):
        return model
    if isinstance(model, (list, tuple)):
        from deep_audio.predict.ensemble import Ensemble

        members = [as_predictor(m, precision=precision, batch_size=batch_size, device=device)
                   for m in model]
        return members[0] if len(members) == 1 else Ensemble(members)  # [] is refused
    if isinstance(model, (str, os.PathLike)) and Path(model).suffix.lower() == ".onnx":
        from deep_audio.predict.onnx import OnnxClassifier

        return OnnxClassifier(model, batch_size=batch_size)
    from deep_audio.predict.torch_predictor import TorchPredictor

    return TorchPredictor.of(model, precision=precision, batch_size=batch_size, device=device)


def classify_file(path: str | os.PathLike, model: Any, *, precision: str = "fp32"
                  ) -> tuple[int, np.ndarray, list[str]]:
    """Classify one file, as the seed's ``file_classification`` does.

    Parameters
    ----------
    path : str or PathLike
        An audio file.
    model : predictor, Classifier or path
        See :func:`as_predictor`.

    Returns
    -------
    class_index : int
        Index of the winning class.
    posteriors : np.ndarray, shape (n_classes,)
        Class probabilities, the mean of the segments' posteriors.
    class_names : list of str

    Examples
    --------
    >>> winner, p, classes = classify_file("song1.wav", "models/cnn.pt")  # doctest: +SKIP
    >>> print(classes[winner], p[winner])  # doctest: +SKIP
    """
    predictor = as_predictor(model, precision=precision)
    (result,) = classify_files([path], predictor)
    return result.class_index, result.posteriors, list(predictor.class_names)


def classify_files(paths: Iterable[str | os.PathLike], model: Any, *,
                   batch_size: int | None = None, precision: str = "fp32",
                   skip_unreadable: bool = False,
                   skipped: list[tuple[Path, str]] | None = None) -> Iterator[FileResult]:
    """Classify many files with ``model`` (see :func:`as_predictor`; ``precision`` is a
    PyTorch model's), sharing forward passes between them; yields one
    :class:`~deep_audio.predict.predictor.FileResult` per file, in input order (see
    :func:`~deep_audio.predict.predictor.predict_files`)."""
    predictor = as_predictor(model, precision=precision, batch_size=batch_size)
    yield from predict_files(paths, predictor, batch_size=batch_size,
                             skip_unreadable=skip_unreadable, skipped=skipped)
