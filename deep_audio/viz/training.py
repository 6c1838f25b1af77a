"""The training report: curves per epoch, the best epoch marked, the confusion matrix.

Written beside every model from the per-epoch log
(:func:`deep_audio.training.history.read_history`) in two forms:
:func:`plot_training_report` saves one picture (``models/NAME.report.png``) and
:func:`training_report` a page with zoomable curves (``models/NAME.report.html``).
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from deep_audio.viz.figures import draw_confusion, pyplot, save
from deep_audio.viz.html import Page, finite

# (history column stem, axis title); a panel is drawn when either split has the column.
PANELS = [("loss", "loss"), ("accuracy", "accuracy"), ("macro_f1", "macro-F1"),
          ("map", "mAP"), ("learning_rate", "learning rate")]
COLOURS = {"training": "#1f77b4", "validation": "#ff7f0e", "other": "#2ca02c"}
# Scores in [0, 1]: their axes are fixed to -0.02..1.02 so that runs compare at a glance.
BOUNDED = ("accuracy", "macro_f1", "map")


def plot_training_report(
    history: Mapping[str, Sequence[float]], confusion: np.ndarray | None,
    class_names: Sequence[str], path: str | os.PathLike, *, best_epoch: int | None = None,
    title: str = "Training report",
) -> Path:
    """Save training curves and the best model's confusion matrix in one picture.

    Parameters
    ----------
    history : mapping of str to sequence of float
        Per-epoch columns as in a ``*.history.csv`` file: ``epoch`` and any of
        ``train_loss``, ``val_loss``, ``train_accuracy``, ``val_accuracy``,
        ``train_macro_f1``, ``val_macro_f1`` (multi-label: ``val_map`` in place of the
        accuracies); missing columns are left out. May be empty.
    confusion : np.ndarray, shape (n_classes, n_classes), optional
        Counts (rows true, columns predicted), e.g. of the best epoch on validation data.
    class_names : sequence of str
    path : str or PathLike
        Output file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``, or
        ``.html`` for a page holding the SVG).
    best_epoch : int, optional
        Marked with a dashed line on the curves.
    """
    plt = pyplot()
    labels = dict(PANELS)
    # Always three panels, so that pictures of different runs line up.
    panels = [(key, labels[key]) for key in
              ("loss", "map" if "val_map" in history else "accuracy", "macro_f1")]
    n_axes = len(panels) + (confusion is not None)
    fig, axes = plt.subplots(1, n_axes, figsize=(4.2 * n_axes + 1, 4.8))
    epochs = np.asarray(history.get("epoch", []), dtype=float)
    for ax, (key, label) in zip(axes, panels):
        for column in _columns(key):
            values = history.get(column)
            if values is not None and len(values):
                ax.plot(epochs, np.asarray(values, dtype=float), marker=".",
                        label=_split(column, label))
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1,
                       label=f"best epoch ({best_epoch})")
        ax.set(xlabel="epoch", ylabel=label, title=label)
        if key in BOUNDED:
            ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="small")
    if confusion is not None:
        draw_confusion(fig, axes[-1], confusion, class_names,
                       title="best model" if best_epoch is None
                       else f"best model (epoch {best_epoch})")
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)


def training_report(history: Mapping[str, Sequence[float]], confusion: np.ndarray | None,
                    class_names: Sequence[str], path: str | os.PathLike, *,
                    best_epoch: int | None = None, title: str = "Training report") -> Path:
    """Write the training report page.

    Parameters
    ----------
    history : mapping of str to sequence of float
        Columns of a ``*.history.csv``: ``epoch`` and any of ``train_loss``,
        ``val_loss``, ``train_accuracy``, ``val_accuracy``, ``train_macro_f1``,
        ``val_macro_f1``, ``train_map``, ``val_map``, ``learning_rate``. May be empty.
    confusion : np.ndarray, shape (n_classes, n_classes), optional
        Validation counts of the best model (rows true, columns predicted).
    class_names : sequence of str
    path : str or PathLike
        The ``.html`` file to write.
    best_epoch : int, optional
        Marked by a dashed line on every curve.

    Returns
    -------
    Path
        ``path``.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    epochs = finite(history.get("epoch", []), 0)
    panels = [(key, label) for key, label in PANELS
              if any(column in history for column in _columns(key))]
    page = Page(title)
    page.add_html(f"<h1>{html.escape(title)}</h1>")
    summary = f"{len(epochs)} epoch(s)"
    if best_epoch is not None:
        summary += f"; best epoch <b>{best_epoch}</b> (dashed line)"
    page.add_html(f"<p>{summary}</p>")
    if panels:
        columns = 2 if len(panels) > 1 else 1
        rows = -(-len(panels) // columns)
        figure = make_subplots(rows=rows, cols=columns,
                               subplot_titles=[label for _, label in panels])
        in_legend: set[str] = set()
        for number, (key, label) in enumerate(panels):
            row, col = number // columns + 1, number % columns + 1
            for column in _columns(key):
                if column in history:
                    # One colour per split across panels, one legend entry for each.
                    split = _split(column, label)
                    figure.add_trace(go.Scatter(
                        x=epochs, y=finite(history[column], None), mode="lines+markers",
                        name=split, legendgroup=split, showlegend=split not in in_legend,
                        line={"color": COLOURS.get(split, COLOURS["other"])}),
                        row=row, col=col)
                    in_legend.add(split)
            figure.update_xaxes(title_text="epoch", row=row, col=col)
            if key == "learning_rate":
                figure.update_yaxes(type="log", row=row, col=col)
            if key in BOUNDED:
                figure.update_yaxes(range=[-0.02, 1.02], row=row, col=col)
        if best_epoch is not None:
            figure.add_vline(x=best_epoch, line_dash="dash", line_color="grey",
                             row="all", col="all")
        figure.update_layout(height=330 * rows, margin={"t": 40})
        page.add_html("<h2>Curves per epoch</h2>" + page.add_figure("curves", figure))
    else:
        page.add_html("<p class=\"note\">No training history: curves are not shown.</p>")
    if confusion is not None:
        counts = np.asarray(confusion, dtype=np.int64)
        names = list(class_names)
        heatmap = go.Figure(go.Heatmap(
            z=counts.tolist(), x=names, y=names, text=[[str(v) for v in r] for r in counts],
            texttemplate="%{text}", colorscale="Blues",
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))
        size = 260 + 45 * len(names)
        heatmap.update_layout(
            xaxis={"title": {"text": "predicted"}, "type": "category"},
            yaxis={"title": {"text": "true"}, "type": "category", "autorange": "reversed"},
            margin={"t": 20, "l": 90, "b": 80})
        where = "best model" if best_epoch is None else f"best model, epoch {best_epoch}"
        page.add_html(f"<h2>Validation confusion matrix ({where})</h2>"
                      + page.add_figure("confusion", heatmap,
                                        style=f"width:{size + 120}px;height:{size}px"))
        page.data["confusion"] = counts.tolist()
    page.data.update(history={name: finite(values, None) for name, values in history.items()},
                     best_epoch=best_epoch, class_names=list(class_names))
    return page.write(path)


def _columns(key: str) -> list[str]:
    """The history columns of a panel: ``train_<key>`` and ``val_<key>``, or ``key``."""
    return [key] if key == "learning_rate" else [f"train_{key}", f"val_{key}"]


def _split(column: str, label: str) -> str:
    """The legend name of a history column: its split, or ``label`` for a split-less one."""
    return ("training" if column.startswith("train_") else
            "validation" if column.startswith("val_") else label)
