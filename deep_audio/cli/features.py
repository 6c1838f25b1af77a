"""Write hand-crafted features (pyAudioAnalysis's) of audio files or folders to .npz or .csv.

Default: one row of 136 mid-term statistics per file (a file column and named columns
in the CSV header; arrays features, files, names, skipped in the npz). --short-term:
the 68 short-term features of every frame of ONE file (columns time_seconds and the
names; npz arrays features (68, frames), names, times). The windows come from the
classic section of configs/default.yaml; the window flags, -c YAML and --set override
them.

Examples:
  deep-audio features -i data/classical data/metal -o features.csv
  deep-audio features -i song.wav -o song_frames.npz --short-term

From Python, pyAudioAnalysis's call:
  from deep_audio.classic import directory_feature_extraction
  features, files, names = directory_feature_extraction("data/classical", 1.0, 1.0, 0.1, 0.05)
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deep_audio.cli import common as _cli
from deep_audio.config import ClassicConfig
from deep_audio.errors import DeepAudioError
from deep_audio.features.handcrafted import (
    directory_feature_extraction,
    file_features,
    folder_features,
    short_term_features,
)
from deep_audio.io.audio import read_audio
from deep_audio.io.files import atomic_write

__all__ = ["directory_feature_extraction", "main"]
logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _cli.add_inputs(parser, help="audio files and/or folders (searched recursively)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="output file, .npz or .csv")
    parser.add_argument("--short-term", action="store_true",
                        help="per-frame short-term features of one file")
    parser.add_argument("--sample-rate", type=int, default=None, metavar="HZ",
                        help="resample to this rate first (default: each file's own rate)")
    _cli.add_config(parser, flags=())
    _cli.add_feature_windows(parser)


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix not in (".npz", ".csv"):
        raise DeepAudioError(f"output '{output}' must end in .npz or .csv")
    classic = _cli.config_from_args(args).classic
    if args.short_term:
        return _short_term(args, output, classic)

    rows, files, skipped, names = [], [], [], None
    windows = classic.windows
    for item in args.input:
        if Path(item).is_dir():
            result = folder_features(item, sample_rate=args.sample_rate, **windows)
            rows.append(result.features)
            files += result.files
            skipped += result.skipped
            names = result.names
        else:
            try:
                vector, names = file_features(item, sample_rate=args.sample_rate, **windows)
            except DeepAudioError as error:
                logger.warning("skipping %s", error)
                skipped.append((item, str(error)))
                continue
            rows.append(vector[None, :])
            files.append(item)
    if not files:
        raise DeepAudioError(f"no usable audio in {args.input}")
    features = np.concatenate(rows)
    if output.suffix == ".csv":
        _write_csv(output, ["file"] + names, [[f] + [repr(float(v)) for v in row]
                                              for f, row in zip(files, features)])
    else:
        arrays = dict(features=features, files=np.array(files), names=np.array(names),
                      skipped=np.array(skipped, dtype=str).reshape(-1, 2))
        atomic_write(output, lambda stream: np.savez(stream, **arrays))
    print(f"{len(files)} files x {features.shape[1]} features -> {output}"
          + (f" ({len(skipped)} skipped)" if skipped else ""))
    return 1 if skipped else 0


def _short_term(args: argparse.Namespace, output: Path, classic: ClassicConfig) -> int:
    if len(args.input) != 1 or Path(args.input[0]).is_dir():
        raise DeepAudioError("--short-term takes exactly one audio file")
    samples, rate = read_audio(args.input[0], sample_rate=args.sample_rate)
    features, names = short_term_features(samples, rate,
                                          window_seconds=classic.short_window_seconds,
                                          step_seconds=classic.short_step_seconds)
    times = np.arange(features.shape[1]) * round(classic.short_step_seconds * rate) / rate
    if output.suffix == ".csv":
        _write_csv(output, ["time_seconds"] + names,
                   [[f"{t:.6f}"] + [repr(float(v)) for v in column]
                    for t, column in zip(times, features.T)])
    else:
        atomic_write(output, lambda stream: np.savez(stream, features=features,
                                                     names=np.array(names), times=times))
    print(f"{features.shape[1]} frames x {features.shape[0]} features -> {output}")
    return 0


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8",
              errors="deep_audio.printable") as stream:  # odd file names as \xNN
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
