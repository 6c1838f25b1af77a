"""The whole state of a training run: what a checkpoint holds and a resumed run restores."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader


class TrainingState:
    """Model, optimiser, schedule, loss scaler, random states, best epoch and history.

    :meth:`record` adds an epoch's row and keeps the best epoch's weights (highest
    validation metric ``key``, macro-F1 or mAP; ties to the lower validation loss).
    :meth:`state_dict` is plain data (tensors, numbers, strings, lists, dicts), so a
    checkpoint loads with ``weights_only=True``; :meth:`load_state_dict` puts a run back
    where it stopped, random states included, so it goes on as if it had never stopped.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                 scaler: torch.amp.GradScaler, *, train_loader: DataLoader,
                 device: torch.device, key: str = "val_macro_f1"):
        self.model, self.optimizer, self.scheduler, self.scaler = (model, optimizer,
                                                                   scheduler, scaler)
        self.generator = train_loader.generator
        self.device = device
        self.key = key
        self.epoch = 0
        self.history: list[dict[str, float]] = []
        self.best_epoch = 0
        self.best_key: tuple[float, float] | None = None
        self.best_metrics: dict[str, Any] = {}
        self.best_weights: dict[str, torch.Tensor] | None = None

    def record(self, row: dict[str, float], **details: Any) -> bool:
        """Add an epoch's row; True when that epoch is the best so far, whose metrics
        are then the row and ``details`` (plain data: a confusion matrix, thresholds)."""
        self.epoch = row["epoch"]
        self.history.append(row)
        key = (row[self.key], -row["val_loss"])
        if self.best_key is not None and key <= self.best_key:
            return False
        self.best_key, self.best_epoch = key, row["epoch"]
        self.best_metrics = {**row, **details}
        self.best_weights = copy.deepcopy(self.model.state_dict())
        return True

    def state_dict(self) -> dict[str, Any]:
        cuda = self.device.type == "cuda"
        return {
            "epoch": self.epoch, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(), "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if cuda else None,
            "loader_rng": self.generator.get_state() if self.generator is not None else None,
            "best_state": self.best_weights, "best_key": list(self.best_key),
            "best_epoch": self.best_epoch, "best_metrics": self.best_metrics,
            "history": self.history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        if self.generator is not None and state["loader_rng"] is not None:
            self.generator.set_state(state["loader_rng"])
        self.epoch, self.history = state["epoch"], state["history"]
        self.best_weights, self.best_key = state["best_state"], tuple(state["best_key"])
        self.best_epoch, self.best_metrics = state["best_epoch"], state["best_metrics"]
