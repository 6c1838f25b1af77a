"""Multi-label results: per-class average precision as bars (PNG), and a report section or
page with the AP table, bars and precision-recall curves (HTML).

:func:`plot_class_scores` saves one bar per class (``deep-audio report`` of a tagger).

Renders :func:`deep_audio.metrics.multilabel_scores` and
:func:`deep_audio.metrics.precision_recall_curves` of binary targets and scores of any
multi-label model (one sigmoid per class), so a model that tags several classes per file
is shown by the same page machinery as a single-label one: :func:`multilabel_report`
writes a page of its own, and :func:`add_multilabel_section` adds the section to any
:class:`~deep_audio.viz.html.Page` (e.g. one from
:func:`deep_audio.viz.evaluation.evaluation_page`) before ``page.write``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deep_audio.errors import DeepAudioError
from deep_audio.metrics import multilabel_scores, precision_recall_curves
from deep_audio.viz.figures import pyplot, save
from deep_audio.viz.html import Page, finite, table

# A curve keeps at most this many points: enough to draw, small in the page.
MAX_CURVE_POINTS = 200


def plot_class_scores(values: Sequence[float], class_names: Sequence[str],
                      path: str | os.PathLike, *, ylabel: str = "average precision",
                      title: str = "") -> Path:
    """One bar per class (e.g. a tagger's per-class average precision); NaN bars are
    left empty."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.5 * len(class_names) + 2), 4.2))
    heights = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
    ax.bar(range(len(class_names)), heights, color="tab:blue")
    ax.set_xticks(range(len(class_names)), list(class_names), rotation=45, ha="right")
    ax.set(ylim=(0, 1.02), ylabel=ylabel, title=title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save(fig, path)


def add_multilabel_section(page: Page, targets: np.ndarray, scores: np.ndarray,
                           class_names: Sequence[str], *, prefix: str = "multilabel"
                           ) -> dict[str, Any]:
    """Append an AP table, AP bars and precision-recall curves to ``page``.

    ``targets`` (0/1) and ``scores`` are ``(n_files, n_classes)``, one column per name in
    ``class_names``. ``prefix`` names the figure divs (``<prefix>-ap``, ``<prefix>-pr``),
    so that a page may hold several sections. The numbers also go to ``REPORT.<prefix>``
    in the page data. Returns :func:`~deep_audio.metrics.multilabel_scores`.
    """
    import plotly.graph_objects as go

    names = list(class_names)
    if np.ndim(targets) != 2 or np.shape(targets)[1] != len(names):
        raise DeepAudioError(f"{len(names)} class names for targets of shape "
                             f"{np.shape(targets)}")
    result = multilabel_scores(targets, scores)
    average_precision = np.asarray(result["class_ap"])
    page.add_html(f"<h2>Per-class average precision</h2><p>mAP "
                  f"<b>{result['map']:.3f}</b> over "
                  f"{sum(n > 0 for n in result['support'])} classes with positives</p>")
    page.add_html(table(["class", "AP", "positives"],
                        [[name, float(ap), int(n)] for name, ap, n in
                         zip(names, average_precision, result["support"])],
                        table_id=f"{prefix}-table"))
    bars = go.Figure(go.Bar(x=names, y=finite(average_precision),
                            hovertemplate="%{x}: AP %{y:.3f}<extra></extra>"))
    bars.update_layout(yaxis={"range": [0, 1.05], "title": {"text": "average precision"}},
                       height=320, margin={"t": 20, "b": 40})
    page.add_html(page.add_figure(f"{prefix}-ap", bars))
    curves = go.Figure()
    for name, ap, (precision, recall) in zip(names, average_precision,
                                             precision_recall_curves(targets, scores)):
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
    page.data[prefix] = {"class_names": names, "ap": finite(average_precision),
                         "support": result["support"], "map": finite(result["map"])}
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
