"""Print a model's layers, shapes and parameter counts (torchsummary), and its settings.

Examples:
  deep-audio architecture -m models/classical_vs_metal_cnn.pt
  deep-audio architecture --classes 16                       # an untrained default model
  deep-audio architecture --classes 16 -c configs/seed.yaml  # the seed's network
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

import torch
from torch import nn
from torchsummary import summary

from deep_audio.cli import common as _cli
from deep_audio.io.model_files import load_model
from deep_audio.models import Classifier


class FromFeatures(nn.Module):
    """The classifier from its front end's output on, the part torchsummary can trace:
    ``(batch, *model.input_shape)`` in, logits out."""

    def __init__(self, model: Classifier):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(features)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-m", "--model", metavar="MODEL.pt", help="a model file")
    source.add_argument("--classes", type=int, metavar="N",
                        help="describe an untrained model with N classes built from the config")
    _cli.add_config(parser, flags=("segment_seconds",))


def run(args: argparse.Namespace) -> int:
    if args.model:
        model = load_model(args.model)
    else:
        model = Classifier.seed(_cli.config_from_args(args),
                                [f"class_{i}" for i in range(args.classes)])
    print(model)
    front = model.config.front_end
    if model.backbone.spectrogram_features and model.head is not None:
        summary(FromFeatures(model), model.input_shape, device="cpu")
        print(f"input: {model.config.segments.segment_seconds} s at {front.sample_rate} Hz -> "
              f"{model.input_shape[1]} frames x {model.input_shape[2]} mel bands "
              f"(hop {front.hop_seconds} s); first linear layer: "
              f"{model.head.in_features} inputs")
    print(f"classes ({len(model.class_names)}): {', '.join(model.class_names)}")
    metadata = getattr(model, "metadata", {})
    if "metrics" in metadata:
        metrics = metadata["metrics"]
        print(f"trained {metadata.get('best_epoch')} epochs to validation accuracy "
              f"{metrics['val_accuracy']:.3f}, macro-F1 {metrics['val_macro_f1']:.3f}")
    print("settings:", json.dumps(model.config.to_dict(), indent=1))
    return 0


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
