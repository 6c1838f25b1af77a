"""The training loop, built from small parts: one epoch, evaluation, and ``fit``."""

from __future__ import annotations

import copy
import csv
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from deep_audio.config import TrainingConfig
from deep_audio.device import autocast, autocast_dtype
from deep_audio.errors import DeepAudioError
from deep_audio.metrics import confusion_matrix, scores
from deep_audio.models.io import atomic_save, load_checkpoint
from deep_audio.training.augment import Augmentation

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What :func:`fit` learned: the best epoch's metrics and the per-epoch history."""

    best_epoch: int
    best_metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False


def train_one_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                    loss_fn: nn.Module, *, device: torch.device,
                    amp_dtype: torch.dtype | None, scaler: torch.amp.GradScaler,
                    progress: bool = True, description: str = "train",
                    augment: Augmentation | None = None) -> dict[str, float]:
    """One pass over ``loader`` in train mode; returns mean loss, accuracy and macro-F1.

    With ``augment`` (which needs an :class:`~deep_audio.models.AudioClassifier`), each
    step runs ``model.features`` on the augmented waveform, augments the features and
    mixes them (and the targets, then class probabilities) before ``model.cnn``. The
    accuracy and macro-F1 are those of the (augmented) training batches, against the
    segments' own labels.
    """
    model.train()
    if augment is not None:
        augment.train()
    total_loss, seen, targets, predictions = 0.0, 0, [], []
    batches = tqdm(loader, desc=description, leave=False, disable=not progress,
                   dynamic_ncols=True)
    for waveform, target in batches:
        waveform = waveform.to(device, non_blocking=True)
        target = target.to(device, non_blocking=True)
        loss_target = target
        with autocast(device, amp_dtype):
            if augment is None:
                logits = model(waveform)
            else:
                features = augment.spectrogram(model.features(augment.waveform(waveform)))
                features, loss_target = augment.mixup(features, target,
                                                      len(model.class_names))
                logits = model.cnn(features)
        loss = loss_fn(logits.float(), loss_target)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

        total_loss += loss.item() * len(target)
        seen += len(target)
        targets.append(target.cpu())
        predictions.append(logits.argmax(dim=1).cpu())
        batches.set_postfix(loss=f"{total_loss / seen:.4f}")
    matrix = confusion_matrix(torch.cat(targets).numpy(), torch.cat(predictions).numpy(),
                              logits.shape[1])
    result = scores(matrix)
    return {"loss": total_loss / seen, "accuracy": result["accuracy"],
            "macro_f1": result["macro_f1"]}


@torch.inference_mode()
def evaluate(model: nn.Module, loader: DataLoader, loss_fn: nn.Module, *,
             device: torch.device, amp_dtype: torch.dtype | None, n_classes: int
             ) -> dict[str, Any]:
    """Loss, accuracy, macro-F1 and confusion matrix over every item of ``loader``."""
    model.eval()
    total_loss, targets, predictions = 0.0, [], []
    for waveform, target in loader:
        waveform = waveform.to(device, non_blocking=True)
        target = target.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            logits = model(waveform)
        total_loss += loss_fn(logits.float(), target).item() * len(target)
        targets.append(target.cpu())
        predictions.append(logits.argmax(dim=1).cpu())
    targets_all = torch.cat(targets).numpy()
    if len(targets_all) != len(loader.dataset):
        logger.warning("evaluated %d of %d items", len(targets_all), len(loader.dataset))
    matrix = confusion_matrix(targets_all, torch.cat(predictions).numpy(), n_classes)
    result = scores(matrix)
    return {"loss": total_loss / len(targets_all), "accuracy": result["accuracy"],
            "macro_f1": result["macro_f1"], "confusion": matrix}


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, ``n / (n_classes * count)``, shape ``(n_classes,)``."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.divide(len(labels), n_classes * counts, out=np.zeros(n_classes),
                        where=counts > 0)
    return torch.tensor(weights, dtype=torch.float32)


