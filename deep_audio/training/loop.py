"""The training loop: one epoch, evaluation, the schedule, and ``fit``, a short loop whose
side jobs (history, saving the best model, checkpoints, early stopping, reports) are
callbacks (:mod:`deep_audio.training.callbacks`). What differs between tasks (loss,
activation, metrics) comes from the model's :class:`~deep_audio.tasks.Task`."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from deep_audio.config import TrainingConfig
from deep_audio.device import autocast, autocast_dtype
from deep_audio.progress import progress_bar
from deep_audio.tasks import Task
from deep_audio.training.augment import Augmentation
from deep_audio.training.distributed import (
    Distributed,
    all_gather_rows,
    all_reduce_sum,
    broadcast_buffers,
)
from deep_audio.training.mean_teacher import MeanTeacher
from deep_audio.training.state import TrainingState

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What :func:`fit` learned: the best epoch's metrics and the per-epoch history."""

    best_epoch: int
    best_metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False


class TrainingStep(nn.Module):
    """The forward pass of one training batch: ``(waveform, target) -> (logits, target)``.

    With ``augment``, the waveform is augmented, the backbone's front end computed
    (``model.features``), the features augmented and mixed (the targets with them, as
    class probabilities), then ``model.forward_features``. One module for all of it, so
    DistributedDataParallel and ``torch.compile`` see the whole step.

    Shapes: waveform ``(batch, samples)``, target ``(batch,)`` (class indices) or
    ``(batch, n_classes)`` (multi-label 0/1); logits ``(batch, n_classes)``; the returned
    target is as given or, mixed, ``(batch, n_classes)``. A frame model's logits and
    targets are ``(batch, frames + 1, n_classes)``: frames, then the clip
    (``Classifier.training_logits``).

    With a ``teacher`` (:class:`~deep_audio.training.mean_teacher.MeanTeacher`) it also
    returns the teacher's logits for the same (augmented) features, a third element.
    """

    def __init__(self, model: nn.Module, augment: Augmentation | None = None,
                 teacher: MeanTeacher | None = None):
        super().__init__()
        self.model = model
        self.augment = augment
        self.teacher = teacher

    def forward(self, waveform: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.augment is None:
            features = self.model.features(waveform)
        else:
            features = self.model.features(self.augment.waveform(waveform))
            features, target = self.augment.stretch(features, target)
            features = self.augment.spectrogram(features)
            features, target = self.augment.mixup(features, target,
                                                  len(self.model.class_names))
        logits = self.model.training_logits(features)
        if self.teacher is None:
            return logits, target
        return logits, target, self.teacher.logits(features)


@dataclass
class Optimisation:
    """What one optimiser step needs: optimiser, per-step schedule (or ``None``), loss,
    loss scaler and autocast dtype."""

    optimizer: torch.optim.Optimizer
    scheduler: Any
    loss_fn: nn.Module
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    mean_teacher: MeanTeacher | None = None


def train_one_epoch(step: nn.Module, loader: DataLoader, optimisation: Optimisation, task: Task,
                    *, device: torch.device, description: str = "train",
                    progress: bool = True) -> dict[str, float]:
    """One pass over ``loader`` in train mode; returns the mean loss and, for a
    single-label task, the accuracy and macro-F1 of the (augmented) training batches
    against the segments' own labels (over every process of a distributed run).

    ``step`` is a :class:`TrainingStep` (possibly wrapped in DistributedDataParallel or
    compiled); ``optimisation.scheduler``, when given, is stepped after every batch.
    """
    step.train()
    loss_sum, seen = torch.zeros((), dtype=torch.float64, device=device), 0
    outputs, targets = [], []
    batches = progress_bar(loader, desc=description, leave=False, disable=not progress)
    for index, (waveform, target) in enumerate(batches):
        waveform = waveform.to(device, non_blocking=True)
        target = target.to(device, non_blocking=True)
        with autocast(device, optimisation.amp_dtype):
            logits, loss_target, *teacher_logits = step(waveform, target)
        loss = optimisation.loss_fn(logits.float(), loss_target)
        teacher = optimisation.mean_teacher
        if teacher is not None:
            loss = loss + teacher.consistency(logits, teacher_logits[0])
        optimisation.optimizer.zero_grad(set_to_none=True)
        optimisation.scaler.scale(loss).backward()
        optimisation.scaler.step(optimisation.optimizer)
        optimisation.scaler.update()
        if optimisation.scheduler is not None:
            optimisation.scheduler.step()
        if teacher is not None:
            teacher.update(_unwrapped(step).model)
        # Kept on the device: no host synchronisation per step on a GPU.
        loss_sum += loss.detach().double() * len(target)
        seen += len(target)
        if not task.multi_label:
            outputs.append(logits.detach().float())
            targets.append(target)
        if progress and index % 10 == 0:
            batches.set_postfix(loss=f"{loss.item():.4f}")
    loss_sum, seen = _summed(loss_sum, seen)
    result = {"loss": loss_sum / seen}
    if not task.multi_label:
        scores = task.validation_metrics(*_gathered(targets, outputs))
        result.update(accuracy=scores["accuracy"], macro_f1=scores["macro_f1"])
    return result


@torch.inference_mode()
def evaluate(model: nn.Module, loader: DataLoader, loss_fn: nn.Module, *,
             device: torch.device, amp_dtype: torch.dtype | None = None) -> dict[str, Any]:
    """The loss and the task's validation metrics over every item of ``loader``.

    Single-label: accuracy, macro-F1 and the confusion matrix. Multi-label: ``map``,
    per-class ``class_ap``, the F1-maximising ``thresholds`` and ``macro_f1`` at them,
    scored per segment when the targets come from events (strong labels), else per file
    on the maximum over its segments (with weak labels a segment inherits every label of
    its file, so only the file's decision can be scored).

    In a distributed run each process passes its share of the items and the figures
    cover them all.
    """
    model.eval()
    task = model.task
    loss_sum, seen = torch.zeros((), dtype=torch.float64, device=device), 0
    outputs, targets = [], []
    for waveform, target in loader:
        waveform = waveform.to(device, non_blocking=True)
        target = target.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            logits = model.training_logits(model.features(waveform))
        loss_sum += loss_fn(logits.float(), target).double() * len(target)
        seen += len(target)
        outputs.append(logits.float())
        targets.append(target)
    if seen != len(loader.dataset):
        logger.warning("evaluated %d of %d items", seen, len(loader.dataset))
    loss_sum, seen = _summed(loss_sum, seen)
    targets_, logits_ = _gathered(targets, outputs, n_classes=len(model.class_names))
    posteriors = task.activation(torch.from_numpy(logits_)).numpy()
    if task.multi_label and not getattr(_segments_of(loader), "strong", True):
        files = _gathered_files(loader)
        targets_, posteriors = max_by_file(targets_, files), max_by_file(posteriors, files)
    return {"loss": loss_sum / max(seen, 1), **task.validation_metrics(targets_, posteriors)}


def _segments_of(loader: DataLoader):
    dataset = loader.dataset
    return dataset.dataset if isinstance(dataset, Subset) else dataset


def _gathered_files(loader: DataLoader) -> np.ndarray:
    """The file index of each item of ``loader``, over every process."""
    dataset, segments = loader.dataset, _segments_of(loader)
    files = (segments.file_index[list(dataset.indices)] if isinstance(dataset, Subset)
             else segments.file_index)
    return all_gather_rows(torch.from_numpy(np.asarray(files))).numpy()


def _gathered(targets: list[torch.Tensor], outputs: list[torch.Tensor], *,
              n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Targets and outputs of every batch, concatenated over batches and processes."""
    if outputs:
        target, output = torch.cat(targets), torch.cat(outputs)
    else:
        target, output = torch.zeros(0, dtype=torch.long), torch.zeros(0, n_classes or 0)
    return all_gather_rows(target).cpu().numpy(), all_gather_rows(output).cpu().numpy()


def max_by_file(rows: np.ndarray, files: np.ndarray) -> np.ndarray:
    """Row-wise maximum over the rows of each file: ``(n, C)`` -> ``(n_files, C)``, files in
    increasing order of their index.

    >>> max_by_file(np.array([[0.1, 0.9], [0.5, 0.2], [0.3, 0.3]]), np.array([1, 0, 1])).tolist()
    [[0.5, 0.2], [0.3, 0.9]]
    """
    order = np.argsort(files, kind="stable")
    files, rows = files[order], rows[order]
    starts = np.flatnonzero(np.r_[True, files[1:] != files[:-1]])
    return np.maximum.reduceat(rows, starts, axis=0) if len(rows) else rows


def _summed(loss_sum: torch.Tensor, seen: int) -> tuple[float, int]:
    """A loss sum and an item count, added up over every process of a distributed run."""
    totals = all_reduce_sum(torch.stack([loss_sum, torch.tensor(seen, dtype=torch.float64,
                                                                device=loss_sum.device)]))
    return totals[0].item(), int(totals[1].item())


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainingConfig,
                   steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning-rate schedule of ``config.schedule``.

    ``onecycle``: a warm-up over ``warmup_fraction`` of all ``epochs * steps_per_epoch``
    steps from ``learning_rate / 25`` to ``learning_rate``, then a cosine decay to
    nearly zero, stepped per batch. ``plateau``: ReduceLROnPlateau on validation loss
    (factor ``lr_factor`` after ``lr_patience`` epochs), stepped per epoch.
    """
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.learning_rate, pct_start=config.warmup_fraction,
            total_steps=config.epochs * max(steps_per_epoch, 1), anneal_strategy="cos")
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.lr_factor, patience=config.lr_patience)


