"""deep_audio.metrics: the one place metrics are computed, and its rule for a class
without positives."""

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from deep_audio.errors import DeepAudioError
from deep_audio.metrics import (
    best_thresholds,
    confusion_matrix,
    multilabel_scores,
    precision_recall_curves,
    scores,
)


def synthetic(n_files: int = 60, seed: int = 0):
    """Targets of 4 classes (the last never present) and scores that rank them imperfectly."""
    rng = np.random.default_rng(seed)
    targets = (rng.random((n_files, 4)) < [0.5, 0.3, 0.2, 0.0]).astype(int)
    return targets, np.clip(targets * 0.5 + rng.random((n_files, 4)) * 0.7, 0, 1)


def test_multilabel_scores_match_sklearn_and_leave_out_classes_without_positives():
    targets, posteriors = synthetic()
    result = multilabel_scores(targets, posteriors, [0.5] * 4)
    expected = [average_precision_score(targets[:, c], posteriors[:, c]) for c in range(3)]
    assert result["class_ap"][:3] == pytest.approx(expected)
    assert math.isnan(result["class_ap"][3]) and result["support"][3] == 0
    assert result["map"] == pytest.approx(np.mean(expected))
    assert result["f1"][:3] == pytest.approx(
        f1_score(targets[:, :3], posteriors[:, :3] >= 0.5, average=None))
    assert result["macro_f1"] == pytest.approx(np.mean(result["f1"][:3]))
    perfect = multilabel_scores(targets[:, :3], targets[:, :3] * 0.9 + 0.05)
    assert perfect["map"] == 1.0 and perfect["macro_f1"] == 1.0


def test_an_average_over_no_class_is_nan_not_zero():
    empty = multilabel_scores(np.zeros((5, 2)), np.random.default_rng(0).random((5, 2)))
    assert math.isnan(empty["map"]) and math.isnan(empty["micro_ap"])
    assert math.isnan(empty["macro_f1"]) and all(math.isnan(ap) for ap in empty["class_ap"])
    assert math.isnan(scores(np.zeros((2, 2)))["macro_f1"])
    assert math.isnan(scores(np.zeros((2, 2)))["accuracy"])


def test_single_label_scores_use_the_same_f1():
    matrix = confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], 3)
    result = scores(matrix)
    assert result["f1"] == pytest.approx(f1_score([0, 0, 1, 2, 2], [0, 1, 1, 2, 0],
                                                  average=None))
    assert result["macro_f1"] == pytest.approx(np.mean(result["f1"]))


def test_precision_recall_curves_are_empty_for_a_class_without_positives():
    targets, posteriors = synthetic()
    curves = precision_recall_curves(targets, posteriors)
    assert [len(recall) > 0 for _, recall in curves] == [True, True, True, False]
    assert curves[0][1][0] == 1.0 and curves[0][1][-1] == 0.0  # recall from 1 down to 0


@pytest.mark.parametrize("targets, posteriors, message", [
    (np.zeros((4, 2)), np.zeros((4, 3)), "must both be"),
    (np.full((4, 2), 2), np.zeros((4, 2)), "0 or 1"),
    (np.zeros((4, 2)), np.full((4, 2), np.nan), "NaN"),
])
def test_multilabel_scores_refuse_bad_input(targets, posteriors, message):
    with pytest.raises(DeepAudioError, match=message):
        multilabel_scores(targets, posteriors)


def test_a_class_without_positives_takes_the_median_of_the_tuned_thresholds():
    targets = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    scores_ = np.array([[0.3, 0.1, 0.0, 0.2], [0.1, 0.5, 0.0, 0.1],
                        [0.0, 0.0, 0.9, 0.3], [0.2, 0.3, 0.1, 0.4]])
    thresholds = best_thresholds(targets, scores_)
    assert thresholds[:3].tolist() == [0.25, 0.4, 0.5]  # half-way below each positive
    assert thresholds[3] == 0.4  # no positive: the median of the three
    assert best_thresholds(np.zeros((2, 2)), np.ones((2, 2)), default=0.6).tolist() == [0.6, 0.6]
