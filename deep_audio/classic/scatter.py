"""The seed's picture: two named features per class over a classifier's decision surface."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from deep_audio.classic.training import (ClassicTrainingResult, class_folder_features,
                                         train_classifier)
from deep_audio.config import Config, load_config, override
from deep_audio.errors import DeepAudioError
from deep_audio.features.handcrafted import MID_TERM_NAMES


@dataclass
class FeatureScatter:
    """The saved image, the plotted points and the 2-feature classifier behind it."""

    path: Path
    points: np.ndarray          # (n_files, 2)
    labels: np.ndarray          # (n_files,)
    class_names: list[str]
    training: ClassicTrainingResult


def plot_feature_space(
    paths: Sequence[str | os.PathLike], output: str | os.PathLike, *,
    x_feature: str | None = None, y_feature: str | None = None,
    mid_window_seconds: float | None = None, mid_step_seconds: float | None = None,
    short_window_seconds: float | None = None, short_step_seconds: float | None = None,
    classifier_type: str | None = None, parameter_values: Sequence[float] | None = None,
    sample_rate: int | None = None, seed: int | None = None, config: Config | None = None,
) -> FeatureScatter:
    """Extract file features of each class folder, train ``classifier_type`` on two of
    them (parameter chosen by cross-validation) and save the scatter + decision surface.

    Parameters
    ----------
    paths : sequence of str or PathLike
        One folder per class.
    output : str or PathLike
        Image file (``.png``, ``.svg``, ``.pdf``).
    x_feature, y_feature : str, optional
        Two of the 136 names, e.g. ``spectral_centroid_mean``.
    config : Config, optional
        Settings; default :func:`deep_audio.config.load_config`. Every keyword left at
        ``None`` takes its value from it: ``classic.scatter_x_feature``,
        ``classic.scatter_y_feature``, the four ``classic`` windows, ``classic.classifier``
        and ``training.seed``.
    """
    config = override(config or load_config(), scatter_x_feature=x_feature,
                      scatter_y_feature=y_feature, mid_window_seconds=mid_window_seconds,
                      mid_step_seconds=mid_step_seconds,
                      short_window_seconds=short_window_seconds,
                      short_step_seconds=short_step_seconds, classifier=classifier_type,
                      seed=seed)
    classic = config.classic
    x_feature, y_feature = classic.scatter_x_feature, classic.scatter_y_feature
    classifier_type = classic.classifier
    for name in (x_feature, y_feature):
        if name not in MID_TERM_NAMES:
            raise DeepAudioError(f"unknown feature {name!r}; names look like "
                                 f"'spectral_centroid_mean' or 'mfcc_1_std'")
    class_names, features, labels, _ = class_folder_features(
        paths, sample_rate=sample_rate, windows=classic.windows)
    points = features[:, [MID_TERM_NAMES.index(x_feature), MID_TERM_NAMES.index(y_feature)]]
    training = train_classifier(points, labels, class_names, classifier_type,
                                folds=classic.cv_folds, seed=config.training.seed,
                                parameter_values=parameter_values)

    from deep_audio.plots import plot_decision_surface

    name, value = training.parameter
    path = plot_decision_surface(
        points, labels, class_names, output, predict=training.pipeline.predict,
        x_label=x_feature, y_label=y_feature,
        title=f"{classifier_type} ({name}={value:g}), out-of-fold macro-F1 "
              f"{training.macro_f1:.2f}")
    return FeatureScatter(path, points, labels, class_names, training)
