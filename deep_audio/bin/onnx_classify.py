"""Classify audio files with an exported ONNX model, without torch (onnxruntime only).

    python -m deep_audio.bin.onnx_classify -m models/cnn.onnx -i song.wav [more.flac ...]
        [--segments]

Prints one line per file (class, probability, every class's posterior) or, with
``--segments``, one line per segment. Needs numpy, soundfile, soxr, PyYAML and
onnxruntime; torch is never imported.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from deep_audio.bin import _cli
from deep_audio.errors import AudioError
from deep_audio.onnx_inference import OnnxClassifier


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser("Classify audio files with an ONNX model and onnxruntime.")
    parser.add_argument("-m", "--model", required=True, metavar="MODEL.onnx",
                        help="an ONNX file written by deep_audio.bin.export_model")
    _cli.add_inputs(parser, help="audio files")
    parser.add_argument("--segments", action="store_true",
                        help="one row per segment with start/end seconds")
    return parser


def run(args: argparse.Namespace) -> int:
    model = OnnxClassifier(args.model)
    names = model.class_names
    header = "\t".join(f"p({name})" for name in names)
    print(("start_seconds\tend_seconds" if args.segments else "file") +
          f"\tclass\tprobability\t{header}")
    failed = 0
    for path in args.input:
        try:
            prediction = model.classify_file(path)
        except AudioError as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        if args.segments:
            print(f"# {path}: {prediction.class_name}")
            for start, end, row in zip(prediction.starts_seconds, prediction.ends_seconds,
                                       prediction.segment_posteriors):
                winner = int(row.argmax())
                print(f"{start:.3f}\t{end:.3f}\t{names[winner]}\t{row[winner]:.3f}\t"
                      + "\t".join(f"{p:.3f}" for p in row))
        else:
            print(f"{path}\t{prediction.class_name}\t"
                  f"{prediction.posteriors[prediction.class_index]:.3f}\t"
                  + "\t".join(f"{p:.3f}" for p in prediction.posteriors))
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
