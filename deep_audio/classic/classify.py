"""Classifying files with a classic model file.

A loaded model is a :class:`ClassicModel`: typed attributes instead of the file's dict
keys, ``predict_proba`` of feature rows, ``classify_file`` of an audio file, ``save``
and ``load``. :func:`classify_file` and :func:`file_classification` (pyAudioAnalysis's
call) are thin wrappers around it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from deep_audio.classic.model_file import (
    load_classic_model,
    resolve_classic_model_path,
    save_classic_model,
)
from deep_audio.config import Config, load_config
from deep_audio.errors import ModelFileError
from deep_audio.features.handcrafted import file_features


def find_classic_model(model_name: str | os.PathLike, models_dir: str | os.PathLike | None
                       ) -> Path:
    """The file of ``model_name``: ``<models_dir>/<name>.skops`` for a bare name, else the
    path (``.skops`` added if missing); an existing file named exactly ``model_name`` is
    used as is. ``models_dir=None`` means the config's ``training.models_dir``: the
    loaders are entry points, so they may read the config."""
    if models_dir is None:
        models_dir = load_config().training.models_dir
    resolved = resolve_classic_model_path(model_name, models_dir)
    literal = Path(model_name)
    if not resolved.is_file() and literal.is_file():
        return literal
    return resolved


_TRAINING_KEYS = ("parameter", "cv_macro_f1", "confusion_matrix")


@dataclass
class ClassicModel:
    """A classic classifier on the 136 hand-crafted statistics of whole files.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Scaler + classifier.
    classifier_type : str
        ``svm``, ``svm_rbf``, ``knn``, ... (see :func:`deep_audio.classic.make_pipeline`).
    class_names : list of str
    feature_names : list of str
        Column names of the pipeline's input, ``(n_features,)``.
    windows : dict of str to float
        ``mid_window_seconds``, ``mid_step_seconds``, ``short_window_seconds``,
        ``short_step_seconds`` of :func:`~deep_audio.features.handcrafted.file_features`.
    sample_rate : int or None
        Files are resampled to this rate (Hz) first; ``None`` keeps each file's rate.
    training : dict
        Training figures stored in the file: ``parameter`` (name and value),
        ``cv_macro_f1``, ``confusion_matrix``.
    path : Path or None
        The model file (``None`` until saved).
    """

    pipeline: Pipeline
    classifier_type: str
    class_names: list[str]
    feature_names: list[str]
    windows: dict[str, float]
    sample_rate: int | None = None
    training: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def from_dict(cls, model: dict[str, Any], *, path: str | os.PathLike | None = None
                  ) -> ClassicModel:
        """The model of a dict read by
        :func:`~deep_audio.classic.model_file.load_classic_model`.

        Raises
        ------
        ModelFileError
            The dict is a deep-feature classifier's.
        """
        if model.get("deep_features"):
            raise ModelFileError("this classic model classifies a CNN's deep features, not "
                                 "hand-crafted ones; use deep_audio.cli.deep_feature_test")
        return cls(model["pipeline"], str(model["classifier_type"]),
                   list(model["class_names"]), list(model.get("feature_names", [])),
                   dict(model["windows"]), model.get("sample_rate"),
                   {key: model[key] for key in _TRAINING_KEYS if key in model},
                   None if path is None else Path(path))

    @classmethod
    def load(cls, model_name: str | os.PathLike, *,
             models_dir: str | os.PathLike | None = None) -> ClassicModel:
        """Load a classic model file (skops, trusted types only; no code runs).

        ``model_name`` is a bare name looked up in ``models_dir`` (default: the config's
        ``training.models_dir``) or a path (see :func:`find_classic_model`).

        Raises
        ------
        ModelFileError
            Missing, damaged or foreign file, or a deep-feature classifier's.
        """
        path = find_classic_model(model_name, models_dir)
        return cls.from_dict(load_classic_model(path), path=path)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model as a skops file at ``path`` (used as given); sets and returns
        :attr:`path`."""
        self.path = save_classic_model(path, {
            "pipeline": self.pipeline, "classifier_type": self.classifier_type,
            "class_names": list(self.class_names), "feature_names": list(self.feature_names),
            "windows": dict(self.windows), "sample_rate": self.sample_rate,
            **{key: self.training[key] for key in _TRAINING_KEYS if key in self.training}})
        return self.path

    def predict_proba(self, feature_rows: np.ndarray) -> np.ndarray:
        """Class probabilities of feature rows.

        ``(n_files, n_features)`` -> ``(n_files, len(class_names))`` float64, zero for a
        class the pipeline never saw in training.
        """
        feature_rows = np.asarray(feature_rows, dtype=np.float64)
        raw = self.pipeline.predict_proba(feature_rows)
        probabilities = np.zeros((len(feature_rows), len(self.class_names)))
        probabilities[:, np.asarray(self.pipeline.classes_, dtype=int)] = raw
        return probabilities

    def classify_file(self, path: str | os.PathLike) -> tuple[int, np.ndarray]:
        """Class index and probabilities ``(n_classes,)`` of one audio file."""
        vector, _ = file_features(path, sample_rate=self.sample_rate, **self.windows)
        probabilities = self.predict_proba(vector[None, :])[0]
        return int(np.argmax(probabilities)), probabilities


def classify_file(path: str | os.PathLike, model: ClassicModel | dict[str, Any]
                  ) -> tuple[int, np.ndarray]:
    """Class index and probabilities of one file under a loaded model: a
    :class:`ClassicModel` or the dict of
    :func:`~deep_audio.classic.model_file.load_classic_model`."""
    if not isinstance(model, ClassicModel):
        model = ClassicModel.from_dict(model)
    return model.classify_file(path)


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
    model = ClassicModel.load(model_name, models_dir=models_dir)
    if model_type is not None and model_type != model.classifier_type:
        raise ModelFileError(f"model '{model.path}' is a {model.classifier_type} model, "
                             f"not {model_type}")
    index, probabilities = model.classify_file(path)
    return index, probabilities, list(model.class_names)
