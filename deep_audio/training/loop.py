"""The training loop, built from small parts: one epoch, evaluation, the schedule, the stop
rule, and ``fit`` (the whole run's state is :class:`~deep_audio.training.state.TrainingState`,
its log :class:`~deep_audio.training.history.HistoryLog`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from deep_audio.config import TrainingConfig
from deep_audio.device import autocast, autocast_dtype
from deep_audio.metrics import multilabel_scores, scores
from deep_audio.io.model_files import atomic_save, load_checkpoint
from deep_audio.training.augment import Augmentation
from deep_audio.training.distributed import (Distributed, all_gather_rows, all_reduce_sum,
                                             broadcast_buffers)
from deep_audio.training.history import HistoryLog
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

    With ``augment`` (which needs an :class:`~deep_audio.models.AudioClassifier`), the
    waveform is augmented, ``model.features`` computed, the features augmented and mixed
    (and the targets with them, then class probabilities) before ``model.cnn``. One
    module for all of it, so DistributedDataParallel and ``torch.compile`` see the whole
    step.

    Shapes: waveform ``(batch, samples)``, target ``(batch,)`` (class indices) or
    ``(batch, n_classes)`` (multi-label 0/1); logits ``(batch, n_classes)``; the returned
    target is as given or, mixed, ``(batch, n_classes)``.
    """

    def __init__(self, model: nn.Module, augment: Augmentation | None = None):
        super().__init__()
        self.model = model
        self.augment = augment

    def forward(self, waveform: torch.Tensor, target: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.augment is None:
            return self.model(waveform), target
        features = self.augment.spectrogram(self.model.features(self.augment.waveform(waveform)))
        features, target = self.augment.mixup(features, target, len(self.model.class_names))
        return self.model.cnn(features), target


def train_one_epoch(step: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                    loss_fn: nn.Module, *, device: torch.device,
                    amp_dtype: torch.dtype | None, scaler: torch.amp.GradScaler,
                    n_classes: int, progress: bool = True, description: str = "train",
                    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
                    multi_label: bool = False) -> dict[str, float]:
    """One pass over ``loader`` in train mode; returns mean loss, accuracy and macro-F1
    (multi-label: the mean loss only).

    ``step`` is a :class:`TrainingStep` (possibly wrapped in DistributedDataParallel or
    compiled). ``scheduler``, when given, is stepped after every optimiser step (a
    per-step schedule such as one-cycle). The accuracy and macro-F1 are those of the (augmented) training batches,
    against the segments' own labels; in a distributed run they cover every process.
    """
    step.train()
    loss_sum, seen = torch.zeros((), dtype=torch.float64, device=device), 0
    matrix = torch.zeros(n_classes, n_classes, dtype=torch.int64, device=device)
    batches = tqdm(loader, desc=description, leave=False, disable=not progress,
                   dynamic_ncols=True)
    for index, (waveform, target) in enumerate(batches):
        waveform = waveform.to(device, non_blocking=True)
        target = target.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            logits, loss_target = step(waveform, target)
        loss = loss_fn(logits.float(), loss_target)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if scheduler is not None:
            scheduler.step()

        # Accumulated on the device: no host synchronisation per step on a GPU.
        loss_sum += loss.detach().double() * len(target)
        seen += len(target)
        if not multi_label:
            _count(matrix, target, logits.detach().argmax(dim=1))
        if progress and index % 10 == 0:
            batches.set_postfix(loss=f"{loss.item():.4f}")
    loss_sum, seen = _summed(loss_sum, seen)
    if multi_label:
        return {"loss": loss_sum / seen}
    all_reduce_sum(matrix)
    result = scores(matrix.cpu().numpy())
    return {"loss": loss_sum / seen, "accuracy": result["accuracy"],
            "macro_f1": result["macro_f1"]}


@torch.inference_mode()
def evaluate(model: nn.Module, loader: DataLoader, loss_fn: nn.Module, *,
             device: torch.device, amp_dtype: torch.dtype | None, n_classes: int,
             multi_label: bool = False) -> dict[str, Any]:
    """Loss, accuracy, macro-F1 and confusion matrix over every item of ``loader``.

    Multi-label: loss, ``map`` (macro average precision), per-class ``class_ap``, the
    F1-maximising ``thresholds`` and ``macro_f1`` at them (see
    :func:`~deep_audio.metrics.multilabel_scores`). They are scored per segment when the
    segments' targets come from events (strong labels), else per file, on the maximum
    over its segments: with weak labels a segment inherits every label of its file, so
    only the file's decision can be scored, and it is the maximum that
    :class:`~deep_audio.predict.predictor.FileResult` reports.

    In a distributed run each process passes its share of the items and the figures
    cover them all.
    """
    model.eval()
    loss_sum, seen = torch.zeros((), dtype=torch.float64, device=device), 0
    matrix = torch.zeros(n_classes, n_classes, dtype=torch.int64, device=device)
    all_scores, all_targets = [], []
    for waveform, target in loader:
        waveform = waveform.to(device, non_blocking=True)
        target = target.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            logits = model(waveform)
        loss_sum += loss_fn(logits.float(), target).double() * len(target)
        seen += len(target)
        if multi_label:
            all_scores.append(torch.sigmoid(logits.float()).cpu())
            all_targets.append(target.cpu())
        else:
            _count(matrix, target, logits.argmax(dim=1))
    if seen != len(loader.dataset):
        logger.warning("evaluated %d of %d items", seen, len(loader.dataset))
    loss_sum, seen = _summed(loss_sum, seen)
    if multi_label:
        empty = torch.zeros(0, n_classes)
        targets = all_gather_rows(torch.cat(all_targets) if all_targets else empty).numpy()
        scores_ = all_gather_rows(torch.cat(all_scores) if all_scores else empty).numpy()
        dataset = loader.dataset
        segments = dataset.dataset if isinstance(dataset, Subset) else dataset
        if not getattr(segments, "strong", True):
            files = (segments.file_index[list(dataset.indices)]
                     if isinstance(dataset, Subset) else segments.file_index)
            files = all_gather_rows(torch.from_numpy(files)).numpy()
            targets, scores_ = max_by_file(targets, files), max_by_file(scores_, files)
        result = multilabel_scores(targets, scores_)
        return {"loss": loss_sum / max(seen, 1), "map": result["map"],
                "macro_f1": result["macro_f1"], "class_ap": result["class_ap"],
                "thresholds": result["thresholds"]}
    all_reduce_sum(matrix)
    confusion = matrix.cpu().numpy()
    result = scores(confusion)
    return {"loss": loss_sum / max(seen, 1), "accuracy": result["accuracy"],
            "macro_f1": result["macro_f1"], "confusion": confusion}


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


def _count(matrix: torch.Tensor, target: torch.Tensor, prediction: torch.Tensor) -> None:
    """Add a batch to a confusion matrix (rows: true class, columns: predicted)."""
    n_classes = matrix.shape[0]
    matrix += torch.bincount(target * n_classes + prediction,
                             minlength=n_classes * n_classes).view(n_classes, n_classes)


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, ``n / (n_classes * count)``, shape ``(n_classes,)``."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.divide(len(labels), n_classes * counts, out=np.zeros(n_classes),
                        where=counts > 0)
    return torch.tensor(weights, dtype=torch.float32)