def epochs_without_gain(history: list[dict[str, float]], min_delta: float, *,
                        key: str = "val_macro_f1") -> int:
    """Epochs since the validation metric ``key`` (macro-F1; multi-label ``val_map``)
    last rose by more than ``min_delta`` above every earlier epoch's; a tie is not a
    gain. 0 when the last epoch was a gain.

    >>> epochs_without_gain([{"val_macro_f1": f} for f in (0.5, 0.9, 0.9, 0.9)], 0.0)
    2
    """
    best, last_gain = None, 0
    for index, row in enumerate(history):
        if best is None or row[key] > best + min_delta:
            best, last_gain = row[key], index
    return len(history) - 1 - last_gain


def epoch_row(epoch: int, train: dict[str, float], validation: dict[str, Any]
              ) -> tuple[dict[str, float], dict[str, Any]]:
    """An epoch's history row (plain numbers) and the details kept with the best epoch
    (the confusion matrix, or per-class AP and thresholds)."""
    row: dict[str, float] = {"epoch": epoch, "train_loss": train["loss"]}
    row.update({f"train_{k}": v for k, v in train.items() if k != "loss"})
    row.update({f"val_{k}": v for k, v in validation.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)})
    details = {("val_confusion" if k == "confusion" else f"val_{k}" if k == "class_ap" else k):
               np.asarray(v).tolist() for k, v in validation.items()
               if k in ("confusion", "class_ap", "thresholds")}
    return row, details


