"""Pictures of hand-crafted features: a file's spectrogram, or two features per class
over a classifier's decision surface (the seed's scatter plot).

    python -m deep_audio.bin.feature_plots spectrogram -i song.wav -o song.png
    python -m deep_audio.bin.feature_plots scatter -i data/classical data/metal -o space.png \
        --scatter-x-feature spectral_centroid_mean --scatter-y-feature energy_entropy_mean \
        --classifier svm_rbf

Defaults (spectrogram window and step, the two features, classifier, windows, seed) come
from configs/default.yaml; the flags, ``-c YAML`` and ``--set KEY=VALUE`` override them.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from deep_audio.audio import read_audio
from deep_audio.bin import _cli
from deep_audio.classic import plot_feature_space
from deep_audio.errors import DeepAudioError
from deep_audio.features.handcrafted import spectrogram

__all__ = ["main", "plot_feature_space"]


def build_parser() -> argparse.ArgumentParser:
    parser = _cli.parser("Plot a spectrogram or a 2-D feature scatter with decision regions.")
    parser.add_argument("kind", choices=["spectrogram", "scatter"])
    _cli.add_inputs(parser, help="spectrogram: one audio file; scatter: class folders")
    parser.add_argument("-o", "--output", required=True, metavar="IMAGE",
                        help="output image (.png, .svg, .pdf)")
    _cli.add_config(parser, flags=("spectrogram_window_seconds", "spectrogram_step_seconds",
                                   "scatter_x_feature", "scatter_y_feature", "classifier",
                                   "cv_folds", "seed"))
    _cli.add_feature_windows(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    config = _cli.config_from_args(args)
    classic = config.classic
    if args.kind == "spectrogram":
        if len(args.input) != 1:
            raise DeepAudioError("spectrogram takes exactly one audio file")
        samples, rate = read_audio(args.input[0])
        magnitude, frequencies, times = spectrogram(
            samples, rate, window_seconds=classic.spectrogram_window_seconds,
            step_seconds=classic.spectrogram_step_seconds)
        from deep_audio.plots import plot_spectrogram

        path = plot_spectrogram(magnitude, args.output, frequencies_hz=frequencies,
                                times_seconds=times, title=args.input[0])
    else:
        result = plot_feature_space(args.input, args.output, config=config)
        path = result.path
    print(f"saved {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
