"""Training: the loop and ``train_model`` from class folders."""

from deep_audio.training.train import TrainingResult, train_model
from deep_audio.training.loop import FitResult, evaluate, fit, train_one_epoch

__all__ = ["FitResult", "TrainingResult", "evaluate", "fit",
           "train_model", "train_one_epoch"]
