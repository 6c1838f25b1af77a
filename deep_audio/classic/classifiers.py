"""The six classic classifiers, each a scikit-learn Pipeline of a scaler and a model.

Every pipeline is ``Pipeline([("scaler", StandardScaler()), ("classifier", model)])``,
so standardisation is learned inside each cross-validation fold and stored with the
model. All of them give class probabilities (``predict_proba``); the SVMs through a
sigmoid calibration (Platt scaling) fitted on internal folds, as ``SVC(probability=True)``
did before scikit-learn 1.9 deprecated it.
"""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from deep_audio.config import CLASSIFIER_TYPES
from deep_audio.errors import DeepAudioError

# Candidate values of each type's one hyper-parameter (pyAudioAnalysis's grids).
PARAMETER_GRIDS: dict[str, tuple[str, tuple[float, ...]]] = {
    "svm": ("C", (0.001, 0.01, 0.5, 1.0, 5.0, 10.0, 20.0)),
    "svm_rbf": ("C", (0.001, 0.01, 0.5, 1.0, 5.0, 10.0, 20.0)),
    "knn": ("n_neighbors", (1, 3, 5, 7, 9, 11, 13, 15)),
    "randomforest": ("n_estimators", (10, 25, 50, 100, 200, 500)),
    "gradientboosting": ("n_estimators", (10, 25, 50, 100, 200, 500)),
    "extratrees": ("n_estimators", (10, 25, 50, 100, 200, 500)),
    "logistic": ("C", (0.001, 0.01, 0.1, 1.0, 10.0)),
}
# CLASSIFIER_TYPES (deep_audio.config, the names the config accepts) are these keys, in
# this order; tests/test_classic.py checks it.
SVM_TYPES = ("svm", "svm_rbf")


def check_classifier_type(classifier_type: str) -> str:
    """``classifier_type`` if known, else a :class:`DeepAudioError` listing the known ones."""
    if classifier_type not in PARAMETER_GRIDS:
        raise DeepAudioError(f"classifier_type={classifier_type!r} is not one of "
                             f"{', '.join(CLASSIFIER_TYPES)}")
    return classifier_type


def parameter_name(classifier_type: str) -> str:
    """Name of the tuned hyper-parameter inside the pipeline, e.g. ``classifier__C``."""
    name = PARAMETER_GRIDS[check_classifier_type(classifier_type)][0]
    prefix = "classifier__estimator__" if classifier_type in SVM_TYPES else "classifier__"
    return prefix + name


def make_pipeline(classifier_type: str, *, calibration_folds: int = 3,
                  random_state: int | None = 0) -> Pipeline:
    """An unfitted scaler + classifier pipeline with the type's default parameter.

    Parameters
    ----------
    classifier_type : str
        One of ``svm`` (linear kernel), ``svm_rbf``, ``knn``, ``randomforest``,
        ``gradientboosting``, ``extratrees``, ``logistic`` (multinomial logistic
        regression).
    calibration_folds : int
        Internal folds of the SVMs' probability calibration, >= 2.
    random_state : int, optional
        Seed of the randomised models (forests, boosting).

    >>> make_pipeline("knn").named_steps["classifier"].n_neighbors
    5
    """
    check_classifier_type(classifier_type)
    if classifier_type in SVM_TYPES:
        kernel = "linear" if classifier_type == "svm" else "rbf"
        model = CalibratedClassifierCV(SVC(kernel=kernel), method="sigmoid",
                                       cv=calibration_folds, ensemble=False)
    elif classifier_type == "knn":
        # Brute force: exact, fast for the few hundred files of a classic data set, and
        # no tree object in the model file (see TRUSTED_TYPES in model_file.py).
        model = KNeighborsClassifier(algorithm="brute")
    elif classifier_type == "randomforest":
        model = RandomForestClassifier(random_state=random_state)
    elif classifier_type == "gradientboosting":
        model = GradientBoostingClassifier(random_state=random_state)
    elif classifier_type == "logistic":
        # Multinomial logistic regression: calibrated probabilities without internal
        # folds; the usual probe of a frozen network's features.
        model = LogisticRegression(max_iter=5000)
    else:
        model = ExtraTreesClassifier(random_state=random_state)
    return Pipeline([("scaler", StandardScaler()), ("classifier", model)])
