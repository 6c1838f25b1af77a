"""Transfer learning: reuse a trained model's layers for new classes.

The new model takes the source's front-end settings, normalisation statistics and every
layer but the output layer, which is replaced for the new classes. What trains:

===========  ==========================================================================
strategy     parameters that train (the rest keep their weights and BatchNorm statistics)
===========  ==========================================================================
0            the linear layers; every conv block is frozen (default)
1            the last conv block and the linear layers
2            everything (fine-tuning), at the lower ``fine_tune_learning_rate``
===========  ==========================================================================

``layers_frozen=N`` freezes exactly the first N layers instead (conv blocks count first,
then the linear layers; the output layer always trains). Strategies 0 and 1 and any
``layers_frozen > 0`` train at ``transfer_learning_rate``.

The same holds for a pretrained backbone (``backbone="panns_cnn14_16k"``, ``"hf"``; see
:mod:`deep_audio.models.backbones`), read from its published checkpoint: its feature
*blocks* (CNN14's six conv blocks; a transformer's embedding stem and layers) play the
conv blocks' part, CNN14's ``fc1`` that of the seed's hidden linear layers, and a new
linear layer for the classes is the output layer. Strategy 0 freezes every block, 1 all
but the last, 2 none; ``layers_frozen=N`` the first N units (blocks, then ``fc1``). The
front end is the backbone's; the segment settings are the config's.

While it trains, every trainable linear layer of the head sees standardised inputs (see
:class:`StandardizedLinear`): the source's hidden activations are large (mean magnitude
about 55 after ``linear2`` of ``pretrained_gm16``), and one optimiser step on raw inputs
of that size moves the outputs far. The standardisation is an exact reparametrisation,
folded back into plain ``nn.Linear`` weights in every saved model.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from deep_audio.config import Config, leaf_names, load_config, override
from deep_audio.data.manifest import Manifest
from deep_audio.errors import ConfigError, DeepAudioError
from deep_audio.models import AudioClassifier, load_model
from deep_audio.models.backbones import (SEED_BACKBONE, BackboneClassifier,
                                         check_backbone_name, load_backbone_model)
from deep_audio.models.classifier import FEATURE_SECTIONS
from deep_audio.training.train import (TrainingResult, load_manifest, prepare_data,
                                       run_training, training_session)

logger = logging.getLogger(__name__)

STRATEGIES = {
    0: "freeze every conv block (weights and BatchNorm statistics); train the linear layers",
    1: "freeze all conv blocks but the last; train the last conv block and the linear layers",
    2: "train every layer (fine-tuning) at the lower fine-tune learning rate",
}


def frozen_layers_for(strategy: int, n_conv_blocks: int) -> int:
    """How many leading layers a strategy freezes.

    >>> [frozen_layers_for(s, 4) for s in (0, 1, 2)]
    [4, 3, 0]
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy={strategy!r} must be one of: " + "; ".join(
            f"{key} = {text}" for key, text in STRATEGIES.items()))
    return {0: n_conv_blocks, 1: n_conv_blocks - 1, 2: 0}[strategy]


def transfer_model(source: AudioClassifier, class_names: Sequence[str], *,
                   layers_frozen: int, config: Config | None = None,
                   multi_label: bool = False) -> AudioClassifier:
    """A new classifier with ``source``'s layers, a fresh output layer, and frozen layers.

    ``config`` gives the training settings; its front-end, segment and model sections
    are replaced by the source's, except ``multi_label``, which is the new task's (a
    tagger can start from a single-label model and back: only the output layer and its
    thresholds are new).
    """
    config = dataclasses.replace(config or source.config, **{
        section: getattr(source.config, section) for section in FEATURE_SECTIONS})
    config = dataclasses.replace(config, model=dataclasses.replace(
        config.model, multi_label=bool(multi_label)))
    model = AudioClassifier(config, class_names)
    output_layer = f"cnn.linear_layer{model.cnn.n_linear_layers}."
    state = {k: v for k, v in source.state_dict().items()
             if not k.startswith(output_layer) and k != "thresholds"}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith(output_layer) or k == "thresholds"
                                  for k in missing), (missing, unexpected)
    # The source's hidden activations are large (its head has no normalisation), so a
    # randomly initialised output layer starts with huge logits and a loss near 35 that
    # wrecks the first epochs; starting from zero weights starts from uniform posteriors.
    output = model.cnn.linear_layers()[-1][0]
    nn.init.zeros_(output.weight)
    nn.init.zeros_(output.bias)
    model.cnn.freeze(layers_frozen)
    return model


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


def transfer_backbone_model(source: BackboneClassifier, class_names: Sequence[str], *,
                            layers_frozen: int, config: Config | None = None
                            ) -> BackboneClassifier:
    """A new classifier on ``source``'s backbone (weights copied), a zero-initialised
    head for ``class_names``, and the first ``layers_frozen`` blocks frozen.

    ``config`` gives the training and segment settings; the front end is the backbone's.
    """
    import copy

    config = dataclasses.replace(config or source.config, front_end=source.config.front_end)
    model = BackboneClassifier(config, class_names, copy.deepcopy(source.backbone))
    output = model.head[0]
    nn.init.zeros_(output.weight)  # uniform posteriors at the start, as transfer_model
    nn.init.zeros_(output.bias)
    model.freeze(layers_frozen)
    return model


