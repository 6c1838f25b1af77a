"""A whole classifier: waveform in, class scores out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from deep_audio.config import Config
from deep_audio.features import LogMel, Normalize
from deep_audio.models.seed import SeedCNN
from deep_audio.data.plan import SegmentPlan

# The config sections that decide what a model computes from a waveform: a model's
# embeddings and outputs mean the same only under the same settings of these.
FEATURE_SECTIONS = ("front_end", "segments", "model")


class AudioClassifier(nn.Module):
    """Log-mel front-end, training-set normalisation and the CNN, in one module.

    Carries its settings (``config``), ``class_names`` and segment plan (``plan``: how
    a file is read and cut, :class:`~deep_audio.data.plan.SegmentPlan`) as plain
    attributes so that a loaded model is all that inference needs; ``metadata`` (plain
    data stored in the model file: best epoch, skipped files, ...) and ``path`` (the file
    it was loaded from, ``None`` for a model built in memory) are declared here too.

    Shapes: waveform segments ``(batch, segment_samples)`` in, logits
    ``(batch, n_classes)`` out, where ``segment_samples`` is
    ``config.segments.segment_seconds`` at ``config.front_end.sample_rate``.

    A multi-label model (``config.model.multi_label``: one sigmoid per class) also holds
    ``thresholds`` ``(n_classes,)``, a buffer (so it is saved with the weights): the
    per-class decision thresholds chosen on the validation set.
    """

    def __init__(self, config: Config, class_names: Sequence[str], *,
                 metadata: Mapping[str, Any] | None = None,
                 path: str | os.PathLike | None = None):
        super().__init__()
        if len(class_names) < 2:
            raise ValueError(f"a classifier needs at least two classes, got {list(class_names)}")
        self.config = config
        self.class_names = list(class_names)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.path: Path | None = None if path is None else Path(path)
        self.plan = SegmentPlan.from_config(config)
        self.segment_samples = self.plan.segment_samples
        self.front_end = LogMel.from_config(config.front_end)
        self.normalize = Normalize(config.front_end.n_mels)
        self.cnn = SeedCNN.from_config(
            config.model, n_classes=len(class_names),
            input_frames=self.front_end.n_frames(self.segment_samples),
            n_mels=config.front_end.n_mels)
        if config.model.multi_label:
            self.register_buffer("thresholds", torch.full((len(class_names),), 0.5))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """CNN input ``(1, frames, n_mels)`` of one segment."""
        return (1, self.front_end.n_frames(self.segment_samples), self.config.front_end.n_mels)

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel, ``(batch, samples)`` -> ``(batch, 1, frames, n_mels)``."""
        return self.normalize(self.front_end(waveform)).transpose(1, 2).unsqueeze(1)

    def embed(self, waveform: torch.Tensor, layer: str) -> torch.Tensor:
        """An inner layer's output, ``(batch, samples)`` -> ``(batch, size)``; see
        :meth:`SeedCNN.embed` for the layers and their sizes."""
        return self.cnn.embed(self.features(waveform), layer)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.cnn(self.features(waveform))
