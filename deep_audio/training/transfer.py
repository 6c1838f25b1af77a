"""Transfer learning: reuse a trained network for new classes.

The source is a deep_audio model file or a pretrained backbone's published checkpoint
(``backbone="panns_cnn14_16k"``, ``"hf"``; see :mod:`deep_audio.models.backbones`). The
new model keeps the source's backbone (its front end and weights) and puts a new linear
head, zero-initialised, on the backbone's pooled embedding (of the seed network the last
conv block pooled over time per channel and band, by ``transfer.head_pooling``: its
maximum, ``conv_bands_max``, or mean, ``conv_bands``; ``linear1`` of CNN14), for the new
classes and the new task (single- or multi-label, whatever the source was). A manifest
of onsets and offsets gets a frame detector on the source's conv weights instead
(:func:`frame_transfer_model`; docs/frame_detection.md). With ``head: source`` (the
``transfer`` settings) it keeps the hidden layers of a deep_audio source's head instead,
under a new output layer: how transfer worked before issue 19, and worse on every
benchmark task (docs/transfer_benchmark.md). What trains:

===========  ==========================================================================
strategy     units that train (the rest keep their weights and BatchNorm statistics)
===========  ==========================================================================
0            the head; every feature block of the backbone is frozen (default)
1            the last feature block and the head
2            everything (fine-tuning), at the lower ``fine_tune_learning_rate``
===========  ==========================================================================

``layers_frozen=N`` freezes exactly the first N units instead (feature blocks, then
CNN14's ``fc1``, then the head's hidden layers; the output layer always trains).
Strategies 0 and 1 and any ``layers_frozen > 0`` train at ``transfer_learning_rate``.

The settings that decide the features come from the source: a deep_audio model's front
end, segments and conv blocks; a pretrained backbone's front end (its segments are the
config's).

A few clips per class need another schedule than a large training set (see
:func:`few_shot_schedule`): at least ``min_steps`` optimiser steps however few the
segments; below ``few_shot_files_per_class`` files in a class no file is held out (every
file trains, the schedule runs to its end and the last epoch is kept, as validation on
one or two files per class would choose an epoch by noise); a frozen backbone's head
trains with ``head_weight_decay`` (an L2 penalty on standardised inputs, as a linear
probe has). While every feature block is frozen and nothing augments, each segment's
head input is computed once and reused (:func:`cached_head_inputs`).

While it trains, every trainable linear layer of the head sees standardised inputs (see
:class:`StandardizedLinear`): embeddings and a source's hidden activations can be large
(mean magnitude about 55 after ``linear2`` of ``pretrained_gm16``), and one optimiser step
on raw inputs of that size moves the outputs far. The standardisation is an exact
reparametrisation, folded back into plain ``nn.Linear`` weights in every saved model.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import logging
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from deep_audio.config import (
    Config,
    TrainingConfig,
    TransferConfig,
    leaf_names,
    load_config,
    override,
    seconds_to_samples,
)
from deep_audio.data import SegmentDataset
from deep_audio.data.manifest import Manifest
from deep_audio.errors import ConfigError, DeepAudioError
from deep_audio.io.model_files import load_model
from deep_audio.models import Classifier, FrameHead, Head
from deep_audio.models.classifier import FEATURE_SECTIONS
from deep_audio.models.registry import SEED_BACKBONE, check_backbone_name, default_source_model
from deep_audio.models.seed import SeedBackbone
from deep_audio.tasks import FrameDetection, SingleLabel, Task
from deep_audio.training.augment import Augmentation
from deep_audio.training.train import (
    PreparedData,
    TrainingResult,
    load_manifest,
    prepare_data,
    run_training,
    task_for,
    training_session,
)

logger = logging.getLogger(__name__)

STRATEGIES = {
    0: "freeze every feature block (weights and BatchNorm statistics); train the head",
    1: "freeze all feature blocks but the last; train the last block and the head",
    2: "train every layer (fine-tuning) at the lower fine-tune learning rate",
}


def frozen_layers_for(strategy: int, n_blocks: int) -> int:
    """How many leading units a strategy freezes.

    >>> [frozen_layers_for(s, 4) for s in (0, 1, 2)]
    [4, 3, 0]
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy={strategy!r} must be one of: " + "; ".join(
            f"{key} = {text}" for key, text in STRATEGIES.items()))
    return {0: n_blocks, 1: n_blocks - 1, 2: 0}[strategy]


