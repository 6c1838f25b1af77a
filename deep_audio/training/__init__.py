"""Training: the loop, ``train_model`` from class folders or a manifest, and
cross-validation on a manifest's folds."""

from deep_audio.training.folds import CrossValidationResult, cross_validate
from deep_audio.training.loop import FitResult, evaluate, fit, train_one_epoch
from deep_audio.training.train import TrainingResult, train_model

__all__ = ["CrossValidationResult", "FitResult", "TrainingResult", "cross_validate",
           "evaluate", "fit", "train_model", "train_one_epoch"]
