"""Write a network's file embeddings (deep features) of folders to .npz or .csv.

One row per audio file (found recursively; unreadable files are skipped and listed).
The .npz holds features (n_files, size) float32, files, labels (each file's folder
name), names (linear1_0 ...), layer, model and skipped (n_skipped, 2); it loads with
np.load(path, allow_pickle=False). A .csv has a header file,label,<names> and one row
per file.

Examples:
  deep-audio embed -m models/cnn.pt -i data/dog data/cat -o features.npz --layer linear1
  deep-audio embed -m Cnn14_16k_mAP=0.438.pth --backbone panns_cnn14_16k -i data/dog \
      data/cat -o cnn14.npz --csv cnn14.csv
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deep_audio.cli import common as _cli
from deep_audio.device import resolve_device
from deep_audio.errors import DeepAudioError
from deep_audio.io.files import atomic_write
from deep_audio.io.model_files import load_model
from deep_audio.predict.embeddings import (
    DEFAULT_LAYER,
    DeepFeatures,
    default_layer,
    extract_deep_features,
)

__all__ = ["extract_deep_features", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _cli.add_model(parser, default_source=True)
    _cli.add_backbone(parser)
    _cli.add_inputs(parser, help="folders of audio (searched recursively); each folder's "
                                 "name is the label of its files")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="output file, .npz or .csv")
    parser.add_argument("--csv", metavar="FILE", default=None,
                        help="also write the matrix as CSV with a header")
    parser.add_argument("--layer", default=None,
                        help="conv (last conv block pooled), conv_bands (mean over time "
                             "only), conv_bands_max (maximum over time), linear1, linear2, "
                             f"... (default {DEFAULT_LAYER}; with "
                             "--backbone its published embedding: linear1 of PANNs, pooled "
                             "of a Hugging Face encoder)")
    _cli.add_config(parser, flags=("device", "precision"))


def run(args: argparse.Namespace) -> int:
    outputs = [Path(args.output)] + ([Path(args.csv)] if args.csv else [])
    for output in outputs:
        if output.suffix not in (".npz", ".csv"):
            raise DeepAudioError(f"output '{output}' must end in .npz or .csv")
    config = _cli.config_from_args(args)
    training = config.training
    model = load_model(_cli.source_model_from_args(args, config),
                       device=resolve_device(training.device), backbone=args.backbone,
                       config=config)
    deep = extract_deep_features(model, args.input, layer=args.layer or default_layer(model),
                                 precision=training.precision)
    for output in outputs:
        (write_csv if output.suffix == ".csv" else write_npz)(deep, output)
    for path, reason in deep.skipped:
        print(f"skipped {path}: {reason}")
    print(f"{len(deep.files)} files x {deep.features.shape[1]} {deep.layer} features -> "
          + ", ".join(map(str, outputs)))
    return 1 if deep.skipped else 0


def write_npz(deep: DeepFeatures, path: Path) -> None:
    arrays = dict(features=deep.features, files=np.array(deep.files, dtype=str),
                  labels=np.array(deep.labels, dtype=str), names=np.array(deep.names),
                  layer=np.array(deep.layer), model=np.array(deep.model_path or ""),
                  skipped=np.array(deep.skipped, dtype=str).reshape(-1, 2))
    atomic_write(path, lambda stream: np.savez(stream, **arrays))


def write_csv(deep: DeepFeatures, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8",
              errors="deep_audio.printable") as stream:  # odd file names as \xNN
        writer = csv.writer(stream)
        writer.writerow(["file", "label"] + deep.names)
        writer.writerows([file, label] + [repr(float(v)) for v in row]
                         for file, label, row in zip(deep.files, deep.labels, deep.features))


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