HEADS = ("embedding", "source")

# Settings of the model section that shape a frame detector's head and frames, not the
# source's weights: a transfer run takes them from its own settings.
FRAME_SETTINGS = ("frame_time_pooling", "frame_recurrent_units")


def transfer_model(source: Classifier, class_names: Sequence[str],
                   task: Task = SingleLabel(), *, layers_frozen: int,
                   config: Config | None = None, head: str = "embedding") -> Classifier:
    """A new classifier on a copy of ``source``'s backbone, the first ``layers_frozen``
    units frozen.

    ``head="embedding"``: a linear head on the backbone's ``default_layer`` embedding (a
    seed network that flattens its last block for its own head is rebuilt to average it
    over time instead: the same weights, ``conv_bands`` as head input). ``"source"``: the
    hidden layers of ``source``'s head (a linear head when it has none) under a new output
    layer. Either way the output layer is zero-initialised (uniform posteriors at the
    start, however large its inputs). ``config`` (default the source's) must have the
    backbone's front end; its ``model`` section is made to describe the new network.

    A :class:`~deep_audio.tasks.FrameDetection` task gets a frame detector instead (see
    :func:`frame_transfer_model`); ``head`` does not apply.
    """
    if head not in HEADS:
        raise ConfigError(f"head={head!r} must be one of {', '.join(HEADS)}")
    if isinstance(task, FrameDetection):
        model = frame_transfer_model(source, class_names, task, config=config)
        model.freeze(layers_frozen)
        return model
    backbone = copy.deepcopy(source.backbone)
    config = config or source.config
    if head == "source" and source.head is not None:
        new_head = source.head.with_new_output(len(class_names))
    else:
        if isinstance(backbone, SeedBackbone):
            backbone, config = _pooled_seed_backbone(backbone, config,
                                                     config.transfer.head_pooling)
        config = dataclasses.replace(config, model=dataclasses.replace(
            config.model, hidden_units=(), dropout=(), output_activation=False))
        new_head = Head(backbone.head_input_size, len(class_names))
        nn.init.zeros_(new_head.output.weight)
        nn.init.zeros_(new_head.output.bias)
    model = Classifier(config, class_names, backbone, new_head, task)
    model.freeze(layers_frozen)
    return model


def frame_transfer_model(source: Classifier, class_names: Sequence[str],
                         task: FrameDetection, *, config: Config | None = None
                         ) -> Classifier:
    """A frame detector on ``source``'s backbone and a new :class:`FrameHead` of
    ``config.model.frame_recurrent_units``, for segments of ``config.segments``.

    A deep_audio network is rebuilt with frames (``config.model.frame_time_pooling``;
    pooling has no weights, so every conv and BatchNorm value carries over) that keep the
    bands (``frame_bands``, as the clip head's ``conv_bands``: averaging them, as a
    detector trained from scratch does, loses what the frozen channels say about pitch).
    Another backbone brings its own frames (CNN14's decision-level 320 ms steps, a
    Hugging Face encoder's hidden states; :meth:`Backbone.frames_from_features`).
    """
    config = config or source.config
    if isinstance(source.backbone, SeedBackbone):
        samples = seconds_to_samples(config.segments.segment_seconds,
                                     config.front_end.sample_rate)
        backbone = SeedBackbone.from_settings({
            **source.backbone.settings(), "segment_samples": samples, "pooling": "time_mean",
            "time_pooling": config.model.frame_time_pooling, "frame_bands": True})
        backbone.load_state_dict(source.backbone.state_dict())
        backbone.to(next(source.backbone.buffers()).device)
        config = dataclasses.replace(config, model=dataclasses.replace(
            config.model, pooling="time_mean"))
    else:
        backbone = copy.deepcopy(source.backbone)
    head = FrameHead.from_config(config.model, backbone.frame_size, len(class_names))
    return Classifier(config, class_names, backbone, head,
                      task.with_frame_seconds(backbone.frame_seconds))


