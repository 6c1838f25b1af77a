"""Multi-label results in a report: per-class average precision and precision-recall curves.

Takes binary targets and scores of any multi-label model (one sigmoid per class), so a
model that tags several classes per file is shown by the same page machinery as a
single-label one: :func:`multilabel_report` writes a page of its own, and
:func:`add_multilabel_section` adds the section to any :class:`~deep_audio.viz.html.Page`
(e.g. one from :func:`deep_audio.viz.evaluation.evaluation_page`) before ``page.write``.

>>> rng = np.random.default_rng(0)
>>> targets = rng.integers(0, 2, size=(40, 3))
>>> result = multilabel_scores(targets, targets * 0.6 + rng.random((40, 3)) * 0.5,
...                            ["dog", "car", "rain"])
>>> result.average_precision.shape, 0.0 <= result.mean_average_precision <= 1.0
((3,), True)
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from deep_audio.errors import DeepAudioError
from deep_audio.viz.html import Page, finite, table

# A curve keeps at most this many points: enough to draw, small in the page.
MAX_CURVE_POINTS = 200


@dataclass
class MultiLabelScores:
    """Per-class average precision (AP) and precision-recall curves.

    Attributes
    ----------
    class_names : list of str
    average_precision : np.ndarray, shape (n_classes,)
        NaN for a class with no positive target (AP is undefined there).
    support : np.ndarray of int, shape (n_classes,)
        Positive targets per class.
    mean_average_precision : float
        Mean AP over the classes that have positives (NaN when none has).
    curves : list of (precision, recall) arrays
        One per class, empty for a class with no positives.
    """

    class_names: list[str]
    average_precision: np.ndarray
    support: np.ndarray
    mean_average_precision: float
    curves: list[tuple[np.ndarray, np.ndarray]]


def multilabel_scores(targets: np.ndarray, scores: np.ndarray,
                      class_names: Sequence[str]) -> MultiLabelScores:
    """Average precision and precision-recall curve of each class (scikit-learn's).

    Parameters
    ----------
    targets : np.ndarray of {0, 1}, shape (n_files, n_classes)
    scores : np.ndarray, shape (n_files, n_classes)
        Any scores that rank files per class (posteriors, logits).
    class_names : sequence of str
        One per column.

    Raises
    ------
    DeepAudioError
        Shapes disagree, targets are not 0/1, or scores are not finite.
    """
    from sklearn.metrics import precision_recall_curve

    from deep_audio.metrics import class_average_precision

    targets, scores = _check(targets, scores, class_names)
    support = targets.sum(axis=0).astype(np.int64)
    average_precision = class_average_precision(targets, scores)
    curves = [precision_recall_curve(targets[:, column], scores[:, column])[:2]
              if support[column] else (np.zeros(0), np.zeros(0))
              for column in range(targets.shape[1])]
    defined = average_precision[~np.isnan(average_precision)]
    return MultiLabelScores(list(class_names), average_precision, support,
                            float(defined.mean()) if len(defined) else float("nan"), curves)


def add_multilabel_section(page: Page, targets: np.ndarray, scores: np.ndarray,
                           class_names: Sequence[str], *, prefix: str = "multilabel"
                           ) -> MultiLabelScores:
    """Append an AP table, AP bars and precision-recall curves to ``page``.

    ``prefix`` names the figure divs (``<prefix>-ap``, ``<prefix>-pr``), so that a page
    may hold several sections. The numbers also go to ``REPORT.<prefix>`` in the page data.
    """
    import plotly.graph_objects as go

    result = multilabel_scores(targets, scores, class_names)
    names = result.class_names
    page.add_html(f"<h2>Per-class average precision</h2><p>mAP "
                  f"<b>{result.mean_average_precision:.3f}</b> over "
                  f"{int((result.support > 0).sum())} classes with positives</p>")
    page.add_html(table(["class", "AP", "positives"],
                        [[name, float(ap), int(n)] for name, ap, n in
                         zip(names, result.average_precision, result.support)],
                        table_id=f"{prefix}-table"))
    bars = go.Figure(go.Bar(x=names, y=finite(result.average_precision),
                            hovertemplate="%{x}: AP %{y:.3f}<extra></extra>"))
    bars.update_layout(yaxis={"range": [0, 1.05], "title": {"text": "average precision"}},
                       height=320, margin={"t": 20, "b": 40})
    page.add_html(page.add_figure(f"{prefix}-ap", bars))
    curves = go.Figure()
    for name, ap, (precision, recall) in zip(names, result.average_precision, result.curves):
        if len(recall) == 0:
            continue
        keep = _thin(len(recall))
        curves.add_trace(go.Scatter(x=finite(recall[keep]), y=finite(precision[keep]),
                                    mode="lines", line={"shape": "hv"},
                                    name=f"{name} (AP {ap:.2f})"))
    curves.update_layout(xaxis={"title": {"text": "recall"}, "range": [0, 1.02]},
                         yaxis={"title": {"text": "precision"}, "range": [0, 1.05]},
                         height=420, margin={"t": 20})
    page.add_html("<h2>Precision-recall curves</h2>" + page.add_figure(f"{prefix}-pr", curves))
    page.data[prefix] = {"class_names": names, "ap": finite(result.average_precision),
                         "support": result.support.tolist(),
                         "map": finite(result.mean_average_precision)}
    return result


def multilabel_report(targets: np.ndarray, scores: np.ndarray, class_names: Sequence[str],
                      path: str | os.PathLike, *, title: str = "Multi-label evaluation"
                      ) -> Path:
    """Write a page with :func:`add_multilabel_section` alone; returns ``path``."""
    page = Page(title)
    page.add_html(f"<h1>{html.escape(title)}</h1><p>{len(np.asarray(targets))} files</p>")
    add_multilabel_section(page, targets, scores, class_names)
    return page.write(path)


def _thin(n_points: int) -> np.ndarray:
    """Indices of at most :data:`MAX_CURVE_POINTS` points, keeping both ends."""
    if n_points <= MAX_CURVE_POINTS:
        return np.arange(n_points)
    return np.unique(np.linspace(0, n_points - 1, MAX_CURVE_POINTS).round().astype(int))


def _check(targets, scores, class_names) -> tuple[np.ndarray, np.ndarray]:
    targets = np.asarray(targets)
    scores = np.asarray(scores, dtype=np.float64)
    if targets.ndim != 2 or targets.shape != scores.shape:
        raise DeepAudioError(f"targets {targets.shape} and scores {scores.shape} must both "
                             "be (n_files, n_classes)")
    if targets.shape[1] != len(class_names):
        raise DeepAudioError(f"{len(class_names)} class names for {targets.shape[1]} columns")
    if not np.isin(targets, (0, 1)).all():
        raise DeepAudioError("multi-label targets must be 0 or 1")
    if not np.isfinite(scores).all():
        raise DeepAudioError("multi-label scores hold NaN or infinite values")
    return targets.astype(np.int64), scores