def positive_weights(targets: np.ndarray, n_classes: int) -> torch.Tensor:
    """Multi-label loss weights of each class's positives: negatives / positives,
    shape ``(n_classes,)`` (1 for a class without positives)."""
    targets = np.asarray(targets, dtype=np.float64).reshape(-1, n_classes)
    positives = targets.sum(axis=0)
    weights = np.divide(len(targets) - positives, positives, out=np.ones(n_classes),
                        where=positives > 0)
    return torch.tensor(weights, dtype=torch.float32)


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


def fit(model: nn.Module, train_loader: DataLoader, validation_loader: DataLoader, *,
        config: TrainingConfig, device: torch.device, n_classes: int,
        loss_weights: torch.Tensor | None = None,
        on_improvement: Callable[[nn.Module, int, dict[str, Any]], None] | None = None,
        history_path: Path | None = None, progress: bool = True,
        augment: Augmentation | None = None, checkpoint_path: Path | None = None,
        resume: bool = False, distributed: Distributed = Distributed(),
        multi_label: bool = False) -> FitResult:
    """Train with AdamW, the schedule of :func:`make_scheduler`, early stopping on macro-F1.

    ``multi_label``: binary cross-entropy on sigmoid outputs (``loss_weights`` are then
    the positives' weights per class), and validation mAP in place of macro-F1 for
    choosing the best epoch and stopping; the best epoch's metrics carry the per-class
    average precision and F1-maximising thresholds.

    ``on_improvement(model, epoch, metrics)`` is called each time validation macro-F1
    improves (ties go to the lower validation loss), so the caller can save the model;
    when training ends, ``model`` holds the best epoch's weights. Training stops after
    ``early_stopping_patience`` epochs without a macro-F1 gain (see
    :func:`epochs_without_gain`: a tie that lowers the loss updates the saved model but
    does not restart the patience). Each epoch appends a
    row to ``history_path`` (CSV). ``augment`` is applied in training steps only (see
    :class:`TrainingStep`).

    After every epoch the whole training state (model, optimizer, scheduler, scaler, RNG
    states, best epoch so far, history) is written atomically to ``checkpoint_path``;
    with ``resume`` an existing checkpoint is loaded and training goes on after its
    epoch, as if it had never stopped. The checkpoint is removed when training ends.

    In a distributed run (``distributed.enabled``, the process group already joined) the
    model is wrapped in DistributedDataParallel, ``train_loader`` must use a
    ``DistributedSampler`` and ``validation_loader`` this process's share of the
    validation set; only rank 0 calls ``on_improvement`` and writes files.
    """
    model.to(device)
    if augment is not None:
        augment.to(device)
    amp_dtype = autocast_dtype(config.precision, device)
    # benchmarks/benchmark.py, 2-core CPUs: channels_last gives 1.08-1.15x for the seed network
    # and 1.29-1.37x for the default one in fp32 (AVX2 and AVX-512 kernels); it is the
    # layout cuDNN prefers under AMP.
    model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = make_scheduler(optimizer, config, len(train_loader))
    per_step = not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    key = "val_map" if multi_label else "val_macro_f1"
    state = TrainingState(model, optimizer, scheduler, scaler, train_loader=train_loader,
                          device=device, key=key)
    weights = None if loss_weights is None else loss_weights.to(device)
    loss_fn = (nn.BCEWithLogitsLoss(pos_weight=weights) if multi_label
               else nn.CrossEntropyLoss(weight=weights))
    writes = distributed.is_main
    n_validation = int(all_reduce_sum(torch.tensor(len(validation_loader.dataset))))
    logger.info("training on %s, %s precision, %d training / %d validation segments%s",
                device, "fp32" if amp_dtype is None else str(amp_dtype).split(".")[-1],
                len(train_loader.dataset), n_validation,
                f", {distributed.world_size} processes" if distributed.enabled else "")
    if resume and checkpoint_path is not None and checkpoint_path.is_file():
        state.load_state_dict(load_checkpoint(checkpoint_path))
        logger.info("resuming after epoch %d from %s", state.epoch, checkpoint_path)
    elif resume:
        logger.warning("no checkpoint at %s: training from the start", checkpoint_path)
    log = HistoryLog(history_path, state.history) if history_path and writes else None

    step = TrainingStep(model, augment)
    if distributed.enabled:
        step = nn.parallel.DistributedDataParallel(
            step, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile_model:
        step = torch.compile(step)
    stopped_early = False
    epochs = tqdm(range(state.epoch + 1, config.epochs + 1), desc="epochs",
                  disable=not (progress and writes), dynamic_ncols=True)
    for epoch in epochs:
        started = time.perf_counter()
        if hasattr(train_loader.sampler, "set_epoch"):
            train_loader.sampler.set_epoch(epoch)  # a new shuffle per epoch, same on all ranks
        train = train_one_epoch(step, train_loader, optimizer, loss_fn, device=device,
                                amp_dtype=amp_dtype, scaler=scaler, n_classes=n_classes,
                                progress=progress and writes, description=f"epoch {epoch}",
                                scheduler=scheduler if per_step else None,
                                multi_label=multi_label)
        broadcast_buffers(model)
        validation = evaluate(model, validation_loader, loss_fn, device=device,
                              amp_dtype=amp_dtype, n_classes=n_classes,
                              multi_label=multi_label)
        learning_rate = optimizer.param_groups[0]["lr"]
        if not per_step:
            scheduler.step(validation["loss"])
        if multi_label:
            row = {"epoch": epoch, "train_loss": train["loss"], "val_loss": validation["loss"],
                   "val_map": validation["map"], "val_macro_f1": validation["macro_f1"]}
            details = {"val_class_ap": validation["class_ap"],
                       "thresholds": validation["thresholds"]}
        else:
            row = {"epoch": epoch, "train_loss": train["loss"],
                   "train_accuracy": train["accuracy"], "train_macro_f1": train["macro_f1"],
                   "val_loss": validation["loss"], "val_accuracy": validation["accuracy"],
                   "val_macro_f1": validation["macro_f1"]}
            details = {"val_confusion": validation["confusion"].tolist()}
        row.update(learning_rate=learning_rate, seconds=time.perf_counter() - started)
        improved = state.record(row, **details)
        if log is not None:
            log.append(row)
        if improved and on_improvement is not None and writes:
            on_improvement(model, epoch, state.best_metrics)
        if checkpoint_path is not None and writes:
            atomic_save(state.state_dict(), checkpoint_path)
        epochs.set_postfix(loss=f"{train['loss']:.3f}", **{key[4:]: f"{row[key]:.3f}"},
                           best=state.best_epoch)
        logger.debug("epoch %d: %s", epoch, row)
        if (epoch >= config.min_epochs
                and epochs_without_gain(state.history, config.early_stopping_min_delta,
                                        key=key) >= config.early_stopping_patience):
            logger.info("early stop at epoch %d: no %s gain in %d epochs", epoch, key[4:],
                        config.early_stopping_patience)
            stopped_early = True
            break
    model.load_state_dict(state.best_weights)
    if checkpoint_path is not None and writes:
        checkpoint_path.unlink(missing_ok=True)
    return FitResult(best_epoch=state.best_epoch, best_metrics=state.best_metrics,
                     history=state.history, stopped_early=stopped_early)
