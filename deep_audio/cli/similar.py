"""Similar-sound search: index folders of audio, then find the files nearest to a query.

build embeds every audio file under the folders (recursively) and saves the index.
query prints, for each query file, its k nearest indexed files with their cosine
distance (0 = same direction, at most 2), nearest first. It embeds queries with the
index's model (-m to point at a moved file); a model that embeds differently is refused.

Examples:
  deep-audio similar build -m models/cnn.pt -i sounds/ -o sounds.npz --layer linear1
  deep-audio similar query --index sounds.npz -i query.wav -k 5
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from deep_audio.cli import common as _cli
from deep_audio.device import resolve_device
from deep_audio.errors import DeepAudioError
from deep_audio.io.model_files import load_model
from deep_audio.predict.search import SoundIndex, build_index, nearest, search

__all__ = ["build_index", "main", "nearest"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["build", "query"])
    _cli.add_inputs(parser, help="build: folders to index; query: audio files to look up")
    _cli.add_model(parser, default_source=True)
    parser.add_argument("-o", "--output", metavar="INDEX.npz", help="build: the index file")
    parser.add_argument("--index", metavar="INDEX.npz", help="query: the index file")
    parser.add_argument("--layer", default=None,
                        help="build: conv (last conv block pooled), conv_bands (mean over time "
                             "only), conv_bands_max (maximum over time), linear1, linear2, ...")
    parser.add_argument("-k", type=int, default=5, help="query: neighbours per file")
    _cli.add_config(parser, flags=("device", "precision"))


def run(args: argparse.Namespace) -> int:
    config = _cli.config_from_args(args)
    training = config.training
    device = resolve_device(training.device)
    model = None if args.model is None else load_model(args.model, device=device)
    if args.action == "build":
        if args.output is None:
            raise DeepAudioError("build needs -o INDEX.npz")
        if model is None:
            model = load_model(_cli.source_model_from_args(args, config), device=device)
        index = build_index(model, args.input, layer=args.layer, precision=training.precision)
        path = index.save(args.output)
        for file, reason in index.skipped:
            print(f"skipped {file}: {reason}")
        print(f"{len(index.files)} files x {index.embeddings.shape[1]} {index.layer} "
              f"values -> {path}")
        return 1 if index.skipped else 0

    if args.index is None:
        raise DeepAudioError("query needs --index INDEX.npz")
    index = SoundIndex.load(args.index)
    if model is None and index.model_path:
        model = load_model(index.model_path, device=device)
    print("query\trank\tfile\tcosine_distance")
    found = 0
    for query, neighbours in search(index, args.input, k=args.k, model=model,
                                    precision=training.precision, skip_unreadable=True):
        found += 1
        for rank, (file, distance) in enumerate(neighbours, start=1):
            print(f"{query}\t{rank}\t{file}\t{distance:.4f}")
    return _cli.exit_status(found, len(args.input))


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