def _head_linears(model: AudioClassifier | BackboneClassifier
                  ) -> list[tuple[nn.Sequential, int]]:
    """(layer, index in it) of each linear module of the head, in network order."""
    head = (model.linear_layers() if isinstance(model, BackboneClassifier)
            else model.cnn.linear_layers())
    return [(layer, index) for layer in head
            for index, module in enumerate(layer)
            if isinstance(module, (nn.Linear, StandardizedLinear))]


@torch.no_grad()
def head_input_statistics(model: AudioClassifier, dataset: Dataset, *, batch_size: int,
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


def standardize_head(model: AudioClassifier, dataset: Dataset, *, batch_size: int,
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


def fold_head(model: AudioClassifier) -> None:
    """Replace every :class:`StandardizedLinear` of the head by its plain ``nn.Linear``."""
    for layer, index in _head_linears(model):
        if isinstance(layer[index], StandardizedLinear):
            layer[index] = layer[index].to_linear()


def transfer_learning(model: str | os.PathLike,
                      folders: Sequence[str | os.PathLike] | None = None,
                      strategy: int = 0, *, output: str | os.PathLike | None = None,
                      layers_frozen: int | None = None,
                      manifest: str | os.PathLike | Manifest | None = None,
                      audio_root: str | os.PathLike | None = None,
                      config: Config | None = None, progress: bool = True,
                      backbone: str | None = None, **overrides: Any) -> TrainingResult:
    """Train a new classifier for ``folders`` (or ``manifest``) on top of the trained
    model file ``model``.

    Parameters
    ----------
    model : str or PathLike
        Source model file: a deep_audio model, or with ``backbone`` that backbone's
        published checkpoint (PANNs ``.pth``; Hugging Face folder or hub id).
    folders : sequence of paths
        One folder per new class, named as the class.
    manifest, audio_root : optional
        Instead of ``folders``: a manifest of clips and labels (see
        :func:`~deep_audio.training.train_model`); clips with several labels make the
        new model multi-label (also ``multi_label=True``), whatever the source was.
    strategy : {0, 1, 2}
        Which layers train; see the module docstring. Ignored when ``layers_frozen``
        is given.
    output : str or PathLike, optional
        New model name or path; default ``<source name>_transfer``.
    layers_frozen : int, optional
        Freeze exactly this many leading layers instead of a strategy.
    config : Config, optional
        Training settings (epochs, batch size, device, transfer learning rates...).
        The front-end, segment and model settings always come from the source model.
    backbone : str, optional
        ``seed_cnn`` (default: ``model`` is a deep_audio model file), ``panns_cnn14``,
        ``panns_cnn14_16k`` or ``hf`` (see :mod:`deep_audio.models.backbones`).
    **overrides
        Single settings by name. Naming a front-end, segment or model setting with a
        value other than the source's is an error: the features cannot drift (with a
        pretrained backbone only the front end is fixed; segments are free).

    Examples
    --------
    >>> transfer_learning("models/pretrained_gm16.pt", ["data/negative", "data/positive"],
    ...                   strategy=0)  # doctest: +SKIP
    >>> transfer_learning("Cnn14_16k_mAP=0.438.pth", ["data/negative", "data/positive"],
    ...                   strategy=0, backbone="panns_cnn14_16k")  # doctest: +SKIP
    """
    if (folders is None) == (manifest is None):
        raise DeepAudioError("transfer_learning needs class folders or a manifest")
    multi_label = bool(overrides.pop("multi_label", None))  # the new task's, not a feature
    if manifest is not None:
        manifest = load_manifest(manifest, audio_root)
        multi_label = multi_label or manifest.multi_label
    if check_backbone_name(backbone) != SEED_BACKBONE:
        return _transfer_from_backbone(backbone, model, folders, strategy, output=output,
                                       layers_frozen=layers_frozen, config=config,
                                       progress=progress, manifest=manifest,
                                       multi_label=multi_label, **overrides)
    source_path = Path(model)
    source = load_model(source_path)
    _refuse_feature_changes(source, overrides, source_path)
    config = override(config or load_config(), **{
        key: value for key, value in overrides.items()
        if _section_of(key, config or source.config) not in FEATURE_SECTIONS})
    n_frozen = (layers_frozen if layers_frozen is not None
                else frozen_layers_for(strategy, source.cnn.n_conv_blocks))
    learning_rate = (config.transfer.fine_tune_learning_rate if n_frozen == 0
                     else config.transfer.transfer_learning_rate)
    config = dataclasses.replace(config, training=dataclasses.replace(
        config.training, learning_rate=learning_rate))

    with training_session(config.training) as (device, distributed):  # DDP under torchrun
        features = {section: getattr(source.config, section) for section in FEATURE_SECTIONS}
        features["model"] = dataclasses.replace(features["model"], multi_label=multi_label)
        data = prepare_data(folders, dataclasses.replace(config, **features),
                            distributed=distributed, manifest=manifest)
        new_model = transfer_model(source, data.class_names, layers_frozen=n_frozen,
                                   config=config, multi_label=multi_label).to(device)
        standardize_head(new_model, data.train_set, batch_size=config.training.batch_size,
                         device=device)
        trainable = sum(p.numel() for p in new_model.parameters() if p.requires_grad)
        logger.info("transfer from %s: %d of %d layers frozen, %d trainable parameters, "
                    "lr %g", source_path, n_frozen, len(new_model.cnn.layers()), trainable,
                    learning_rate)
        provenance = {"source_model": str(source_path),
                      "source_classes": list(source.class_names),
                      "strategy": None if layers_frozen is not None else strategy,
                      "layers_frozen": n_frozen, "trainable_parameters": trainable,
                      "learning_rate": learning_rate}
        return _train_and_fold(new_model, data, output or f"{source_path.stem}_transfer",
                               provenance, device=device, progress=progress,
                               distributed=distributed)


def _train_and_fold(new_model, data, output: str | os.PathLike, provenance: dict[str, Any],
                    *, device: torch.device, progress: bool, distributed) -> TrainingResult:
    """Train a transferred model (``provenance`` goes in its file), then fold the head's
    input standardisation back into plain linear layers."""
    result = run_training(new_model, data, output, config=new_model.config, device=device,
                          progress=progress, metadata={"transfer": provenance},
                          distributed=distributed)
    fold_head(new_model)
    return result


def _transfer_from_backbone(backbone: str, model: str | os.PathLike,
                            folders: Sequence[str | os.PathLike], strategy: int, *,
                            output: str | os.PathLike | None, layers_frozen: int | None,
                            config: Config | None, progress: bool,
                            manifest: Manifest | None = None, multi_label: bool = False,
                            **overrides: Any) -> TrainingResult:
    """:func:`transfer_learning` from a pretrained backbone's checkpoint."""
    front_end = {key: value for key, value in overrides.items()
                 if value is not None and _section_of(key, config or load_config()) == "front_end"}
    config = override(config or load_config(), multi_label=multi_label, **{
        key: value for key, value in overrides.items() if key not in front_end})
    source = load_backbone_model(backbone, model, config=config)
    for key, value in front_end.items():
        name = key.split(".")[-1]
        if override(source.config, **{key: value}) != source.config:
            raise ConfigError(
                f"{key}={value!r} cannot be used: the front end is the {backbone} "
                f"backbone's, which has {name}={getattr(source.config.front_end, name)!r}")
    if config.augmentation.spec_time_masks or config.augmentation.spec_freq_masks or \
            config.augmentation.mixup_alpha:
        raise ConfigError("spectrogram masks and mixup work on the seed CNN's features; "
                          f"set them to 0 for the {backbone} backbone")
    n_frozen = (layers_frozen if layers_frozen is not None
                else frozen_layers_for(strategy, source.n_blocks))
    learning_rate = (config.transfer.fine_tune_learning_rate if n_frozen == 0
                     else config.transfer.transfer_learning_rate)
    config = dataclasses.replace(config, front_end=source.config.front_end,
                                 training=dataclasses.replace(config.training,
                                                              learning_rate=learning_rate))
    with training_session(config.training) as (device, distributed):
        data = prepare_data(folders, config, distributed=distributed, manifest=manifest)
        new_model = transfer_backbone_model(source, data.class_names, layers_frozen=n_frozen,
                                            config=config).to(device)
        del source
        standardize_head(new_model, data.train_set, batch_size=config.training.batch_size,
                         device=device)
        trainable = sum(p.numel() for p in new_model.parameters() if p.requires_grad)
        logger.info("transfer from %s backbone %s: %d of %d blocks frozen, %d trainable "
                    "parameters, lr %g", backbone, model, n_frozen, new_model.n_blocks,
                    trainable, learning_rate)
        provenance = {"source_model": str(model), "backbone": backbone,
                      "source_classes": [],
                      "strategy": None if layers_frozen is not None else strategy,
                      "layers_frozen": n_frozen, "trainable_parameters": trainable,
                      "learning_rate": learning_rate}
        return _train_and_fold(new_model, data, output or f"{Path(str(model)).stem}_transfer",
                               provenance, device=device, progress=progress,
                               distributed=distributed)


def _section_of(key: str, config: Config) -> str | None:
    return key.split(".", 1)[0] if "." in key else leaf_names(config).get(key)


def _refuse_feature_changes(source: AudioClassifier, overrides: dict[str, Any],
                            source_path: Path) -> None:
    for key, value in overrides.items():
        if value is None or _section_of(key, source.config) not in FEATURE_SECTIONS:
            continue
        if override(source.config, **{key: value}) != source.config:
            section = _section_of(key, source.config)
            name = key.split(".")[-1]
            current = getattr(getattr(source.config, section), name)
            raise ConfigError(
                f"{key}={value!r} cannot be used: the feature settings come from the source "
                f"model '{source_path}', which has {name}={current!r}; a transferred model "
                "must see the input it was trained on")
