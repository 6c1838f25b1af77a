"""Pictures of hand-crafted features: a file's spectrogram, or two features per class
over a classifier's decision surface (the seed's scatter plot).

    python -m deep_audio.bin.feature_plots spectrogram -i song.wav -o song.png
    python -m deep_audio.bin.feature_plots scatter -i data/classical data/metal -o space.png \
        --x-feature spectral_centroid_mean --y-feature energy_entropy_mean --classifier svm_rbf
"""

from __future__ import annotations

import argparse
from typing import Sequence

from deep_audio.audio import read_audio
from deep_audio.bin import _cli
from deep_audio.classic import CLASSIFIER_TYPES, plot_feature_space
from deep_audio.errors import DeepAudioError
from deep_audio.features.handcrafted import spectrogram

__all__ = ["main", "plot_feature_space"]


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser("Plot a spectrogram or a 2-D feature scatter with decision regions.")
    parser.add_argument("kind", choices=["spectrogram", "scatter"])
    _cli.add_inputs(parser, help="spectrogram: one audio file; scatter: class folders")
    parser.add_argument("-o", "--output", required=True, metavar="IMAGE",
                        help="output image (.png, .svg, .pdf)")
    parser.add_argument("--window-seconds", type=float, default=0.050,
                        help="spectrogram window")
    parser.add_argument("--step-seconds", type=float, default=0.050, help="spectrogram step")
    parser.add_argument("--x-feature", default="spectral_centroid_mean")
    parser.add_argument("--y-feature", default="energy_entropy_mean")
    parser.add_argument("--classifier", default="svm_rbf", choices=CLASSIFIER_TYPES)
    _cli.add_feature_windows(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.kind == "spectrogram":
        if len(args.input) != 1:
            raise DeepAudioError("spectrogram takes exactly one audio file")
        samples, rate = read_audio(args.input[0])
        magnitude, frequencies, times = spectrogram(
            samples, rate, window_seconds=args.window_seconds, step_seconds=args.step_seconds)
        from deep_audio.plots import plot_spectrogram

        path = plot_spectrogram(magnitude, args.output, frequencies_hz=frequencies,
                                times_seconds=times, title=args.input[0])
    else:
        result = plot_feature_space(
            args.input, args.output, x_feature=args.x_feature, y_feature=args.y_feature,
            classifier_type=args.classifier, mid_window_seconds=args.mid_window_seconds,
            mid_step_seconds=args.mid_step_seconds,
            short_window_seconds=args.short_window_seconds,
            short_step_seconds=args.short_step_seconds)
        path = result.path
    print(f"saved {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
