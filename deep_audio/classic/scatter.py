"""The seed's picture: two named features per class over a classifier's decision surface."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deep_audio.classic.training import (
    ClassicTrainingResult,
    class_folder_features,
    train_classifier,
)
from deep_audio.config import Config, load_config, override
from deep_audio.errors import DeepAudioError
from deep_audio.features.handcrafted import MID_TERM_NAMES


@dataclass
class FeatureScatter:
    """The saved image and page, the plotted points and the 2-feature classifier behind them."""

    path: Path | None           # the image, when one was asked for
    points: np.ndarray          # (n_files, 2)
    labels: np.ndarray          # (n_files,)
    class_names: list[str]
    training: ClassicTrainingResult
    files: list[str] = field(default_factory=list)  # the file of each point
    html_path: Path | None = None


def plot_feature_space(
    paths: Sequence[str | os.PathLike], output: str | os.PathLike | None = None, *,
    config: Config | None = None, html: str | os.PathLike | None = None,
    link_audio: bool = False, parameter_values: Sequence[float] | None = None,
    sample_rate: int | None = None, **overrides: Any,
) -> FeatureScatter:
    """Extract file features of each class folder, train ``classifier_type`` on two of
    them (parameter chosen by cross-validation) and save the scatter + decision surface.

    Parameters
    ----------
    paths : sequence of str or PathLike
        One folder per class.
    output : str or PathLike or None
        Image file (``.png``, ``.svg``, ``.pdf``); ``None`` for none.
    config, **overrides : optional
        Settings (default :func:`deep_audio.config.load_config`) and single ones by name:
        the two features ``scatter_x_feature`` and ``scatter_y_feature`` (two of the 136
        names, e.g. ``spectral_centroid_mean``), the four ``classic`` windows
        (``mid_window_seconds``...), ``classifier`` and ``seed``.
    parameter_values : sequence of float, optional
        The classifier parameter's candidates (default: its grid).
    sample_rate : int, optional
        Resample every file to this rate (Hz) first; ``None`` keeps each file's rate.
    html : str or PathLike, optional
        Also write the interactive page (:func:`deep_audio.viz.feature_space_report`):
        hover shows a point's file, a click plays it (embedded clips, or linked by
        relative path with ``link_audio``).
    """
    config = override(config or load_config(), **overrides)
    classic = config.classic
    x_feature, y_feature = classic.scatter_x_feature, classic.scatter_y_feature
    classifier_type = classic.classifier
    for name in (x_feature, y_feature):
        if name not in MID_TERM_NAMES:
            raise DeepAudioError(f"unknown feature {name!r}; names look like "
                                 f"'spectral_centroid_mean' or 'mfcc_1_std'")
    files: list[str] = []
    class_names, features, labels, _ = class_folder_features(
        paths, sample_rate=sample_rate, windows=classic.windows, files=files)
    points = features[:, [MID_TERM_NAMES.index(x_feature), MID_TERM_NAMES.index(y_feature)]]
    training = train_classifier(points, labels, class_names, classifier_type,
                                folds=classic.cv_folds, seed=config.training.seed,
                                parameter_values=parameter_values)

    name, value = training.parameter
    title = (f"{classifier_type} ({name}={value:g}), out-of-fold macro-F1 "
             f"{training.macro_f1:.2f}")
    path = html_path = None
    if output is not None:
        from deep_audio.viz.features import plot_decision_surface

        path = plot_decision_surface(
            points, labels, class_names, output, predict=training.pipeline.predict,
            x_label=x_feature, y_label=y_feature, title=title)
    if html is not None:
        from deep_audio.viz import feature_space_report

        html_path = feature_space_report(
            points, labels, class_names, html, files=files, predict=training.pipeline.predict,
            x_label=x_feature, y_label=y_feature, title=title, link_audio=link_audio)
    return FeatureScatter(path, points, labels, class_names, training, files, html_path)