def fit(model: nn.Module, train_loader: DataLoader, validation_loader: DataLoader, *,
        config: TrainingConfig, device: torch.device, n_classes: int,
        loss_weights: torch.Tensor | None = None,
        on_improvement: Callable[[nn.Module, int, dict[str, Any]], None] | None = None,
        history_path: Path | None = None, progress: bool = True,
        augment: Augmentation | None = None, checkpoint_path: Path | None = None,
        resume: bool = False) -> FitResult:
    """Train with AdamW, ReduceLROnPlateau on validation loss, early stopping on macro-F1.

    ``on_improvement(model, epoch, metrics)`` is called each time validation macro-F1
    improves (ties go to the lower validation loss), so the caller can save the model;
    when training ends, ``model`` holds the best epoch's weights. Each epoch appends a
    row to ``history_path`` (CSV). ``augment`` is applied in training steps only (see
    :func:`train_one_epoch`).

    After every epoch the whole training state (model, optimizer, scheduler, scaler, RNG
    states, best epoch so far, history) is written atomically to ``checkpoint_path``;
    with ``resume`` an existing checkpoint is loaded and training goes on after its
    epoch, as if it had never stopped. The checkpoint is removed when training ends.
    """
    model.to(device)
    if augment is not None:
        augment.to(device)
    amp_dtype = autocast_dtype(config.precision, device)
    # bin/benchmark_training.py on a 2-core AVX-512 CPU: channels_last gives 1.06-1.15x in
    # fp32 and 1.1-1.2x on top of bf16 autocast; it is the layout cuDNN prefers under AMP.
    model.to(memory_format=torch.channels_last)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.lr_factor, patience=config.lr_patience)
    loss_fn = nn.CrossEntropyLoss(
        weight=None if loss_weights is None else loss_weights.to(device))
    logger.info("training on %s, %s precision, %d training / %d validation segments",
                device, "fp32" if amp_dtype is None else str(amp_dtype).split(".")[-1],
                len(train_loader.dataset), len(validation_loader.dataset))

    best_state, best_key, result = None, None, FitResult(best_epoch=0, best_metrics={})
    first_epoch = 1
    if resume and checkpoint_path is not None and checkpoint_path.is_file():
        state = load_checkpoint(checkpoint_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        if train_loader.generator is not None:
            train_loader.generator.set_state(state["loader_rng"])
        best_state, best_key = state["best_state"], tuple(state["best_key"])
        result.best_epoch, result.best_metrics = state["best_epoch"], state["best_metrics"]
        result.history = state["history"]
        first_epoch = state["epoch"] + 1
        logger.info("resuming after epoch %d from %s", state["epoch"], checkpoint_path)
    elif resume:
        logger.warning("no checkpoint at %s: training from the start", checkpoint_path)
    if history_path is not None:
        history_path.parent.mkdir(parents=True, exist_ok=True)
        history_path.unlink(missing_ok=True)
        for row in result.history:
            _append_csv(history_path, row)
    epochs = tqdm(range(first_epoch, config.epochs + 1), desc="epochs",
                  disable=not progress, dynamic_ncols=True)
    for epoch in epochs:
        started = time.perf_counter()
        train = train_one_epoch(model, train_loader, optimizer, loss_fn, device=device,
                                amp_dtype=amp_dtype, scaler=scaler, progress=progress,
                                description=f"epoch {epoch}", augment=augment)
        validation = evaluate(model, validation_loader, loss_fn, device=device,
                              amp_dtype=amp_dtype, n_classes=n_classes)
        learning_rate = optimizer.param_groups[0]["lr"]
        scheduler.step(validation["loss"])
        row = {"epoch": epoch, "train_loss": train["loss"], "train_accuracy": train["accuracy"],
               "train_macro_f1": train["macro_f1"], "val_loss": validation["loss"],
               "val_accuracy": validation["accuracy"],
               "val_macro_f1": validation["macro_f1"], "learning_rate": learning_rate,
               "seconds": time.perf_counter() - started}
        result.history.append(row)
        if history_path is not None:
            _append_csv(history_path, row)

        key = (validation["macro_f1"], -validation["loss"])
        if best_key is None or key > best_key:
            best_key, result.best_epoch = key, epoch
            result.best_metrics = {**row, "val_confusion": validation["confusion"].tolist()}
            best_state = copy.deepcopy(model.state_dict())
            if on_improvement is not None:
                on_improvement(model, epoch, result.best_metrics)
        if checkpoint_path is not None:
            atomic_save({
                "epoch": epoch, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(), "torch_rng": torch.get_rng_state(),
                "loader_rng": (train_loader.generator.get_state()
                               if train_loader.generator is not None else None),
                "best_state": best_state, "best_key": list(best_key),
                "best_epoch": result.best_epoch, "best_metrics": result.best_metrics,
                "history": result.history}, checkpoint_path)
        epochs.set_postfix(loss=f"{train['loss']:.3f}", val_f1=f"{validation['macro_f1']:.3f}",
                           best=result.best_epoch)
        logger.debug("epoch %d: %s", epoch, row)
        if (epoch >= config.min_epochs
                and epoch - result.best_epoch >= config.early_stopping_patience):
            logger.info("early stop at epoch %d: no macro-F1 gain in %d epochs", epoch,
                        config.early_stopping_patience)
            result.stopped_early = True
            break
    model.load_state_dict(best_state)
    if checkpoint_path is not None:
        checkpoint_path.unlink(missing_ok=True)
    return result


def _append_csv(path: Path, row: dict[str, float]) -> None:
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})


def read_history(path: str | Path) -> dict[str, list[float]]:
    """The per-epoch log written by :func:`fit`, as columns (name -> one value per epoch).

    Raises
    ------
    DeepAudioError
        The file is missing or is not such a log.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
    except OSError as error:
        raise DeepAudioError(f"cannot read training history '{path}': "
                             f"{error.strerror}") from error
    if not rows or "epoch" not in rows[0]:
        raise DeepAudioError(f"'{path}' is not a training history (no 'epoch' column)")
    try:
        return {name: [float(row[name]) for row in rows] for name in rows[0]}
    except (TypeError, ValueError) as error:
        raise DeepAudioError(f"training history '{path}' holds a bad value: {error}") from error
