"""The one classifier: a backbone, a head for the classes, and the task they serve."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deep_audio.config import Config
from deep_audio.data.plan import SegmentPlan
from deep_audio.errors import ConfigError, DeepAudioError
from deep_audio.models.backbones import Backbone, freeze_blocks
from deep_audio.models.heads import FrameHead, Head
from deep_audio.models.seed import SeedBackbone
from deep_audio.tasks import FrameDetection, SingleLabel, Task

# The config sections that decide what a deep_audio model computes from a waveform: a
# model's embeddings and outputs mean the same only under the same settings of these.
FEATURE_SECTIONS = ("front_end", "segments", "model")


class Classifier(nn.Module):
    """``Classifier(config, class_names, backbone, head, task)``: waveform in, logits out.

    Carries its settings (``config``), ``class_names``, ``task`` (what the outputs mean:
    :mod:`deep_audio.tasks`) and segment plan (``plan``: how a file is read and cut) as
    plain attributes, so a loaded model is all that inference needs; ``metadata`` (plain
    data from the model file) and ``path`` (the file it was read from, or ``None``) too.

    With no class names (and no head) it is an *embedder*: a pretrained backbone as it
    came from its checkpoint, for embeddings and as a source for transfer learning.

    Transfer strategies and :meth:`freeze` count *units*: the backbone's feature blocks,
    its head blocks (CNN14's ``fc1``), then the head's layers; the output layer always
    trains. Frozen units stay in eval mode, so BatchNorm keeps its statistics.

    Shapes: ``(batch, segment_samples)`` in, ``(batch, n_classes)`` out; with a
    :class:`~deep_audio.models.heads.FrameHead` (a :class:`~deep_audio.tasks.FrameDetection`
    task) frame logits ``(batch, frames, n_classes)`` out, and :meth:`clip_logits`.
    """

    def __init__(self, config: Config, class_names: Sequence[str], backbone: Backbone,
                 head: Head | FrameHead | None = None, task: Task = SingleLabel(), *,
                 metadata: Mapping[str, Any] | None = None,
                 path: str | os.PathLike | None = None):
        super().__init__()
        if len(class_names) == 1 or bool(class_names) != (head is not None):
            raise ConfigError(f"a classifier needs a head and at least two classes, or "
                              f"neither; got classes {list(class_names)}")
        if config.front_end != backbone.front_end_config():
            raise ConfigError(f"the config's front end {config.front_end} is not the "
                              f"{backbone.name} backbone's {backbone.front_end_config()}")
        self.config = config
        self.class_names = list(class_names)
        self.task = task
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.path: Path | None = None if path is None else Path(path)
        self.plan = SegmentPlan.from_config(config)
        self.segment_samples = self.plan.segment_samples
        backbone.check_segment(self.segment_samples)
        self.backbone = backbone
        self.head = head
        self.frozen_layers = 0
        if isinstance(head, FrameHead) != isinstance(task, FrameDetection):
            wanted = "a frame head" if isinstance(task, FrameDetection) else "a clip head"
            raise ConfigError(f"a {task.name} task needs {wanted}, not {type(head).__name__}")

    @property
    def frame_level(self) -> bool:
        """Outputs per frame ``(batch, frames, n_classes)``."""
        return isinstance(self.head, FrameHead)

    @classmethod
    def seed(cls, config: Config, class_names: Sequence[str], task: Task = SingleLabel()
             ) -> Classifier:
        """A new (untrained) model of deep_audio's own network, shaped by ``config``; a
        frame task gets frames of ``config.model.frame_time_pooling`` and a
        :class:`FrameHead` (its ``frame_seconds`` set from the backbone)."""
        if isinstance(task, FrameDetection):
            backbone = SeedBackbone.for_frames(config)
            head = FrameHead.from_config(config.model, backbone.frame_size,
                                         len(class_names))
            return cls(config, class_names, backbone, head,
                       task.with_frame_seconds(backbone.frame_seconds))
        backbone = SeedBackbone.from_config(config)
        return cls(config, class_names, backbone,
                   Head.from_config(config.model, backbone.head_input_size, len(class_names)),
                   task)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """What :meth:`forward_features` takes for one segment (a log-mel image: ``(1,
        frames, n_mels)``)."""
        with torch.no_grad():
            probe = torch.zeros(1, self.segment_samples, device=next(self.buffers()).device)
            return tuple(self.backbone.features(probe).shape[1:])

    @property
    def n_blocks(self) -> int:
        """Feature blocks of the backbone: strategy 0 freezes them all, 1 all but one."""
        return len(self.backbone.blocks())

    def layers(self) -> list[list[nn.Module]]:
        """The units :meth:`freeze` counts, in network order."""
        head = [[layer] for layer in self.head.layers()] if self.head is not None else []
        return self.backbone.blocks() + self.backbone.head_blocks() + head

    def freeze(self, n_layers: int) -> None:
        """Stop training the first ``n_layers`` units, weights and BatchNorm statistics."""
        n_total = len(self.layers())
        if not 0 <= n_layers < n_total:
            raise ConfigError(f"n_layers={n_layers} must be in [0, {n_total - 1}]: the "
                              f"network has {n_total} layers ({self.n_blocks} feature "
                              "blocks) and the output layer always trains")
        self.frozen_layers = n_layers
        freeze_blocks(self.layers(), n_layers)
        self.train(self.training)

    def train(self, mode: bool = True) -> Classifier:
        super().train(mode)
        for block in self.layers()[:self.frozen_layers]:
            for module in block:
                module.eval()
        return self

    def embedding_sizes(self) -> dict[str, int]:
        """The backbone's embeddings, then the head's hidden layers (``linear1``, ...)."""
        head = self.head.embedding_sizes() if self.head is not None else {}
        return {**self.backbone.embedding_sizes(), **head}

    def embed(self, waveform: torch.Tensor, layer: str) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, embedding_sizes()[layer])``."""
        sizes = self.embedding_sizes()
        if layer not in sizes:
            raise DeepAudioError(f"layer={layer!r} is not one of {', '.join(sizes)}")
        features = self.backbone.features(waveform)
        if layer in self.backbone.embedding_sizes():
            return self.backbone.embed_features(features, layer)
        return self.head.hidden(self.backbone.head_input(features),
                                int(layer.removeprefix("linear")))

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """The backbone's front end (what augmentation works on)."""
        return self.backbone.features(waveform)

    def forward_features(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from :meth:`features`."""
        if self.head is None:
            raise DeepAudioError(
                f"the {self.backbone.name} backbone from '{self.path}' has no head for "
                "classes: use it for embeddings (embed, deep-feature-train) or train one "
                "with transfer learning")
        if self.frame_level:
            return self.head(self.backbone.frames_from_features(features))
        return self.head(self.backbone.head_input(features))

    def training_logits(self, features: torch.Tensor) -> torch.Tensor:
        """What the task's loss takes, from :meth:`features`: the logits; a frame model's
        frame logits with its attention-pooled clip logits as one more row, ``(batch,
        frames + 1, n_classes)`` (the targets' layout, :class:`~deep_audio.tasks.
        FrameDetection`)."""
        if not self.frame_level:
            return self.forward_features(features)
        frame_logits, clip_logits = self.head.outputs(
            self.backbone.frames_from_features(features))
        return torch.cat([frame_logits, clip_logits[:, None].to(frame_logits.dtype)], dim=1)

    def clip_logits(self, waveform: torch.Tensor) -> torch.Tensor:
        """A frame model's clip logits ``(batch, n_classes)``, attention-pooled."""
        if not self.frame_level:
            raise DeepAudioError("clip_logits is for frame-level models; forward gives "
                                 "this model's clip logits")
        return self.head.clip_logits(self.backbone.frames_from_features(
            self.backbone.features(waveform)))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.forward_features(self.backbone.features(waveform))

    def posteriors(self, waveform: torch.Tensor) -> torch.Tensor:
        """The task's posteriors (softmax or sigmoids), float32."""
        return self.task.activation(self(waveform).float())
