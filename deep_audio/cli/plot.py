"""Draw a file's spectrogram, or two hand-crafted features per class over a classifier's
decision regions (the seed's scatter plot).

--html PAGE writes an interactive page (alone or beside -o IMAGE): the scatter's hover
names each file and a click plays it; the spectrogram zooms and plays from the time
clicked. Audio is embedded, or linked by relative path with --link-audio. Defaults
(spectrogram window and step, the two features, classifier, windows, seed) come from
configs/default.yaml; the flags, -c YAML and --set override them.

Examples:
  deep-audio plot spectrogram -i song.wav -o song.png
  deep-audio plot scatter -i data/classical data/metal -o space.png \
      --scatter-x-feature spectral_centroid_mean --scatter-y-feature energy_entropy_mean \
      --classifier svm_rbf
  deep-audio plot scatter -i data/classical data/metal --html space.html
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from deep_audio.classic import plot_feature_space
from deep_audio.cli import common as _cli
from deep_audio.errors import DeepAudioError
from deep_audio.features.handcrafted import spectrogram
from deep_audio.io.audio import read_audio

__all__ = ["main", "plot_feature_space"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["spectrogram", "scatter"])
    _cli.add_inputs(parser, help="spectrogram: one audio file; scatter: class folders")
    parser.add_argument("-o", "--output", metavar="IMAGE",
                        help="output image (.png, .svg, .pdf)")
    parser.add_argument("--html", metavar="PAGE",
                        help="interactive page: hover names a file, a click plays it")
    parser.add_argument("--link-audio", action="store_true",
                        help="in --html, link audio by relative path instead of embedding")
    _cli.add_config(parser, flags=("spectrogram_window_seconds", "spectrogram_step_seconds",
                                   "scatter_x_feature", "scatter_y_feature", "classifier",
                                   "cv_folds", "seed"))
    _cli.add_feature_windows(parser)


def run(args: argparse.Namespace) -> int:
    if not args.output and not args.html:
        raise DeepAudioError("nothing to write: give -o IMAGE, --html PAGE or both")
    config = _cli.config_from_args(args)
    classic = config.classic
    if args.kind == "spectrogram":
        if len(args.input) != 1:
            raise DeepAudioError("spectrogram takes exactly one audio file")
        samples, rate = read_audio(args.input[0])
        magnitude, frequencies, times = spectrogram(
            samples, rate, window_seconds=classic.spectrogram_window_seconds,
            step_seconds=classic.spectrogram_step_seconds)
        written = []
        if args.output:
            from deep_audio.viz.features import plot_spectrogram

            written.append(plot_spectrogram(magnitude, args.output, frequencies_hz=frequencies,
                                            times_seconds=times, title=args.input[0]))
        if args.html:
            from deep_audio.viz import spectrogram_report

            written.append(spectrogram_report(
                magnitude, args.html, frequencies_hz=frequencies, times_seconds=times,
                audio_path=args.input[0], link_audio=args.link_audio, title=args.input[0]))
    else:
        result = plot_feature_space(args.input, args.output, config=config, html=args.html,
                                    link_audio=args.link_audio)
        written = [path for path in (result.path, result.html_path) if path is not None]
    print("saved " + ", ".join(map(str, written)))
    return 0


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
