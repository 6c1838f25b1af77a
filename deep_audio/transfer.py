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
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from deep_audio.config import Config, leaf_names, load_config, override
from deep_audio.device import resolve_device
from deep_audio.errors import ConfigError
from deep_audio.models import AudioClassifier, load_model
from deep_audio.models.classifier import FEATURE_SECTIONS
from deep_audio.training.train import TrainingResult, prepare_data, run_training

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
                   layers_frozen: int, config: Config | None = None) -> AudioClassifier:
    """A new classifier with ``source``'s layers, a fresh output layer, and frozen layers.

    ``config`` gives the training settings; its front-end, segment and model sections
    are replaced by the source's.
    """
    config = dataclasses.replace(config or source.config, **{
        section: getattr(source.config, section) for section in FEATURE_SECTIONS})
    model = AudioClassifier(config, class_names)
    output_layer = f"cnn.linear_layer{model.cnn.n_linear_layers}."
    state = {k: v for k, v in source.state_dict().items() if not k.startswith(output_layer)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith(output_layer) for k in missing), (missing,
                                                                                 unexpected)
    # The source's hidden activations are large (its head has no normalisation), so a
    # randomly initialised output layer starts with huge logits and a loss near 35 that
    # wrecks the first epochs; starting from zero weights starts from uniform posteriors.
    output = model.cnn.linear_layers()[-1][0]
    nn.init.zeros_(output.weight)
    nn.init.zeros_(output.bias)
    model.cnn.freeze(layers_frozen)
    return model


def transfer_learning(model: str | os.PathLike, folders: Sequence[str | os.PathLike],
                      strategy: int = 0, *, output: str | os.PathLike | None = None,
                      layers_frozen: int | None = None, config: Config | None = None,
                      progress: bool = True, **overrides: Any) -> TrainingResult:
    """Train a new classifier for ``folders`` on top of the trained model file ``model``.

    Parameters
    ----------
    model : str or PathLike
        Source model file.
    folders : sequence of paths
        One folder per new class, named as the class.
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
    **overrides
        Single settings by name. Naming a front-end, segment or model setting with a
        value other than the source's is an error: the features cannot drift.

    Examples
    --------
    >>> transfer_learning("models/pretrained_gm16.pt", ["data/negative", "data/positive"],
    ...                   strategy=0)  # doctest: +SKIP
    """
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

    torch.manual_seed(config.training.seed)
    device = resolve_device(config.training.device)
    data = prepare_data(folders, dataclasses.replace(config, **{
        section: getattr(source.config, section) for section in FEATURE_SECTIONS}))
    new_model = transfer_model(source, data.class_names, layers_frozen=n_frozen,
                               config=config).to(device)
    trainable = sum(p.numel() for p in new_model.parameters() if p.requires_grad)
    logger.info("transfer from %s: %d of %d layers frozen, %d trainable parameters, lr %g",
                source_path, n_frozen, len(new_model.cnn.layers()), trainable, learning_rate)
    output = output or f"{source_path.stem}_transfer"
    provenance = {"source_model": str(source_path),
                  "source_classes": list(source.class_names),
                  "strategy": None if layers_frozen is not None else strategy,
                  "layers_frozen": n_frozen, "trainable_parameters": trainable,
                  "learning_rate": learning_rate}
    return run_training(new_model, data, output, config=new_model.config, device=device,
                        progress=progress, metadata={"transfer": provenance})


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
