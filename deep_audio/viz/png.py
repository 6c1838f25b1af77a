"""Pictures: confusion matrices, training curves, feature views.

Pure functions of numpy arrays that write a file and return its path; they know nothing
else of the package. matplotlib runs with the non-interactive Agg backend.
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str], path: str | os.PathLike, *,
    title: str = "Confusion matrix",
) -> Path:
    """Save a confusion matrix (rows: true class, columns: predicted) as an image.

    Parameters
    ----------
    matrix : np.ndarray, shape (n_classes, n_classes)
        Counts.
    class_names : sequence of str
        One name per row/column.
    path : str or PathLike
        Output file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
    """
    plt = _pyplot()
    size = max(4.0, 0.6 * len(class_names) + 2.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    _draw_confusion(fig, ax, matrix, class_names, title=title)
    fig.tight_layout()
    return _save(fig, plt, path)


def _draw_confusion(fig, ax, matrix: np.ndarray, class_names: Sequence[str], *,
                    title: str) -> None:
    """Counts in each cell, coloured by the share of the row's (true class's) total."""
    matrix = np.asarray(matrix)
    n = len(class_names)
    row_sums = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, row_sums, out=np.zeros(matrix.shape), where=row_sums > 0)
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    ax.set(xticks=range(n), yticks=range(n), xticklabels=class_names,
           yticklabels=class_names, xlabel="predicted", ylabel="true", title=title)
    for label in ax.get_xticklabels():
        label.set(rotation=45, ha="right")
    for row in range(n):
        for col in range(n):
            ax.text(col, row, str(int(matrix[row, col])), ha="center", va="center",
                    color="white" if shares[row, col] > 0.5 else "black")


def plot_spectrogram(
    magnitude: np.ndarray, path: str | os.PathLike, *, frequencies_hz: np.ndarray,
    times_seconds: np.ndarray, title: str = "Spectrogram", floor_db: float = -80.0,
) -> Path:
    """Save a magnitude spectrogram as an image, in dB relative to its maximum.

    Parameters
    ----------
    magnitude : np.ndarray, shape (n_bins, n_frames)
        Linear magnitudes (e.g. from
        :func:`deep_audio.features.handcrafted.spectrogram`).
    path : str or PathLike
        Output file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
    frequencies_hz : np.ndarray, shape (n_bins,)
    times_seconds : np.ndarray, shape (n_frames,)
    floor_db : float
        Values below this many dB under the maximum are shown as the floor.
    """
    plt = _pyplot()
    magnitude = np.asarray(magnitude, dtype=np.float64)
    peak = max(float(magnitude.max()), np.finfo(np.float64).tiny)
    decibels = np.maximum(20 * np.log10(np.maximum(magnitude, 1e-300) / peak), floor_db)
    fig, ax = plt.subplots(figsize=(8, 4))
    step = times_seconds[1] - times_seconds[0] if len(times_seconds) > 1 else 0.0
    extent = (times_seconds[0] - step / 2, times_seconds[-1] + step / 2,
              frequencies_hz[0], frequencies_hz[-1])
    image = ax.imshow(decibels, origin="lower", aspect="auto", extent=extent,
                      cmap="magma", vmin=floor_db, vmax=0.0)
    fig.colorbar(image, ax=ax, label="dB re. maximum")
    ax.set(xlabel="time (s)", ylabel="frequency (Hz)", title=title)
    fig.tight_layout()
    return _save(fig, plt, path)


def plot_decision_surface(
    points: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
    path: str | os.PathLike, *, predict, x_label: str, y_label: str,
    title: str = "", grid_size: int = 300,
) -> Path:
    """Scatter two features per class over a classifier's decision regions.

    Parameters
    ----------
    points : np.ndarray, shape (n_samples, 2)
        Two features per sample (x, y).
    labels : np.ndarray of int, shape (n_samples,)
        Class indices into ``class_names``.
    class_names : sequence of str
    path : str or PathLike
        Output image file.
    predict : callable
        Maps an ``(n, 2)`` array to ``(n,)`` class indices, e.g. a fitted estimator's
        ``predict``; it is evaluated on a ``grid_size x grid_size`` grid covering the
        points with a 5 % margin.
    x_label, y_label : str
        Axis titles (the feature names).
    """
    plt = _pyplot()
    from matplotlib.colors import ListedColormap

    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    n_classes = len(class_names)
    low, high = points.min(axis=0), points.max(axis=0)
    margin = np.where(high > low, (high - low) * 0.05, np.maximum(np.abs(high), 1.0) * 0.05)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], grid_size)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], grid_size)
    grid_x, grid_y = np.meshgrid(xs, ys)
    regions = np.asarray(predict(np.column_stack([grid_x.ravel(), grid_y.ravel()])))
    colours = plt.get_cmap("tab10")(np.arange(n_classes) % 10)

    fig, ax = plt.subplots(figsize=(7, 5.5))
    ax.pcolormesh(xs, ys, regions.reshape(grid_x.shape), shading="auto",
                  cmap=ListedColormap(colours), vmin=-0.5, vmax=n_classes - 0.5, alpha=0.25)
    for index, name in enumerate(class_names):
        chosen = labels == index
        ax.scatter(points[chosen, 0], points[chosen, 1], s=40, color=colours[index],
                   edgecolors="black", linewidths=0.5, label=f"{name} ({int(chosen.sum())})")
    ax.set(xlabel=x_label, ylabel=y_label, title=title)
    ax.legend(loc="best")
    fig.tight_layout()
    return _save(fig, plt, path)


def _save(fig, plt, path: str | os.PathLike) -> Path:
    """Write ``fig`` in the format of the suffix; ``.html`` is a page holding the SVG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".html", ".htm"):
        svg = io.StringIO()
        fig.savefig(svg, format="svg")
        path.write_text(f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                        f"<title>{html.escape(path.stem)}</title></head>\n<body>\n"
                        f"{svg.getvalue()}\n</body></html>\n", encoding="utf-8")
    else:
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
    plt = _pyplot()
    panels = [("loss", "loss"), ("map", "mAP") if "val_map" in history
              else ("accuracy", "accuracy"), ("macro_f1", "macro-F1")]
    n_axes = len(panels) + (confusion is not None)
    fig, axes = plt.subplots(1, n_axes, figsize=(4.2 * n_axes + 1, 4.8))
    epochs = np.asarray(history.get("epoch", []), dtype=float)
    for ax, (key, label) in zip(axes, panels):
        for split in ("train", "val"):
            values = history.get(f"{split}_{key}")
            if values is not None and len(values):
                ax.plot(epochs, np.asarray(values, dtype=float), marker=".",
                        label="training" if split == "train" else "validation")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1,
                       label=f"best epoch ({best_epoch})")
        ax.set(xlabel="epoch", ylabel=label, title=label)
        if key != "loss":
            ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="small")
    if confusion is not None:
        _draw_confusion(fig, axes[-1], confusion, class_names,
                        title="best model" if best_epoch is None
                        else f"best model (epoch {best_epoch})")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, plt, path)


