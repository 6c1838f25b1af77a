"""Classification metrics, computed here only: single-label from a confusion matrix (numpy
only), multi-label tagging from scores (scikit-learn, imported on use). Reports and plots
render these numbers; they compute none of their own.

One rule for a class without examples (single-label) or without positives (multi-label):
its precision, recall and F1 are 0 and its average precision is NaN (undefined), and it
is left out of every macro average and of mAP. An average over no class at all is NaN,
not 0: there was nothing to score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deep_audio.errors import DeepAudioError


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
    is left out of the macro average (see the module doc).

    >>> s = scores(np.array([[1, 1], [0, 1]]))
    >>> round(s["accuracy"], 3), round(s["macro_f1"], 3)
    (0.667, 0.667)
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    true_positive = np.diag(matrix)
    support = matrix.sum(axis=1)
    precision, recall, f1 = precision_recall_f1(true_positive, matrix.sum(axis=0), support)
    total = matrix.sum()
    return {
        "accuracy": float(true_positive.sum() / total) if total else float("nan"),
        "macro_f1": _macro(f1, support > 0),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": support.astype(int).tolist(),
    }


def multilabel_scores(targets: np.ndarray, scores_: np.ndarray,
                      thresholds: Sequence[float] | np.ndarray | None = None
                      ) -> dict[str, object]:
    """Tagging metrics of a multi-label classifier (scikit-learn's definitions).

    Parameters
    ----------
    targets : np.ndarray, shape (n, n_classes)
        0/1 truth per example and class.
    scores_ : np.ndarray, shape (n, n_classes)
        Scores (sigmoid posteriors), higher meaning more likely.
    thresholds : sequence of float, shape (n_classes,), optional
        Decision thresholds; default: per class, the one that maximises that class's F1
        on these examples (see :func:`best_thresholds`).

    Returns
    -------
    dict
        ``map`` (macro average precision over the classes that have positives),
        ``class_ap`` (NaN for a class without positives), ``micro_ap``, ``thresholds``,
        and at those thresholds per-class ``precision``, ``recall``, ``f1``, their macro
        averages (``macro_precision``, ``macro_recall``, ``macro_f1``), ``micro_f1`` and
        ``support`` (positives per class). Averages over no class are NaN.

    Raises
    ------
    DeepAudioError
        Shapes disagree, targets are not 0/1, or scores are not finite.

    >>> s = multilabel_scores(np.array([[1, 0], [0, 1], [1, 1]]),
    ...                       np.array([[0.9, 0.2], [0.1, 0.8], [0.7, 0.3]]), [0.5, 0.5])
    >>> round(s["map"], 3), [round(f, 3) for f in s["f1"]]
    (1.0, [1.0, 0.667])
    """
    from sklearn.metrics import average_precision_score

    targets, scores_ = _binary_targets_and_scores(targets, scores_)
    support = targets.sum(axis=0)
    present = support > 0
    class_ap = class_average_precision(targets, scores_)
    thresholds = (best_thresholds(targets, scores_) if thresholds is None
                  else np.asarray(thresholds, dtype=np.float64))
    decisions = scores_ >= thresholds
    true_positives = (decisions & targets).sum(axis=0)
    precision, recall, f1 = precision_recall_f1(true_positives, decisions.sum(axis=0), support)
    micro_f1 = precision_recall_f1(true_positives.sum(), decisions.sum(), support.sum())[2]
    return {
        "map": _macro(class_ap, present),
        "class_ap": class_ap.tolist(),
        "micro_ap": (float(average_precision_score(targets, scores_, average="micro"))
                     if present.any() else float("nan")),
        "thresholds": thresholds.tolist(),
        "precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
        "macro_precision": _macro(precision, present),
        "macro_recall": _macro(recall, present),
        "macro_f1": _macro(f1, present),
        "micro_f1": float(micro_f1),
        "support": support.astype(int).tolist(),
    }


def class_average_precision(targets: np.ndarray, scores_: np.ndarray) -> np.ndarray:
    """scikit-learn's average precision of each class, shape ``(n_classes,)``; NaN for a
    class without positives (AP is undefined there)."""
    from sklearn.metrics import average_precision_score

    targets, scores_ = _binary_targets_and_scores(targets, scores_)
    class_ap = np.full(targets.shape[1], np.nan)
    for index in np.flatnonzero(targets.any(axis=0)):
        class_ap[index] = average_precision_score(targets[:, index], scores_[:, index])
    return class_ap


def precision_recall_curves(targets: np.ndarray, scores_: np.ndarray
                            ) -> list[tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's precision-recall curve of each class: ``(precision, recall)``
    arrays, both empty for a class without positives."""
    from sklearn.metrics import precision_recall_curve

    targets, scores_ = _binary_targets_and_scores(targets, scores_)
    return [tuple(precision_recall_curve(targets[:, c], scores_[:, c])[:2])
            if targets[:, c].any() else (np.zeros(0), np.zeros(0))
            for c in range(targets.shape[1])]


def precision_recall_f1(true_positives, predicted, actual
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 from counts (arrays or scalars); 0 where undefined.

    >>> [float(v) for v in precision_recall_f1(2, 4, 2)]
    [0.5, 1.0, 0.6666666666666666]
    """
    true_positives, predicted, actual = (np.asarray(v, dtype=np.float64)
                                         for v in (true_positives, predicted, actual))
    precision = np.divide(true_positives, predicted, out=np.zeros_like(true_positives),
                          where=predicted > 0)
    recall = np.divide(true_positives, actual, out=np.zeros_like(true_positives),
                       where=actual > 0)
    return precision, recall, _f1(precision, recall)


def _f1(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """The harmonic mean of precision and recall, 0 where both are 0."""
    return np.divide(2 * precision * recall, precision + recall,
                     out=np.zeros_like(precision), where=precision + recall > 0)


def _macro(values: np.ndarray, present: np.ndarray) -> float:
    """The mean of ``values`` over the classes ``present``; NaN over none."""
    return float(np.mean(values[present])) if np.any(present) else float("nan")


def _binary_targets_and_scores(targets, scores_) -> tuple[np.ndarray, np.ndarray]:
    """Targets as booleans and scores as float64, both ``(n, n_classes)``, checked."""
    targets = np.asarray(targets)
    scores_ = np.asarray(scores_, dtype=np.float64)
    if targets.ndim != 2 or targets.shape != scores_.shape:
        raise DeepAudioError(f"targets {targets.shape} and scores {scores_.shape} must both "
                             "be (n_examples, n_classes)")
    if not np.isin(targets, (0, 1)).all():
        raise DeepAudioError("multi-label targets must be 0 or 1")
    if not np.isfinite(scores_).all():
        raise DeepAudioError("multi-label scores hold NaN or infinite values")
    return targets.astype(bool), scores_


def best_thresholds(targets: np.ndarray, scores_: np.ndarray, *, default: float = 0.5
                    ) -> np.ndarray:
    """Per class, the score threshold that maximises F1 on these examples.

    The threshold is placed half-way between the lowest accepted score and the next
    lower one, so it does not sit on a training example. A class without positives here
    takes the median of the other classes' thresholds, ``default`` when no class has
    positives: the tuned classes say where this model's posteriors are decisive, which
    0.5 does not (test-clip macro-F1 +0.02 to +0.07 on each of ten soundscape detectors
    whose validation fold lacks two classes: docs/frame_detection.md).

    Returns
    -------
    np.ndarray, float64, shape (n_classes,)
    """
    from sklearn.metrics import precision_recall_curve

    targets, scores_ = _binary_targets_and_scores(targets, scores_)
    thresholds = np.full(targets.shape[1], default)
    tuned = targets.any(axis=0)
    for index in np.flatnonzero(tuned):
        precision, recall, candidates = precision_recall_curve(targets[:, index],
                                                               scores_[:, index])
        f1 = _f1(precision, recall)[:-1]
        best = candidates[int(np.argmax(f1))]
        below = scores_[:, index][scores_[:, index] < best]
        thresholds[index] = (best + below.max()) / 2 if len(below) else best
    if tuned.any():
        thresholds[~tuned] = np.median(thresholds[tuned])
    return thresholds
