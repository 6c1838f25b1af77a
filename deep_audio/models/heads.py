"""The head of a classifier: hidden linear layers and an output layer for the classes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from deep_audio.config import ModelConfig


class Head(nn.Module):
    """Dropout-Linear-LeakyReLU hidden layers, then a linear output layer.

    Parameters
    ----------
    in_features, n_classes : int
    hidden_units, dropout : sequence
        One dropout probability per hidden layer (none: a linear head).
    output_activation : bool
        LeakyReLU on the logits, as in the seed talk's network.

    Layers are ``linear_layer1`` ... ``linear_layer{N+1}`` (the names of the seed CNN's
    linear layers). Shapes: ``(batch, in_features)`` in, ``(batch, n_classes)`` out.
    """

    def __init__(self, in_features: int, n_classes: int, *, hidden_units: Sequence[int] = (),
                 dropout: Sequence[float] = (), output_activation: bool = False):
        super().__init__()
        self.in_features = in_features
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.dropout = tuple(float(p) for p in dropout)
        self.output_activation = bool(output_activation)
        size = in_features
        for index, (units, p) in enumerate(zip(self.hidden_units, self.dropout), start=1):
            self.add_module(f"linear_layer{index}", nn.Sequential(
                nn.Dropout(p), nn.Linear(size, units), nn.LeakyReLU()))
            size = units
        output = [nn.Linear(size, n_classes)]
        if output_activation:
            output.append(nn.LeakyReLU())
        self.add_module(f"linear_layer{len(self.hidden_units) + 1}", nn.Sequential(*output))

    @classmethod
    def from_config(cls, config: ModelConfig, in_features: int, n_classes: int) -> Head:
        return cls(in_features, n_classes, hidden_units=config.hidden_units,
                   dropout=config.dropout, output_activation=config.output_activation)

    def settings(self) -> dict[str, Any]:
        """Plain data that rebuilds the head (with its ``state_dict``)."""
        return {"in_features": self.in_features, "n_classes": self.output.out_features,
                "hidden_units": list(self.hidden_units), "dropout": list(self.dropout),
                "output_activation": self.output_activation}

    @property
    def output(self) -> nn.Linear:
        return self.layers()[-1][0]

    def layers(self) -> list[nn.Sequential]:
        return [getattr(self, f"linear_layer{i}") for i in range(1, len(self.hidden_units) + 2)]

    def embedding_sizes(self) -> dict[str, int]:
        """The hidden layers as embeddings: ``linear1``, ``linear2``, ..."""
        return {f"linear{i}": units for i, units in enumerate(self.hidden_units, start=1)}

    def hidden(self, x: torch.Tensor, n_layers: int) -> torch.Tensor:
        """The output of the first ``n_layers`` hidden layers."""
        for layer in self.layers()[:n_layers]:
            x = layer(x)
        return x

    def with_new_output(self, n_classes: int) -> Head:
        """A copy with these hidden layers (weights shared with a deep copy of this
        head) and a zero-initialised output layer for ``n_classes``: a new task starts
        from uniform posteriors however large the hidden activations are."""
        import copy

        head = Head(self.in_features, n_classes, hidden_units=self.hidden_units,
                    dropout=self.dropout, output_activation=self.output_activation)
        for mine, theirs in zip(head.layers()[:-1], self.layers()[:-1]):
            mine.load_state_dict(copy.deepcopy(theirs.state_dict()))
        nn.init.zeros_(head.output.weight)
        nn.init.zeros_(head.output.bias)
        return head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers():
            x = layer(x)
        return x


class FrameHead(nn.Module):
    """Logits per frame and, by attention pooling, per clip: the head of a
    :class:`~deep_audio.tasks.FrameDetection` model.

    ``(batch, frames, in_features)`` -> optionally a bidirectional GRU of
    ``recurrent_units`` per direction (the CRNN) -> a linear layer per frame: frame
    logits ``(batch, frames, n_classes)``. :meth:`clip_logits` pools them to the clip
    ``(batch, n_classes)``: per class a learned attention, softmax over time, weights the
    frame probabilities (so a clip label can train where in time it sounds). Training
    takes both (:meth:`outputs`): the frame loss where a clip has events (strong labels),
    the clip loss where it has labels only (weak; :class:`~deep_audio.tasks.FrameDetection`).
    """

    kind = "frame"

    def __init__(self, in_features: int, n_classes: int, *, recurrent_units: int = 0,
                 dropout: float = 0.0):
        super().__init__()
        self.in_features = int(in_features)
        self.recurrent_units = int(recurrent_units)
        self.dropout = nn.Dropout(float(dropout))
        self.recurrent = (nn.GRU(in_features, recurrent_units, batch_first=True,
                                 bidirectional=True) if recurrent_units else None)
        size = 2 * recurrent_units if recurrent_units else in_features
        self.output = nn.Linear(size, n_classes)
        self.attention = nn.Linear(size, n_classes)

    @classmethod
    def from_config(cls, config: ModelConfig, in_features: int, n_classes: int) -> FrameHead:
        return cls(in_features, n_classes, recurrent_units=config.frame_recurrent_units,
                   dropout=config.dropout[-1] if config.dropout else 0.0)

    def settings(self) -> dict[str, Any]:
        """Plain data that rebuilds the head (with its ``state_dict``); ``kind`` tells
        the model file it is this head."""
        return {"kind": self.kind, "in_features": self.in_features,
                "n_classes": self.output.out_features,
                "recurrent_units": self.recurrent_units, "dropout": self.dropout.p}

    def layers(self) -> list[nn.Module]:
        """One unit for :meth:`Classifier.freeze`: the output layer always trains."""
        return [self]

    def embedding_sizes(self) -> dict[str, int]:
        return {}

    def _hidden(self, frames: torch.Tensor) -> torch.Tensor:
        frames = self.dropout(frames)
        if self.recurrent is not None:
            frames = self.recurrent(frames)[0]
        return frames

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, in_features)`` -> frame logits ``(batch, frames, n_classes)``."""
        return self.output(self._hidden(frames))

    def clip_logits(self, frames: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, in_features)`` -> clip logits ``(batch, n_classes)``: the
        logit of the attention-weighted mean of the frame probabilities."""
        return self.outputs(frames)[1]

    def outputs(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame logits ``(batch, frames, n_classes)`` and clip logits ``(batch,
        n_classes)`` from one pass of ``(batch, frames, in_features)``."""
        hidden = self._hidden(frames)
        logits = self.output(hidden)
        weights = self.attention(hidden).float().softmax(dim=1)
        probability = (weights * logits.float().sigmoid()).sum(dim=1)
        return logits, torch.logit(probability.clamp(1e-7, 1 - 1e-7))
