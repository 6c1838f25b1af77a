"""Classifying files with a classic model file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from deep_audio.classic.model_file import load_classic_model, resolve_classic_model_path
from deep_audio.config import Config, load_config
from deep_audio.errors import ModelFileError
from deep_audio.features.handcrafted import file_features


def find_classic_model(model_name: str | os.PathLike,
                       models_dir: str | os.PathLike | None = None) -> Path:
    """The file of ``model_name``: ``<models_dir>/<name>.skops`` for a bare name, else the
    path (``.skops`` added if missing); an existing file named exactly ``model_name`` is
    used as is. ``models_dir`` defaults to the config's ``training.models_dir``."""
    resolved = resolve_classic_model_path(model_name, models_dir)
    literal = Path(model_name)
    if not resolved.is_file() and literal.is_file():
        return literal
    return resolved


def classify_file(path: str | os.PathLike, model: dict[str, Any]
                  ) -> tuple[int, np.ndarray]:
    """Class index and probabilities of one file under a loaded model (see
    :func:`~deep_audio.classic.model_file.load_classic_model`)."""
    if model.get("deep_features"):
        raise ModelFileError("this classic model classifies a CNN's deep features, not "
                             "hand-crafted ones; use deep_audio.bin.deep_feature_test")
    vector, _ = file_features(path, sample_rate=model["sample_rate"], **model["windows"])
    pipeline = model["pipeline"]
    raw = pipeline.predict_proba(vector[None, :])[0]
    probabilities = np.zeros(len(model["class_names"]))
    probabilities[np.asarray(pipeline.classes_, dtype=int)] = raw
    return int(np.argmax(probabilities)), probabilities


def file_classification(path: str | os.PathLike, model_name: str | os.PathLike,
                        model_type: str | None = None, *,
                        models_dir: str | os.PathLike | None = None,
                        config: Config | None = None
                        ) -> tuple[int, np.ndarray, list[str]]:
    """pyAudioAnalysis's call: classify one audio file with a saved classic model.

    ``wclass, p, classes = file_classification("song1.wav", "classical_vs_metal_svm",
    "svm"); print(classes[int(wclass)], p[int(wclass)])``

    Parameters
    ----------
    path : str or PathLike
        An audio file; features are computed with the windows stored in the model.
    model_name : str or PathLike
        As given to :func:`~deep_audio.classic.training.extract_features_and_train`.
    model_type : str, optional
        The classifier type; checked against the model file when given (the file knows
        its type, so it may be left out).
    models_dir : str or PathLike, optional
        Folder of bare model names; default ``config.training.models_dir``.
    config : Config, optional
        Settings; default :func:`deep_audio.config.load_config`.

    Returns
    -------
    class_index : int
        Index of the most probable class.
    probabilities : np.ndarray, shape (n_classes,)
    class_names : list of str

    Raises
    ------
    DeepAudioError
        Unreadable audio (:class:`~deep_audio.errors.AudioError`), a missing or damaged
        model file, or a ``model_type`` that is not the file's
        (:class:`~deep_audio.errors.ModelFileError`).
    """
    if models_dir is None:
        models_dir = (config or load_config()).training.models_dir
    model_path = find_classic_model(model_name, models_dir)
    model = load_classic_model(model_path)
    if model_type is not None and model_type != model["classifier_type"]:
        raise ModelFileError(f"model '{model_path}' is a {model['classifier_type']} model, "
                             f"not {model_type}")
    index, probabilities = classify_file(path, model)
    return index, probabilities, list(model["class_names"])