def plot_timeline(
    starts_seconds: np.ndarray, ends_seconds: np.ndarray, posteriors: np.ndarray,
    class_names: Sequence[str], path: str | os.PathLike, *,
    regions: Sequence[tuple[float, float, str]] = (),
    truth: Sequence[tuple[float, float, str]] | None = None, title: str = "",
) -> Path:
    """Save segment posteriors over time, with labelled regions (and an annotation).

    Parameters
    ----------
    starts_seconds, ends_seconds : np.ndarray, shape (n_segments,)
        Where each segment lies; its posterior is drawn at its centre.
    posteriors : np.ndarray, shape (n_segments, n_classes)
        Class probabilities per segment (raw or smoothed).
    class_names : sequence of str
    path : str or PathLike
        Output file; ``.png``, ``.svg``, ``.pdf`` or ``.html`` (a page holding the SVG).
    regions : sequence of (start_seconds, end_seconds, class_name)
        Predicted regions, drawn as a bar under the curves.
    truth : sequence of (start_seconds, end_seconds, class_name), optional
        Reference regions, drawn as a second bar.
    """
    plt = _pyplot()
    from matplotlib.patches import Patch

    posteriors = np.asarray(posteriors, dtype=float)
    centres = (np.asarray(starts_seconds, dtype=float)
               + np.asarray(ends_seconds, dtype=float)) / 2
    colours = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(class_names)}
    rows = [("predicted", regions)] + ([("annotation", truth)] if truth is not None else [])
    fig, (curves, bars) = plt.subplots(
        2, 1, sharex=True, figsize=(12, 3.5 + 0.6 * len(rows)),
        gridspec_kw={"height_ratios": [4, 0.6 * len(rows)]})
    for index, name in enumerate(class_names):
        curves.plot(centres, posteriors[:, index], color=colours[name], linewidth=1.2,
                    label=name)
    curves.set(ylabel="posterior", ylim=(-0.02, 1.02), title=title)
    curves.grid(alpha=0.3)
    curves.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    for row, (_, spans) in enumerate(rows):
        for start, end, name in spans:
            bars.broken_barh([(start, end - start)], (row + 0.1, 0.8),
                             color=colours.get(name, "lightgrey"))
    bars.set(yticks=[row + 0.5 for row in range(len(rows))],
             yticklabels=[label for label, _ in rows], ylim=(0, len(rows)),
             xlabel="time (s)")
    unknown = {name for _, spans in rows for _, _, name in spans} - set(colours)
    if unknown:
        bars.legend(handles=[Patch(color="lightgrey", label=", ".join(sorted(unknown)))],
                    loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    fig.tight_layout()
    return _save(fig, plt, path)


def plot_class_scores(values: Sequence[float], class_names: Sequence[str],
                      path: str | os.PathLike, *, ylabel: str = "average precision",
                      title: str = "") -> Path:
    """One bar per class (e.g. a tagger's per-class average precision); NaN bars are
    left empty."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.5 * len(class_names) + 2), 4.2))
    heights = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
    ax.bar(range(len(class_names)), heights, color="tab:blue")
    ax.set_xticks(range(len(class_names)), list(class_names), rotation=45, ha="right")
    ax.set(ylim=(0, 1.02), ylabel=ylabel, title=title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, plt, path)
