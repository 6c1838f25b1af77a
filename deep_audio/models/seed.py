"""The seed talk's CNN: four conv blocks and three linear layers."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from deep_audio.config import POOLINGS, ModelConfig
from deep_audio.errors import DeepAudioError


class SeedCNN(nn.Module):
    """Conv2d-BatchNorm-LeakyReLU-MaxPool blocks, then a dropout/linear head.

    With ``pooling="flatten"``, ``output_activation=True``, channels 32-64-128-256, 5x5
    kernels, hidden 1024 and 256, dropout 0.75 and 0.5 and a 201 x 128 input this is
    the network of the seed talk (``configs/seed.yaml``): 24576 inputs to the first
    linear layer, 26,510,800 parameters for 16 classes, and a LeakyReLU after the
    output layer.

    Parameters
    ----------
    n_classes : int
        Outputs of the last layer.
    input_frames, n_mels : int
        Input size. Each block halves both axes, rounding down, leaving ``frames //
        2**k`` frames and ``n_mels // 2**k`` bands of ``channels[-1]`` maps.
    pooling : {"flatten", "time_mean"}
        What the head sees: every value of the last block (``"flatten"``, the seed's;
        the first linear layer's size grows with the segment length), or the mean over
        time of each channel and band (``"time_mean"``: ``channels[-1] * bands``
        values, a head independent of the segment length and 1/frames as large).
    output_activation : bool
        Apply LeakyReLU to the logits, as the seed does.

    Shapes: ``(batch, 1, frames, n_mels)`` in, ``(batch, n_classes)`` out.
    """

    def __init__(self, n_classes: int, *, input_frames: int, n_mels: int,
                 conv_channels: Sequence[int] = (32, 64, 128, 256), kernel_size: int = 5,
                 hidden_units: Sequence[int] = (1024, 256),
                 dropout: Sequence[float] = (0.75, 0.5), pooling: str = "flatten",
                 output_activation: bool = True):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling={pooling!r} must be one of {', '.join(POOLINGS)}")
        frames, bands = input_frames, n_mels
        in_channels = 1
        for index, channels in enumerate(conv_channels, start=1):
            self.add_module(f"conv_layer{index}", nn.Sequential(
                nn.Conv2d(in_channels, channels, kernel_size, stride=1,
                          padding=kernel_size // 2),
                nn.BatchNorm2d(channels),
                nn.LeakyReLU(),
                nn.MaxPool2d(2),
            ))
            in_channels = channels
            frames, bands = frames // 2, bands // 2
        if frames < 1 or bands < 1:
            raise ValueError(
                f"input of {input_frames} frames x {n_mels} mel bands is too small for "
                f"{len(conv_channels)} pooling blocks (each halves both axes)")
        self.n_conv_blocks = len(conv_channels)
        self.output_bands = bands  # frequency bands left after the last pooling
        self.pooling = pooling
        self.flat_features = in_channels * bands * (frames if pooling == "flatten" else 1)
        in_features = self.flat_features
        for index, (units, p) in enumerate(zip(hidden_units, dropout), start=1):
            self.add_module(f"linear_layer{index}", nn.Sequential(
                nn.Dropout(p), nn.Linear(in_features, units), nn.LeakyReLU()))
            in_features = units
        output = [nn.Linear(in_features, n_classes)]
        if output_activation:
            output.append(nn.LeakyReLU())
        self.add_module(f"linear_layer{len(hidden_units) + 1}", nn.Sequential(*output))
        self.n_linear_layers = len(hidden_units) + 1
        self.frozen_layers = 0

    @classmethod
    def from_config(cls, config: ModelConfig, *, n_classes: int, input_frames: int,
                    n_mels: int) -> "SeedCNN":
        return cls(n_classes, input_frames=input_frames, n_mels=n_mels,
                   conv_channels=config.conv_channels, kernel_size=config.kernel_size,
                   hidden_units=config.hidden_units, dropout=config.dropout,
                   pooling=config.pooling, output_activation=config.output_activation)

    def conv_blocks(self) -> list[nn.Sequential]:
        return [getattr(self, f"conv_layer{i}") for i in range(1, self.n_conv_blocks + 1)]

    def linear_layers(self) -> list[nn.Sequential]:
        return [getattr(self, f"linear_layer{i}") for i in range(1, self.n_linear_layers + 1)]

    def layers(self) -> list[nn.Sequential]:
        """Conv blocks, then linear layers: the units that :meth:`freeze` counts."""
        return self.conv_blocks() + self.linear_layers()

    def freeze(self, n_layers: int) -> None:
        """Stop training the first ``n_layers`` layers, weights and BatchNorm statistics.

        Their parameters get ``requires_grad=False`` and the layers stay in eval mode
        even when the network is in train mode, so BatchNorm keeps its running
        statistics and Dropout is off in them. The output layer cannot be frozen.
        """
        n_total = len(self.layers())
        if not 0 <= n_layers < n_total:
            raise ValueError(f"n_layers={n_layers} must be in [0, {n_total - 1}]: the network "
                             f"has {n_total} layers and the output layer always trains")
        self.frozen_layers = n_layers
        for index, layer in enumerate(self.layers()):
            for parameter in layer.parameters():
                parameter.requires_grad_(index >= n_layers)
        self.train(self.training)

    def train(self, mode: bool = True) -> "SeedCNN":
        super().train(mode)
        for layer in self.layers()[:self.frozen_layers]:
            layer.eval()
        return self

    def embedding_sizes(self) -> dict[str, int]:
        """Layers :meth:`embed` returns, with their sizes, in network order.

        ``conv``: the last conv block's output averaged over time and frequency
        (``conv_channels[-1]`` values); ``conv_bands``: averaged over time only, one
        value per channel and remaining frequency band (``conv_channels[-1] * n_mels //
        2**blocks``, channel-major); ``linear1``, ``linear2``, ...: each hidden linear
        layer after its LeakyReLU (``hidden_units[i]`` values). The output layer is not
        an embedding.

        >>> SeedCNN(3, input_frames=32, n_mels=32).embedding_sizes()
        {'conv': 256, 'conv_bands': 512, 'linear1': 1024, 'linear2': 256}
        """
        channels = self.conv_blocks()[-1][0].out_channels
        sizes = {"conv": channels, "conv_bands": channels * self.output_bands}
        for index, layer in enumerate(self.linear_layers()[:-1], start=1):
            sizes[f"linear{index}"] = layer[1].out_features
        return sizes

    def embed(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        """The output of an inner layer (see :meth:`embedding_sizes`) as an embedding.

        Shapes: ``(batch, 1, frames, n_mels)`` in, ``(batch, embedding_sizes()[layer])``
        out. Call it in eval mode, so that Dropout is off and BatchNorm uses its running
        statistics; the result then depends only on the input.
        """
        sizes = self.embedding_sizes()
        if layer not in sizes:
            raise DeepAudioError(f"layer={layer!r} is not one of {', '.join(sizes)}")
        for block in self.conv_blocks():
            x = block(x)
        if layer == "conv":
            return x.mean(dim=(2, 3))
        if layer == "conv_bands":  # x: (batch, channels, frames, bands)
            return x.mean(dim=2).flatten(1)
        x = self._head_input(x)
        for linear in self.linear_layers()[:int(layer.removeprefix("linear"))]:
            x = linear(x)
        return x

    def _head_input(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's maps ``(batch, channels, frames, bands)`` as the head's input."""
        if self.pooling == "time_mean":
            x = x.mean(dim=2)
        return x.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.conv_blocks():
            x = block(x)
        x = self._head_input(x)
        for layer in self.linear_layers():
            x = layer(x)
        return x
