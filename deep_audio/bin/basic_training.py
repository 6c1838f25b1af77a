"""Train the CNN on class folders.

    python -m deep_audio.bin.basic_training -i data/classical data/metal -o classical_vs_metal_cnn

On several processes, GPUs or machines (DistributedDataParallel; see the README)::

    torchrun --nproc_per_node=2 -m deep_audio.bin.basic_training -i data/a data/b -o ab_cnn

From Python, the seed's call::

    from deep_audio.bin import basic_training as bt
    bt.train_model(["data/classical", "data/metal"], "classical_vs_metal_cnn")
"""

from __future__ import annotations

import argparse
from typing import Sequence

from deep_audio.bin import _cli
from deep_audio.training import train_model

__all__ = ["train_model", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser("Train a spectrogram CNN: one input folder per class.")
    _cli.add_inputs(parser, help="class folders (the folder name is the class name)")
    parser.add_argument("-o", "--output", required=True, metavar="NAME",
                        help="model name or path; a bare name is written to models/NAME.pt")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from OUTPUT.checkpoint.pt")
    _cli.add_config(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    result = train_model(args.input, args.output, config=_cli.config_from_args(args),
                         progress=not args.quiet, resume=args.resume)
    if not _cli.is_main_process():
        return 0
    metrics = result.metrics
    print(f"model: {result.model_path}")
    print(f"classes: {', '.join(result.class_names)}")
    print(f"best epoch {result.best_epoch}: validation accuracy {metrics['val_accuracy']:.3f}, "
          f"macro-F1 {metrics['val_macro_f1']:.3f} (per-epoch log: {result.history_path})")
    if result.skipped_files:
        print(f"{len(result.skipped_files)} unusable file(s) skipped (listed above)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