class Callback:
    """A side job of a training run; :func:`fit` calls these hooks, in list order."""

    def on_fit_start(self, state: TrainingState) -> None:
        """After the optimiser and schedule exist, before the first epoch."""

    def on_epoch_end(self, state: TrainingState, improved: bool) -> bool:
        """After an epoch is recorded in ``state``; return True to stop training."""
        return False

    def on_fit_end(self, state: TrainingState) -> None:
        """After the last epoch, the best weights back in the model."""


def fit(model: nn.Module, train_loader: DataLoader, validation_loader: DataLoader,
        config: TrainingConfig, *, callbacks: Sequence[Callback] = (),
        augment: Augmentation | None = None, loss_weights: torch.Tensor | None = None,
        mean_teacher: bool = False, distributed: Distributed = Distributed(),
        progress: bool = True) -> FitResult:
    """Train ``model`` (on its device) with AdamW and the schedule of :func:`make_scheduler`,
    keeping the best epoch by the task's validation metric (ties to the lower loss).

    Only parameters with ``requires_grad`` train; ``augment`` works in training steps
    only (see :class:`TrainingStep`); ``loss_weights`` go to the task's loss;
    ``mean_teacher`` adds the consistency loss of a
    :class:`~deep_audio.training.mean_teacher.MeanTeacher` (``config.mean_teacher_weight``
    and ``mean_teacher_decay``, ramped up over the warm-up steps). Everything
    else a run does (history, saving, checkpoints, early stopping) is a callback. When
    training ends ``model`` holds the best epoch's weights.

    Distributed (the process group joined), the model is wrapped in
    DistributedDataParallel, ``train_loader`` uses a ``DistributedSampler`` and
    ``validation_loader`` this process's share of the validation set.
    """
    device = next(model.parameters()).device
    # benchmarks/benchmark.py, 2-core CPUs: channels_last gives 1.08-1.37x (fp32, AVX2
    # and AVX-512 kernels); it is the layout cuDNN prefers under AMP.
    model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = make_scheduler(optimizer, config, len(train_loader))
    per_step = not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    amp_dtype = autocast_dtype(config.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    task: Task = model.task
    loss_fn = task.loss(None if loss_weights is None else loss_weights.to(device))
    teacher = None
    if mean_teacher:
        teacher = MeanTeacher(model, weight=config.mean_teacher_weight,
                              decay=config.mean_teacher_decay, rampup_steps=round(
                                  config.warmup_fraction * config.epochs * len(train_loader)))
    optimisation = Optimisation(optimizer, scheduler if per_step else None, loss_fn, scaler,
                                amp_dtype, teacher)
    state = TrainingState(model, optimizer, scheduler, scaler, train_loader=train_loader,
                          device=device, key=f"val_{task.metric}")
    _log_start(model, train_loader, validation_loader, amp_dtype, distributed)
    step = _wrapped_step(model, augment, config, distributed, device, teacher)
    for callback in callbacks:
        callback.on_fit_start(state)
    stopped_early = False
    epochs = progress_bar(range(state.epoch + 1, config.epochs + 1), desc="epochs",
                          disable=not (progress and distributed.is_main))
    for epoch in epochs:
        started = time.perf_counter()
        if hasattr(train_loader.sampler, "set_epoch"):
            train_loader.sampler.set_epoch(epoch)  # a new shuffle per epoch, same on all ranks
        train = train_one_epoch(step, train_loader, optimisation, task, device=device,
                                description=f"epoch {epoch}",
                                progress=progress and distributed.is_main)
        broadcast_buffers(model)
        validation = evaluate(model, validation_loader, loss_fn, device=device,
                              amp_dtype=amp_dtype)
        row, details = epoch_row(epoch, train, validation)
        row.update(learning_rate=optimizer.param_groups[0]["lr"],
                   seconds=time.perf_counter() - started)
        if not per_step:
            scheduler.step(validation["loss"])
        improved = state.record(row, **details)
        epochs.set_postfix(loss=f"{train['loss']:.3f}", **{task.metric: f"{row[state.key]:.3f}"},
                           best=state.best_epoch)
        logger.debug("epoch %d: %s", epoch, row)
        if any([callback.on_epoch_end(state, improved) for callback in callbacks]):
            stopped_early = True
            break
    model.load_state_dict(state.best_weights)
    for callback in callbacks:
        callback.on_fit_end(state)
    return FitResult(best_epoch=state.best_epoch, best_metrics=state.best_metrics,
                     history=state.history, stopped_early=stopped_early)


def _wrapped_step(model: nn.Module, augment: Augmentation | None, config: TrainingConfig,
                  distributed: Distributed, device: torch.device,
                  teacher: MeanTeacher | None = None) -> nn.Module:
    """The training step, on the device, under DDP and ``torch.compile`` as configured."""
    if augment is not None:
        augment.to(device)
    step: nn.Module = TrainingStep(model, augment, teacher)
    if distributed.enabled:
        step = nn.parallel.DistributedDataParallel(
            step, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile_model:
        step = torch.compile(step)
    return step


def _unwrapped(step: nn.Module) -> TrainingStep:
    """The :class:`TrainingStep` inside DistributedDataParallel or ``torch.compile``."""
    while not isinstance(step, TrainingStep):
        step = getattr(step, "module", None) or step._orig_mod
    return step


def _log_start(model: nn.Module, train_loader: DataLoader, validation_loader: DataLoader,
               amp_dtype: torch.dtype | None, distributed: Distributed) -> None:
    n_validation = int(all_reduce_sum(torch.tensor(len(validation_loader.dataset))))
    logger.info("training on %s, %s precision, %d training / %d validation segments%s",
                next(model.parameters()).device,
                "fp32" if amp_dtype is None else str(amp_dtype).split(".")[-1],
                len(train_loader.dataset), n_validation,
                f", {distributed.world_size} processes" if distributed.enabled else "")
