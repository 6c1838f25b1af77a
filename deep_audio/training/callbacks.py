"""The side jobs of a training run, as :class:`~deep_audio.training.loop.Callback`\\ s:
the per-epoch history, saving the best model, checkpoints for resuming, early stopping
and the report. Each does one job; :func:`~deep_audio.training.train.run_training`
lists the ones a run needs (in a distributed run only rank 0 writes files)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from deep_audio.config import TrainingConfig
from deep_audio.io.model_files import atomic_save, load_checkpoint, save_model
from deep_audio.training.history import HistoryLog, read_history
from deep_audio.training.loop import Callback, epochs_without_gain
from deep_audio.training.state import TrainingState

logger = logging.getLogger(__name__)


class Checkpoint(Callback):
    """The whole training state written atomically to ``path`` after every epoch and
    removed when training ends; with ``resume`` an existing checkpoint is loaded first, so
    the run goes on after its epoch as if it had never stopped. Put it after the
    callbacks that save files, so a crash never leaves a checkpoint ahead of them."""

    def __init__(self, path: Path, *, resume: bool = False):
        self.path, self.resume = path, resume

    def on_fit_start(self, state):
        if self.resume and self.path.is_file():
            state.load_state_dict(load_checkpoint(self.path))
            logger.info("resuming after epoch %d from %s", state.epoch, self.path)
        elif self.resume:
            logger.warning("no checkpoint at %s: training from the start", self.path)

    def on_epoch_end(self, state, improved):
        atomic_save(state.state_dict(), self.path)
        return False

    def on_fit_end(self, state):
        self.path.unlink(missing_ok=True)


class History(Callback):
    """One CSV row per epoch at ``path`` (a resumed run's earlier rows first)."""

    def __init__(self, path: Path):
        self.path = path
        self.log: HistoryLog | None = None

    def on_epoch_end(self, state, improved):
        if self.log is None:  # the state holds a resumed run's rows by now
            self.log = HistoryLog(self.path, state.history[:-1])
        self.log.append(state.history[-1])
        return False


class SaveBest(Callback):
    """Each time the validation metric improves, the model (with the task's thresholds
    of that epoch) is saved to ``path`` with ``metadata()`` and the epoch's metrics."""

    def __init__(self, path: Path, metadata: Callable[[], dict[str, Any]]):
        self.path, self.metadata = path, metadata

    def on_epoch_end(self, state, improved):
        if improved:
            model = state.model
            model.task = model.task.with_thresholds(state.best_metrics.get("thresholds"))
            save_model(self.path, model, metadata={
                **self.metadata(), "best_epoch": state.best_epoch,
                "metrics": state.best_metrics})
            logger.debug("epoch %d: saved %s", state.best_epoch, self.path)
        return False

    def on_fit_end(self, state):
        model = state.model  # holds the best weights again: the best epoch's thresholds
        model.task = model.task.with_thresholds(state.best_metrics.get("thresholds"))


class TunePostProcessing(Callback):
    """When training ends, a frame model's event post-processing (per-class thresholds,
    median filters, merge gaps) is tuned on the validation segments' clips
    (:func:`~deep_audio.training.post_processing.tune_on_validation`), stored in its
    task, and the model file at ``path`` saved again with ``metadata()``; the
    validation event F1, PSDS1 and PSDS2 join the best epoch's metrics (and the
    report). Put it after :class:`SaveBest`."""

    def __init__(self, path: Path, validation_set: Any, metadata: Callable[[], dict[str, Any]]):
        self.path, self.validation_set, self.metadata = path, validation_set, metadata

    def on_fit_end(self, state):
        from deep_audio.training.post_processing import tune_on_validation

        state.best_metrics.update(tune_on_validation(state.model, self.validation_set))
        save_model(self.path, state.model, metadata={
            **self.metadata(), "best_epoch": state.best_epoch, "metrics": state.best_metrics})


class EarlyStopping(Callback):
    """Stop after ``early_stopping_patience`` epochs without a gain of more than
    ``early_stopping_min_delta`` in the validation metric, never before ``min_epochs``
    (see :func:`~deep_audio.training.loop.epochs_without_gain`: a tie is no gain)."""

    def __init__(self, config: TrainingConfig):
        self.config = config

    def on_epoch_end(self, state, improved):
        config = self.config
        if state.epoch < config.min_epochs or epochs_without_gain(
                state.history, config.early_stopping_min_delta,
                key=state.key) < config.early_stopping_patience:
            return False
        logger.info("early stop at epoch %d: no %s gain in %d epochs", state.epoch,
                    state.key[4:], config.early_stopping_patience)
        return True


class Report(Callback):
    """The training report beside the model when training ends: ``NAME.report.png`` and
    ``NAME.report.html`` (curves per epoch, the best epoch, the validation confusion
    matrix of a single-label model)."""

    def __init__(self, model_path: Path, history_path: Path, class_names: list[str]):
        self.model_path, self.history_path = model_path, history_path
        self.class_names = class_names
        self.path: Path | None = None

    def on_fit_end(self, state: TrainingState):
        from deep_audio.viz.training import (
            plot_training_report,
            training_report,  # plotly only when it ends
        )

        confusion = state.best_metrics.get("val_confusion")
        confusion = None if confusion is None else np.asarray(confusion)
        name = "mAP" if state.key == "val_map" else "macro-F1"
        title = (f"{self.model_path.stem}: best validation {name} "
                 f"{state.best_metrics[state.key]:.3f}")
        if "val_psds1" in state.best_metrics:  # a frame model, post-processing tuned
            metrics = state.best_metrics
            title += (f"; PSDS1 {metrics['val_psds1']:.3f}, PSDS2 {metrics['val_psds2']:.3f}"
                      f", event F1 {metrics['val_event_f1']:.3f} (tuned post-processing)")
        history = read_history(self.history_path)
        self.path = plot_training_report(history, confusion, self.class_names,
                                         self.model_path.with_suffix(".report.png"),
                                         best_epoch=state.best_epoch, title=title)
        training_report(history, confusion, self.class_names,
                        self.model_path.with_suffix(".report.html"),
                        best_epoch=state.best_epoch, title=title)
