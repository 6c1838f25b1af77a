"""Classification metrics from a confusion matrix (numpy only)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def confusion_matrix(targets: Sequence[int], predictions: Sequence[int], n_classes: int
                     ) -> np.ndarray:
    """Counts, shape ``(n_classes, n_classes)``: rows are true classes, columns predicted.

    >>> confusion_matrix([0, 0, 1], [0, 1, 1], 2).tolist()
    [[1, 1], [0, 1]]
    """
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(targets, dtype=np.int64),
                       np.asarray(predictions, dtype=np.int64)), 1)
    return matrix


def scores(matrix: np.ndarray) -> dict[str, object]:
    """Accuracy, macro-F1 and per-class precision, recall, F1 and support.

    A class with no predictions has precision 0; one with no examples has recall 0 and
    is left out of the macro average (it has nothing to be scored on).

    >>> s = scores(np.array([[1, 1], [0, 1]]))
    >>> round(s["accuracy"], 3), round(s["macro_f1"], 3)
    (0.667, 0.667)
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    true_positive = np.diag(matrix)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive),
                          where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive),
                       where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positive),
                   where=denominator > 0)
    total = matrix.sum()
    present = support > 0
    return {
        "accuracy": float(true_positive.sum() / total) if total else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": support.astype(int).tolist(),
    }
