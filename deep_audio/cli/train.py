"""Train a spectrogram CNN on class folders (one per class) or a manifest.

Writes the best epoch's model to OUTPUT (a bare name goes to models/NAME.pt), its
per-epoch log beside it (NAME.history.csv), and prints the validation scores. A manifest
row with several labels (dog;car) makes a multi-label model (a tagger: sigmoid outputs,
chosen by mAP, per-class thresholds stored in the model); onset/offset rows make a
frame-level event detector (40 ms frames); --task sets it either way.
--cross-validate trains and tests one model per predefined fold, --fold K one fold.

Examples:
  deep-audio train -i data/classical data/metal -o classical_vs_metal_cnn
  deep-audio train -i data/classical data/metal -o cnn --epochs 30 --device cuda --precision auto
  deep-audio train --manifest meta/train.csv --audio-root audio/ -o tagger
  deep-audio train --manifest meta/esc50.csv --audio-root audio/ --path-column filename \\
      --label-column category --fold-column fold --cross-validate -o esc
  torchrun --nproc_per_node=2 -m deep_audio train -i data/a data/b -o ab_cnn   # several GPUs

From Python, the seed's call:
  from deep_audio.bin import basic_training as bt
  bt.train_model(["data/classical", "data/metal"], "classical_vs_metal_cnn")
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from deep_audio.cli import common as _cli
from deep_audio.config import load_config
from deep_audio.errors import DeepAudioError
from deep_audio.training import cross_validate, train_model
from deep_audio.training.train import format_validation

__all__ = ["train_model", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _cli.add_folders_or_manifest(parser, help="class folders (the folder name is the class "
                                              "name; audio found recursively)")
    output = parser.add_argument_group("output")
    output.add_argument("-o", "--output", required=True, metavar="NAME",
                        help="model name or path; a bare name is written to models/NAME.pt")
    output.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from OUTPUT.checkpoint.pt")
    _cli.add_unlabelled(parser)
    _cli.add_task(parser)
    folds = parser.add_argument_group("folds (need a manifest with a fold column)")
    folds.add_argument("--cross-validate", action="store_true",
                       help="one model per fold, each tested on its fold; prints each "
                            "score, the mean and the deviation")
    folds.add_argument("--fold", metavar="K", help="train on the other folds, test on fold K")
    _cli.add_config(parser)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    overrides = _cli.overrides_from_args(args)
    manifest = _cli.manifest_from_args(args)
    if args.cross_validate or args.fold is not None:
        if manifest is None:
            raise DeepAudioError("--cross-validate and --fold need a manifest with a fold "
                                 "column (--manifest)")
        folds = None if args.fold is None else [args.fold]
        scores = cross_validate(manifest, args.output, folds=folds, config=config,
                                progress=not args.quiet, **overrides)
        print(scores.format())
        print(f"summary: {scores.summary_path}")
        return 0
    result = train_model(args.input, args.output, manifest=manifest, config=config,
                         progress=not args.quiet, resume=args.resume,
                         unlabelled=args.unlabelled, **overrides)
    if not _cli.is_main_process():
        return 0
    print(f"model: {result.model_path}")
    print(f"classes: {', '.join(result.class_names)}")
    print(f"best epoch {result.best_epoch}: {format_validation(result.metrics)} "
          f"(per-epoch log: {result.history_path})")
    if result.skipped_files:
        print(f"{len(result.skipped_files)} unusable file(s) skipped (listed above)")
    return 0


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
