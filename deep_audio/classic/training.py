"""Training classic classifiers on file-level hand-crafted features.

:func:`extract_features_and_train` is pyAudioAnalysis's one call: class folders in, a
model file out. The hyper-parameter (C, k or the number of trees) is chosen by
stratified k-fold cross-validation on macro-F1; the report and confusion matrix come
from the out-of-fold predictions of the chosen setting, so they estimate performance on
unseen files; the saved model is then refit on all files.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import classification_report, confusion_matrix, f1_score
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedGroupKFold,
    StratifiedKFold,
    cross_val_predict,
)
from sklearn.pipeline import Pipeline

from deep_audio.classic.classifiers import (
    PARAMETER_GRIDS,
    SVM_TYPES,
    check_classifier_type,
    make_pipeline,
    parameter_name,
)
from deep_audio.classic.classify import ClassicModel
from deep_audio.classic.model_file import resolve_classic_model_path
from deep_audio.config import Config, load_config, override
from deep_audio.data.folders import class_names_of
from deep_audio.errors import DeepAudioError
from deep_audio.features.handcrafted import MID_TERM_NAMES, folder_features
from deep_audio.io.audio import printable
from deep_audio.metrics import scores

logger = logging.getLogger(__name__)


@dataclass
class ClassicTrainingResult:
    """What training produced and how well the chosen setting did in cross-validation.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Scaler + classifier, refit on all files with the chosen parameter.
    classifier_type : str
    class_names : list of str
    parameter : tuple of (str, float)
        The tuned parameter's name and chosen value, e.g. ``("C", 1.0)``.
    cv_macro_f1 : dict of float to float
        Mean cross-validated macro-F1 of each candidate value.
    confusion_matrix : np.ndarray, shape (n_classes, n_classes)
        Out-of-fold counts; rows are true classes, columns predicted.
    report : str
        Per-class precision, recall and F1 of the out-of-fold predictions.
    model_path : Path, optional
        Where the model was saved.
    skipped : list of (str, str)
        Files left out, with the reason.
    """

    pipeline: Pipeline
    classifier_type: str
    class_names: list[str]
    parameter: tuple[str, float]
    cv_macro_f1: dict[float, float]
    confusion_matrix: np.ndarray
    report: str
    model_path: Path | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def macro_f1(self) -> float:
        """Out-of-fold macro-F1 of the chosen setting."""
        return scores(self.confusion_matrix)["macro_f1"]


def train_classifier(
    features: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
    classifier_type: str, *, folds: int, seed: int,
    parameter_values: Sequence[float] | None = None, groups: np.ndarray | None = None,
) -> ClassicTrainingResult:
    """Choose the hyper-parameter by stratified cross-validation, report, refit on all.

    Parameters
    ----------
    features : np.ndarray, shape (n_rows, n_features)
        One row per file, or per segment with ``groups``.
    labels : np.ndarray of int, shape (n_rows,)
        Class indices into ``class_names``; every class needs at least 2 files (3 for
        the SVMs, whose probabilities are calibrated on internal folds).
    class_names : sequence of str
    classifier_type : str
        See :func:`deep_audio.classic.classifiers.make_pipeline`.
    folds : int
        Cross-validation folds (fewer when the smallest class has fewer files); the
        entry points pass ``config.classic.cv_folds``.
    seed : int
        Seed of the fold split and of the randomised models (``config.training.seed``).
    parameter_values : sequence of float, optional
        Candidates for the tuned parameter; default: pyAudioAnalysis's grid.
    groups : np.ndarray of int, shape (n_rows,), optional
        The file of each row when rows are segments: folds keep a file's rows together
        (StratifiedGroupKFold), so no file is scored by a model that saw part of it.
    """
    check_classifier_type(classifier_type)
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    class_names = list(class_names)
    if features.ndim != 2 or len(features) != len(labels):
        raise DeepAudioError(f"features of shape {features.shape} do not match "
                             f"{len(labels)} labels")
    if not np.isfinite(features).all():
        raise DeepAudioError("features hold NaN or infinite values")
    if groups is None:
        counts = np.bincount(labels, minlength=len(class_names))
    else:
        groups = np.asarray(groups)
        if len(groups) != len(labels):
            raise DeepAudioError(f"{len(groups)} groups do not match {len(labels)} labels")
        files = {group: label for group, label in zip(groups.tolist(), labels.tolist())}
        counts = np.bincount(list(files.values()), minlength=len(class_names))
    minimum = 3 if classifier_type in SVM_TYPES else 2
    for name, count in zip(class_names, counts):
        if count < minimum:
            raise DeepAudioError(f"class '{name}' has {count} usable file(s); "
                                 f"{classifier_type} needs at least {minimum} per class")
    if folds < 2:
        raise DeepAudioError(f"folds={folds} must be >= 2")

    n_splits = int(min(folds, counts.min()))
    split = (StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
             if groups is None else
             StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed))
    # Fewest files of one class in a training fold (each class's files are spread evenly).
    smallest_train = int(min(c - math.ceil(c / n_splits) for c in counts))
    pipeline = make_pipeline(classifier_type, calibration_folds=max(2, min(3, smallest_train)),
                             random_state=seed)
    name, default_values = PARAMETER_GRIDS[classifier_type]
    values = list(default_values if parameter_values is None else parameter_values)
    if classifier_type == "knn":
        smallest_fit = len(labels) - sum(math.ceil(c / n_splits) for c in counts)
        values = [k for k in values if k <= max(1, smallest_fit)] or [1]
    if not values:
        raise DeepAudioError(f"no candidate values for {name}")

    search = GridSearchCV(pipeline, {parameter_name(classifier_type): values},
                          scoring="f1_macro", cv=split, refit=True, error_score="raise")
    search.fit(features, labels, groups=groups)
    best = search.best_params_[parameter_name(classifier_type)]
    scores = {float(v): float(s) for v, s in zip(values, search.cv_results_["mean_test_score"])}
    logger.info("%s: %s by %d-fold macro-F1: %s; chose %s = %g", classifier_type, name,
                n_splits, ", ".join(f"{v:g}: {s:.3f}" for v, s in scores.items()), name, best)

    predicted = cross_val_predict(clone(search.best_estimator_), features, labels, cv=split,
                                  groups=groups)
    indices = list(range(len(class_names)))
    report = classification_report(labels, predicted, labels=indices, target_names=class_names,
                                   digits=3, zero_division=0)
    matrix = confusion_matrix(labels, predicted, labels=indices)
    logger.info("out-of-fold macro-F1 %.3f\n%s",
                f1_score(labels, predicted, average="macro", zero_division=0), report)
    return ClassicTrainingResult(search.best_estimator_, classifier_type, class_names,
                                 (name, best), scores, matrix, report)


def extract_features_and_train(
    paths: Sequence[str | os.PathLike], mid_window: float, mid_step: float,
    short_window: float, short_step: float, classifier_type: str, model_name: str | os.PathLike,
    *, config: Config | None = None, parameter_values: Sequence[float] | None = None,
    sample_rate: int | None = None, confusion_matrix_path: str | os.PathLike | None = None,
    **overrides: Any,
) -> ClassicTrainingResult:
    """pyAudioAnalysis's call: one class per folder, features, training, a model file.

    ``extract_features_and_train(["data/classical", "data/metal"], 1, 1, 0.1, 0.1, "svm",
    "classical_vs_metal_svm")`` writes ``models/classical_vs_metal_svm.skops``.

    Parameters
    ----------
    paths : sequence of str or PathLike
        At least two folders, one per class, named after the class (audio is found
        recursively; unusable files are skipped and reported).
    mid_window, mid_step, short_window, short_step : float
        Seconds; see :func:`deep_audio.features.handcrafted.mid_term_features`.
    classifier_type : str
        ``svm``, ``svm_rbf``, ``knn``, ``randomforest``, ``gradientboosting`` or
        ``extratrees``.
    model_name : str or PathLike
        A bare name is saved as ``<models_dir>/<name>.skops``; a path is used as given
        (``.skops`` added if missing).
    config, **overrides : optional
        Settings (default :func:`deep_audio.config.load_config`) and single ones by
        name: ``cv_folds``, ``seed``, ``models_dir`` (folder of bare model names). The
        window arguments and ``classifier_type`` are the seed's positional ones and
        always given.
    parameter_values : sequence of float, optional
        See :func:`train_classifier`.
    sample_rate : int, optional
        Resample every file to this rate (Hz) first; ``None`` keeps each file's rate.
    confusion_matrix_path : str or PathLike, optional
        Also save the out-of-fold confusion matrix as an image (``.png``).

    Returns
    -------
    ClassicTrainingResult
        ``print(result.report)`` shows per-class precision, recall and F1.
    """
    check_classifier_type(classifier_type)
    config = override(config or load_config(), **overrides)
    windows = {"mid_window_seconds": float(mid_window), "mid_step_seconds": float(mid_step),
               "short_window_seconds": float(short_window),
               "short_step_seconds": float(short_step)}
    class_names, features, labels, skipped = class_folder_features(
        paths, sample_rate=sample_rate, windows=windows)

    result = train_classifier(
        features, labels, class_names, classifier_type,
        folds=config.classic.cv_folds, seed=config.training.seed,
        parameter_values=parameter_values)
    result.skipped = skipped
    model = ClassicModel(result.pipeline, classifier_type, list(class_names),
                         list(MID_TERM_NAMES), windows, sample_rate, training={
                             "parameter": {"name": result.parameter[0],
                                           "value": float(result.parameter[1])},
                             "cv_macro_f1": float(result.macro_f1),
                             "confusion_matrix": result.confusion_matrix.tolist()})
    result.model_path = model.save(resolve_classic_model_path(model_name,
                                                                  config.training.models_dir))
    logger.info("saved %s", result.model_path)
    if confusion_matrix_path is not None:
        from deep_audio.viz.evaluation import plot_confusion_matrix

        plot_confusion_matrix(result.confusion_matrix, class_names, confusion_matrix_path,
                              title=f"{classifier_type}, out-of-fold")
    return result


def class_folder_features(paths: Sequence[str | os.PathLike], *, sample_rate: int | None,
                          windows: dict[str, float], files: list[str] | None = None
                          ) -> tuple[list[str], np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """The 136 file features of every file in each class folder, and the class labels.

    Parameters
    ----------
    paths : sequence of str or PathLike
        One folder per class, at least two, with distinct names
        (:func:`~deep_audio.data.folders.class_names_of`).
    sample_rate : int, optional
        Resample every file to this rate (Hz) first; ``None`` keeps each file's rate.
    windows : dict of str to float
        ``mid_window_seconds``, ``mid_step_seconds``, ``short_window_seconds``,
        ``short_step_seconds`` of :func:`~deep_audio.features.handcrafted.folder_features`.
    files : list, optional
        When given, the path of each row of ``features`` is appended to it.

    Returns
    -------
    class_names : list of str
    features : np.ndarray, float64, shape (n_files, 136)
    labels : np.ndarray, int, shape (n_files,)
    skipped : list of (str, str)
        Files that could not be used, with the reason.

    Raises
    ------
    DeepAudioError
        Fewer than two folders, two folders with one name, or a folder with no usable
        audio file.
    """
    folders = [Path(p) for p in paths]
    class_names = class_names_of(folders)
    rows, labels, skipped = [], [], []
    for label, folder in enumerate(folders):
        result = folder_features(folder, sample_rate=sample_rate, **windows)
        if len(result.files) == 0:
            raise DeepAudioError(f"class folder '{printable(folder)}' holds no usable audio "
                                 "file" + (f" ({len(result.skipped)} skipped)"
                                           if result.skipped else ""))
        logger.info("%s: %d files", class_names[label], len(result.files))
        rows.append(result.features)
        labels.append(np.full(len(result.files), label))
        skipped.extend(result.skipped)
        if files is not None:
            files.extend(result.files)
    return class_names, np.concatenate(rows), np.concatenate(labels), skipped