def _pooled_seed_backbone(backbone: SeedBackbone, config: Config, pooling: str
                          ) -> tuple[SeedBackbone, Config]:
    """The seed backbone with ``pooling`` (``time_max``: head input ``conv_bands_max``;
    ``time_mean``: ``conv_bands``), the same weights, and ``config`` saying so."""
    if backbone.pooling != pooling:
        pooled = SeedBackbone.from_settings({**backbone.settings(), "pooling": pooling})
        pooled.load_state_dict(backbone.state_dict())
        backbone = pooled.to(next(backbone.buffers()).device)
    return backbone, dataclasses.replace(config, model=dataclasses.replace(
        config.model, pooling=pooling))


class StandardizedLinear(nn.Module):
    """A linear layer trained on standardised inputs: ``weight @ ((x - mean) / std) + bias``.

    Made from an ``nn.Linear``, it computes the same function; only the parameters that
    the optimiser sees change, to those of standardised inputs. ``mean`` and ``std``
    (shape ``(in_features,)``) are fixed. ``state_dict`` gives and ``load_state_dict``
    takes the folded, plain ``nn.Linear`` weight and bias (same keys), so a model saved
    while training is a plain model.
    """

    def __init__(self, linear: nn.Linear, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        # Not in the state_dict: the folded weights stand alone.
        self.register_buffer("mean", mean.detach().to(linear.weight), persistent=False)
        self.register_buffer("std", std.detach().to(linear.weight), persistent=False)
        weight, bias = self._unfold(linear.weight.detach(), linear.bias.detach())
        self.weight = nn.Parameter(weight, requires_grad=linear.weight.requires_grad)
        self.bias = nn.Parameter(bias, requires_grad=linear.bias.requires_grad)

    def _unfold(self, weight: torch.Tensor, bias: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Plain ``nn.Linear`` weight and bias -> those of standardised inputs."""
        # float64: the bias absorbs a sum over thousands of inputs of large mean
        mean, std = self.mean.double(), self.std.double()
        weight64 = weight.to(mean)
        return ((weight64 * std).to(weight.dtype),
                (bias.to(mean) + weight64 @ mean).to(bias.dtype))

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The plain ``nn.Linear`` weight and bias that compute the same function."""
        weight64 = self.weight.detach().double() / self.std.double()
        bias64 = self.bias.detach().double() - weight64 @ self.mean.double()
        return weight64.to(self.weight.dtype), bias64.to(self.bias.dtype)

    def to_linear(self) -> nn.Linear:
        """A plain ``nn.Linear`` with the folded weights (and ``requires_grad``)."""
        linear = nn.Linear(self.in_features, self.out_features, device=self.weight.device,
                           dtype=self.weight.dtype)
        weight, bias = self.folded()
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        linear.weight.requires_grad_(self.weight.requires_grad)
        linear.bias.requires_grad_(self.bias.requires_grad)
        return linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear((x - self.mean) / self.std, self.weight, self.bias)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        destination[prefix + "weight"], destination[prefix + "bias"] = self.folded()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # load_state_dict passes its own copy of the dict: rewriting entries is safe
        if prefix + "weight" in state_dict and prefix + "bias" in state_dict:
            weight, bias = self._unfold(state_dict[prefix + "weight"].to(self.weight),
                                        state_dict[prefix + "bias"].to(self.bias))
            state_dict[prefix + "weight"], state_dict[prefix + "bias"] = weight, bias
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def _head_linears(model: Classifier) -> list[tuple[nn.Sequential, int]]:
    """(layer, index in it) of each linear module of the head, in network order (none
    of a frame head: it sees the BatchNorm-scaled conv frames)."""
    return [(layer, index) for layer in model.head.layers() if isinstance(layer, nn.Sequential)
            for index, module in enumerate(layer)
            if isinstance(module, (nn.Linear, StandardizedLinear))]


@torch.no_grad()
def head_input_statistics(model: Classifier, dataset: Dataset, *, batch_size: int,
                          device: torch.device, min_std: float = 1e-3
                          ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Mean and standard deviation of the inputs of each head linear layer, per feature.

    Measured over ``dataset``'s segments (waveform, label) with the network in eval mode,
    so that the statistics describe what the layers see at inference. ``std`` is at
    least ``min_std`` times the layer's root-mean-square input, so that a constant
    feature cannot blow up (its standardised value under Dropout would be
    ``-mean / std``).
    """
    linears = [layer[index] for layer, index in _head_linears(model)]
    sums = [torch.zeros(m.in_features, dtype=torch.float64, device=device) for m in linears]
    squares = [torch.zeros_like(s) for s in sums]
    count = 0

    def hook(position: int):
        def accumulate(_module, inputs):
            x = inputs[0].double()
            sums[position].add_(x.sum(dim=0))
            squares[position].add_((x * x).sum(dim=0))
        return accumulate

    handles = [m.register_forward_pre_hook(hook(i)) for i, m in enumerate(linears)]
    was_training = model.training
    model.eval()
    try:
        # its own generator: measuring must not draw from the global RNG
        for waveform, _ in DataLoader(dataset, batch_size=batch_size,
                                      generator=torch.Generator()):
            model(waveform.to(device))
            count += len(waveform)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    statistics = []
    for total, square in zip(sums, squares):
        mean = total / count
        variance = (square / count - mean * mean).clamp_min(0)
        floor = min_std * (square / count).mean().sqrt().clamp_min(1e-12)
        statistics.append((mean.float(), variance.sqrt().clamp_min(floor).float()))
    return statistics


def standardize_head(model: Classifier, dataset: Dataset, *, batch_size: int,
                     device: torch.device) -> int:
    """Replace each trainable linear layer of the head by a :class:`StandardizedLinear`.

    The statistics come from ``dataset`` (the target's training segments) through the
    network as it is; the model computes exactly the same function afterwards, and its
    ``state_dict`` keeps the plain keys and folded values. Returns how many layers were
    replaced. :func:`fold_head` undoes it.
    """
    statistics = head_input_statistics(model, dataset, batch_size=batch_size, device=device)
    replaced = 0
    for (layer, index), (mean, std) in zip(_head_linears(model), statistics):
        linear = layer[index]
        if isinstance(linear, nn.Linear) and linear.weight.requires_grad:
            layer[index] = StandardizedLinear(linear, mean, std)
            replaced += 1
    return replaced


def fold_head(model: Classifier) -> None:
    """Replace every :class:`StandardizedLinear` of the head by its plain ``nn.Linear``."""
    for layer, index in _head_linears(model):
        if isinstance(layer[index], StandardizedLinear):
            layer[index] = layer[index].to_linear()


def transfer_learning(model: str | os.PathLike | None,
                      folders: Sequence[str | os.PathLike] | None = None,
                      strategy: int = 0, *, output: str | os.PathLike | None = None,
                      layers_frozen: int | None = None,
                      manifest: str | os.PathLike | Manifest | None = None,
                      audio_root: str | os.PathLike | None = None,
                      config: Config | None = None, progress: bool = True,
                      backbone: str | None = None,
                      unlabelled: Sequence[str | os.PathLike] = (),
                      resume: bool = False, **overrides: Any) -> TrainingResult:
    """Train a new classifier for ``folders`` (or ``manifest``) on top of the trained
    model file ``model``.

    Parameters
    ----------
    model : str or PathLike or None
        Source model file: a deep_audio model, or with ``backbone`` that backbone's
        published checkpoint (PANNs ``.pth``; Hugging Face folder or hub id). ``None``:
        the shipped general network (``transfer.source_model``, docs/pretrained.md).
    folders : sequence of paths
        One folder per new class, named as the class.
    manifest, audio_root : optional
        Instead of ``folders``: a manifest of clips and labels (see
        :func:`~deep_audio.training.train_model`); clips with several labels make the
        new model multi-label (also ``task="multi_label"``), whatever the source was.
    strategy : {0, 1, 2}
        Which units train; see the module docstring. Ignored when ``layers_frozen``
        is given.
    output : str or PathLike, optional
        New model name or path; default ``<source name>_transfer``.
    layers_frozen : int, optional
        Freeze exactly this many leading units instead of a strategy.
    config : Config, optional
        Training settings (epochs, batch size, device, transfer learning rates...).
    backbone : str, optional
        ``seed_cnn`` (default: ``model`` is a deep_audio model file), ``panns_cnn14``,
        ``panns_cnn14_16k`` or ``hf`` (see :mod:`deep_audio.models.backbones`).
    unlabelled : sequence of paths
        Folders of clips without labels for a frame detector (mean teacher), as in
        :func:`~deep_audio.training.train_model`.
    resume : bool
        Continue an interrupted run from its checkpoint (``<output>.checkpoint.pt``), as
        :func:`~deep_audio.training.train_model` does: a long transfer, such as further
        pretraining on a corpus, survives a stop.
    **overrides
        Single settings by name. Naming a setting that decides the features (see the
        module docstring) with a value other than the source's is an error.

    Examples
    --------
    >>> transfer_learning("models/pretrained_gm16.pt", ["data/negative", "data/positive"],
    ...                   strategy=0)  # doctest: +SKIP
    >>> transfer_learning("Cnn14_16k_mAP=0.438.pth", ["data/negative", "data/positive"],
    ...                   strategy=0, backbone="panns_cnn14_16k")  # doctest: +SKIP
    """
    if (folders is None) == (manifest is None):
        raise DeepAudioError("transfer_learning needs class folders or a manifest")
    manifest = None if manifest is None else load_manifest(manifest, audio_root)
    pretrained = check_backbone_name(backbone) != SEED_BACKBONE
    base = config or load_config()
    settings = override(base, **{key: value for key, value in overrides.items()
                                 if _section_of(key, base) not in FEATURE_SECTIONS
                                 or key.split(".")[-1] in FRAME_SETTINGS})
    # A frame detector's frames and segment length are its own: the convolutions take any.
    frames = isinstance(task_for(settings, manifest), FrameDetection)
    free = FRAME_SETTINGS + (tuple(f.name for f in dataclasses.fields(settings.segments))
                            if frames else ())
    if frames:
        settings = override(settings, **{key: value for key, value in overrides.items()
                                         if _section_of(key, base) == "segments"})
    if model is None:
        if pretrained:
            raise DeepAudioError(f"backbone={backbone!r} needs its checkpoint as the model")
        model = default_source_model(settings)
    source = load_model(model, backbone=backbone, config=settings)
    fixed = ("front_end",) if pretrained else FEATURE_SECTIONS
    _refuse_feature_changes(source, overrides, fixed, str(model), free=free)
    n_frozen = (layers_frozen if layers_frozen is not None
                else frozen_layers_for(strategy, source.n_blocks))
    learning_rate = (settings.transfer.fine_tune_learning_rate if n_frozen == 0
                     else settings.transfer.transfer_learning_rate)
    config = dataclasses.replace(settings, **{
        section: getattr(source.config, section) for section in fixed})
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, **{
        name: getattr(settings.model, name) for name in FRAME_SETTINGS}))
    if frames:
        config = dataclasses.replace(config, segments=settings.segments)
    config = override(config, learning_rate=learning_rate)
    task = task_for(config, manifest, frame_seconds=(  # a pretrained backbone's own frames
        source.backbone.frame_seconds if frames and not isinstance(source.backbone, SeedBackbone)
        else None))
    transfer = config.transfer

    with training_session(config.training) as (device, distributed):  # DDP under torchrun
        data = prepare_data(folders, config, task, distributed=distributed, manifest=manifest,
                            unlabelled=unlabelled)
        few_shot = _files_per_class(data) < transfer.few_shot_files_per_class
        if few_shot:
            data = train_on_every_file(data, config)
        head_only = n_frozen >= source.n_blocks
        config = dataclasses.replace(config, training=few_shot_schedule(
            config.training, transfer, train_segments=len(data.train_set),
            few_shot=few_shot, head_only=head_only))
        new_model = transfer_model(source, data.class_names, task, layers_frozen=n_frozen,
                                   config=config, head=transfer.head).to(device)
        source_classes = list(source.class_names)
        del source
        standardize_head(new_model, data.train_set, batch_size=config.training.batch_size,
                         device=device)
        trainable = sum(p.numel() for p in new_model.parameters() if p.requires_grad)
        training = config.training
        logger.info("transfer from %s (%s): %d of %d units frozen, %d trainable "
                    "parameters, lr %g, %d epochs of %d segments%s", model,
                    new_model.backbone.name, n_frozen, len(new_model.layers()), trainable,
                    learning_rate, training.epochs, len(data.train_set),
                    ", few-shot: every file trains" if few_shot else "")
        provenance = {"source_model": str(model), "backbone": new_model.backbone.name,
                      "source_classes": source_classes,
                      "strategy": None if layers_frozen is not None else strategy,
                      "layers_frozen": n_frozen, "trainable_parameters": trainable,
                      "learning_rate": learning_rate, "head": transfer.head,
                      "few_shot": few_shot, "epochs": training.epochs,
                      "weight_decay": training.weight_decay}
        cache = (cached_head_inputs(new_model) if _head_input_is_fixed(new_model, config)
                 else contextlib.nullcontext())
        with cache:
            result = run_training(new_model, data,
                                  output or f"{Path(str(model)).stem}_transfer",
                                  metadata={"transfer": provenance}, progress=progress,
                                  distributed=distributed, resume=resume)
        fold_head(new_model)
        return result


def few_shot_schedule(training: TrainingConfig, transfer: TransferConfig, *,
                      train_segments: int, few_shot: bool, head_only: bool
                      ) -> TrainingConfig:
    """The training settings of a transfer run on ``train_segments`` segments.

    Epochs are raised so that training takes at least ``transfer.min_steps`` optimiser
    steps, and early stopping never ends it sooner; in a ``few_shot`` run (no file held
    out) it never stops early at all. When only the head trains (``head_only``), AdamW's
    weight decay is ``transfer.head_weight_decay``.

    >>> from deep_audio.config import load_config
    >>> config = load_config(min_steps=300, batch_size=16, epochs=20)
    >>> few_shot_schedule(config.training, config.transfer, train_segments=40,
    ...                   few_shot=True, head_only=True).epochs  # 3 steps per epoch
    100
    """
    steps_per_epoch = math.ceil(train_segments / training.batch_size)
    epochs_for_steps = math.ceil(transfer.min_steps / max(steps_per_epoch, 1))
    epochs = max(training.epochs, epochs_for_steps)
    changes: dict[str, Any] = {"epochs": epochs,
                               "min_epochs": max(training.min_epochs, epochs_for_steps)}
    if few_shot:
        changes.update(min_epochs=epochs, early_stopping_patience=epochs)
    if head_only:
        changes["weight_decay"] = transfer.head_weight_decay
    return dataclasses.replace(training, **changes)


def _files_per_class(data: PreparedData) -> int:
    """Files of the class with fewest (training and validation together)."""
    sets = [data.train_set] + ([] if data.validation_set is data.train_set
                               else [data.validation_set])
    labels = [label for dataset in sets for label in dataset.labels]
    n_classes = len(data.class_names)
    if labels and np.ndim(labels[0]) == 1:  # multi-label: files holding each class
        counts = np.nansum(np.asarray(labels, dtype=np.float64), axis=0)  # NaN: unlabelled
    else:
        counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes)
    return int(counts.min())


def train_on_every_file(data: PreparedData, config: Config) -> PreparedData:
    """``data`` with its validation files moved into training, and validation on the
    training set.

    With a few files per class, validating on one or two of them picks an epoch by noise
    and costs a fifth of the training data; instead every file trains and the epoch is
    chosen on the training files (their macro-F1 reaches its top early, and ties go to
    the lower loss, so in practice the last epoch). Data whose targets come from events
    (strong labels) keeps its split: the events are not kept with the segments.
    """
    train, validation = data.train_set, data.validation_set
    if validation is train or train.strong or validation.strong:
        return data
    merged = SegmentDataset(
        train.waveforms + validation.waveforms, train.labels + validation.labels,
        segment_samples=train.segment_samples,
        hop_samples=seconds_to_samples(config.segments.segment_hop_seconds,
                                       config.front_end.sample_rate))
    summary = {**data.summary, "train_files": len(merged.waveforms), "validation_files": 0,
               "train_segments": len(merged), "validation_segments": 0,
               "validation": "none (few-shot): every file trains; the reported metrics "
                             "are on the training files"}
    return dataclasses.replace(data, train_set=merged, validation_set=merged,
                               summary=summary)


def _head_input_is_fixed(model: Classifier, config: Config) -> bool:
    """Every backbone unit frozen, no augmentation, no compilation: a segment's head
    input is the same in every epoch."""
    backbone_units = len(model.backbone.blocks()) + len(model.backbone.head_blocks())
    augment = Augmentation.from_config(config.augmentation, config.front_end)
    return (model.frozen_layers >= backbone_units and not augment.enabled
            and not config.augmentation.background_folder
            and not config.training.compile_model)


@contextlib.contextmanager
def cached_head_inputs(model: Classifier, *, max_bytes: int = 1 << 30) -> Iterator[None]:
    """Within the block, the backbone computes each distinct segment's head input once:
    ``model.backbone.head_input(features)`` (a frame model's ``frames_from_features``)
    looks it up by a hash of the segment's features (the front end's output) after the
    first time.

    A frozen backbone without augmentation gives a segment the same head input in every
    epoch, yet ``fit`` would compute it again in every training and validation pass:
    with the few-shot schedule's many epochs, nearly all of a run's time. The hook sits
    on the backbone, which every path of ``fit`` goes through (``training_logits``,
    ``forward``). At most ``max_bytes`` of float32 inputs are kept. Shapes: features
    ``(batch, ...)`` in, ``(batch, head_input_size)`` (frames: ``(batch, frames,
    channels)``) out.
    """
    backbone = model.backbone
    name = "frames_from_features" if model.frame_level else "head_input"
    compute = getattr(backbone, name)
    cache: dict[bytes, np.ndarray] = {}
    kept_bytes = 0

    def cached(features: torch.Tensor) -> torch.Tensor:
        nonlocal kept_bytes
        rows = features.detach().float().cpu().reshape(len(features), -1).numpy()
        keys = [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in rows]
        missing = [i for i, key in enumerate(keys) if key not in cache]
        fresh: dict[bytes, np.ndarray] = {}
        if missing:
            with torch.no_grad():
                computed = compute(features[missing])
            fresh = dict(zip((keys[i] for i in missing), computed.float().cpu().numpy()))
            size = sum(value.nbytes for value in fresh.values())
            if kept_bytes + size <= max_bytes:
                cache.update(fresh)
                kept_bytes += size
        inputs = np.stack([cache[key] if key in cache else fresh[key] for key in keys])
        return torch.from_numpy(inputs).to(features.device)

    setattr(backbone, name, cached)  # an instance attribute: nothing that is saved changes
    try:
        yield
    finally:
        delattr(backbone, name)


def _section_of(key: str, config: Config) -> str | None:
    return key.split(".", 1)[0] if "." in key else leaf_names(config).get(key)


def _refuse_feature_changes(source: Classifier, overrides: dict[str, Any],
                            fixed: Sequence[str], source_name: str, *,
                            free: Sequence[str] = ()) -> None:
    """A setting of the ``fixed`` sections (but not one of ``free``) named with a value
    other than the source's is an error: a transferred model must see the input it was
    trained on."""
    for key, value in overrides.items():
        section = _section_of(key, source.config)
        if value is None or section not in fixed or key.split(".")[-1] in free:
            continue
        if override(source.config, **{key: value}) != source.config:
            name = key.split(".")[-1]
            current = getattr(getattr(source.config, section), name)
            raise ConfigError(
                f"{key}={value!r} cannot be used: the feature settings come from the source "
                f"'{source_name}' ({source.backbone.name}), which has {name}={current!r}; a "
                "transferred model must see the input it was trained on")
