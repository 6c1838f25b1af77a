"""Transfer learning: train new classes on top of a trained model or a pretrained network.

-m is a deep_audio model file (default: the shipped general network,
models/pretrained_general.pt), or with --backbone a pretrained network's published
checkpoint (PANNs CNN14, a Hugging Face audio encoder). --strategy chooses what is
frozen; the new model is written to OUTPUT (default: MODEL_transfer). A manifest row
with several labels makes the new model a tagger, whatever the source was.

Examples:
  deep-audio transfer -i data/negative data/positive -o mood
  deep-audio transfer -m models/pretrained_gm16.pt -i data/negative data/positive -o mood
  deep-audio transfer -m Cnn14_16k_mAP=0.438.pth --backbone panns_cnn14_16k \\
      -i data/negative data/positive -o mood_cnn14 --strategy 0
  deep-audio transfer -m models/pretrained_gm16.pt --manifest meta/train.csv \\
      --audio-root audio/ -o tagger

From Python, the seed's call:
  from deep_audio.bin import transfer_learning as tl
  tl.transfer_learning("models/classical_vs_metal_cnn.pt", ["data/negative", "data/positive"],
                       strategy=0)
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from deep_audio.cli import common as _cli
from deep_audio.config import load_config
from deep_audio.training.train import format_validation
from deep_audio.training.transfer import STRATEGIES, transfer_learning

__all__ = ["transfer_learning", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("source network")
    _cli.add_model(source, default_source=True)
    _cli.add_backbone(source)
    _cli.add_folders_or_manifest(parser, help="class folders of the new task")
    parser.add_argument("-o", "--output", metavar="NAME",
                        help="new model name or path (default: MODEL_transfer)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from OUTPUT.checkpoint.pt")
    freezing = parser.add_argument_group("freezing").add_mutually_exclusive_group()
    freezing.add_argument("--strategy", type=int, default=0, choices=sorted(STRATEGIES),
                          help="; ".join(f"{k}: {v}" for k, v in STRATEGIES.items()))
    freezing.add_argument("--layers-frozen", type=int, metavar="N",
                          help="freeze exactly the first N layers (conv / backbone blocks "
                               "first)")
    _cli.add_unlabelled(parser)
    _cli.add_task(parser)
    _cli.add_config(parser, flags=("epochs", "batch_size", "device", "precision", "seed",
                                   "num_workers", "segment_seconds", "segment_hop_seconds",
                                   "background_folder"))


def run(args: argparse.Namespace) -> int:
    manifest = _cli.manifest_from_args(args)
    config = load_config(args.config)
    source = _cli.source_model_from_args(args, _cli.config_from_args(args))
    result = transfer_learning(source, args.input, args.strategy, output=args.output,
                               layers_frozen=args.layers_frozen, manifest=manifest,
                               config=config, progress=not args.quiet,
                               backbone=args.backbone, unlabelled=args.unlabelled,
                               resume=args.resume, **_cli.overrides_from_args(args))
    if not _cli.is_main_process():
        return 0
    print(f"model: {result.model_path} (from {source})")
    print(f"classes: {', '.join(result.class_names)}")
    print(f"best epoch {result.best_epoch}: {format_validation(result.metrics)}")
    return 0


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
