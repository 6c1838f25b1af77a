"""Pictures: confusion matrices, training curves, feature views.

Pure functions of numpy arrays that write a file and return its path; they know nothing
else of the package. matplotlib runs with the non-interactive Agg backend.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

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
    matrix = np.asarray(matrix)
    n = len(class_names)
    size = max(4.0, 0.6 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    row_sums = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, row_sums, out=np.zeros(matrix.shape), where=row_sums > 0)
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    ax.set(xticks=range(n), yticks=range(n), xticklabels=class_names,
           yticklabels=class_names, xlabel="predicted", ylabel="true", title=title)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    for row in range(n):
        for col in range(n):
            ax.text(col, row, str(int(matrix[row, col])), ha="center", va="center",
                    color="white" if shares[row, col] > 0.5 else "black")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
