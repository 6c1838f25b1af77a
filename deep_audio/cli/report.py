"""Score a model on labelled files: class folders (named as its classes) or a manifest.

Prints per-class precision, recall and F1, accuracy and the confusion matrix, and saves
the confusion matrix as a PNG (default: MODEL.confusion.png). --report PNG also draws
the model's training curves (from MODEL.history.csv, when it is there) beside the
confusion matrix. --html FILE writes an interactive page: a clickable confusion matrix
listing each cell's files with posteriors, audio, spectrogram and segment posteriors
(audio clips embedded up to a size cap, or linked by relative path with --link-audio).
A multi-label model (a tagger) is scored on the manifest's labels with mAP, per-class
average precision and precision/recall/F1 at its stored thresholds; the per-class AP is
drawn to MODEL.ap.png (--plot). Several model files (-m a.pt b.pt c.pt) are scored as
one ensemble, their posteriors averaged (pictures named after the first, .ensemble.*;
--report then draws no training curves: each member has its own).

Examples:
  deep-audio report -m models/classical_vs_metal_cnn.pt -i test/classical test/metal
  deep-audio report -m models/drums.pt -i test/* --html drums_report.html --link-audio
  deep-audio report -m models/tagger.pt --manifest meta/test.csv --audio-root audio/
  deep-audio report -m seed0.pt seed1.pt seed2.pt -i test/*
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from deep_audio.cli import common as _cli
from deep_audio.predict import evaluate_folders, evaluate_manifest
from deep_audio.predict.classify import as_predictor
from deep_audio.predict.evaluate import TaggingReport
from deep_audio.training.history import read_history
from deep_audio.viz import plot_class_scores, plot_confusion_matrix, plot_training_report

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _cli.add_model(parser, ensemble=True)
    _cli.add_folders_or_manifest(parser, help="class folders named as the model's classes")
    parser.add_argument("--plot", metavar="PNG",
                        help="confusion-matrix image (default: MODEL.confusion.png)")
    parser.add_argument("--report", metavar="PNG",
                        help="training curves and this confusion matrix in one picture "
                             "(.png, .svg or .html)")
    parser.add_argument("--html", metavar="FILE",
                        help="interactive evaluation report (one self-contained page)")
    parser.add_argument("--link-audio", action="store_true",
                        help="in --html, link audio files by relative path instead of "
                             "embedding clips")
    parser.add_argument("--audio-clip-seconds", type=float, default=4.0, metavar="SECONDS",
                        help="in --html, embed the first SECONDS of each file")
    parser.add_argument("--audio-cap-mb", type=float, default=4.0, metavar="MB",
                        help="in --html, embed at most this much audio (mistakes first)")
    _cli.add_config(parser, flags=("device", "precision"))


def run(args: argparse.Namespace) -> int:
    settings = _cli.config_from_args(args).training
    manifest = _cli.manifest_from_args(args)
    model = as_predictor(args.model, precision=settings.precision, device=settings.device)
    # Pictures are named after the (first) model file; an ensemble's get .ensemble.
    name = Path(args.model[0]).stem + ("" if len(args.model) == 1 else " ensemble")
    stem = Path(args.model[0]).with_suffix("" if len(args.model) == 1 else ".ensemble")
    if manifest is None:
        report = evaluate_folders(model, args.input, precision=settings.precision)
    else:
        report = evaluate_manifest(model, manifest, precision=settings.precision)
    print(report.format())
    source = ", ".join(Path(f).name for f in (args.input or args.manifest))
    if isinstance(report, TaggingReport):
        return _tagging_outputs(report, args, name=name, stem=stem)
    plot = Path(args.plot) if args.plot else Path(f"{stem}.confusion.png")
    plot_confusion_matrix(report.confusion, report.class_names, plot,
                          title=f"{name}: accuracy "
                                f"{report.scores['accuracy']:.3f}")
    print(f"\nconfusion matrix image: {plot}")
    if args.report:
        history_path = Path(args.model[0]).with_suffix(".history.csv")
        history = (read_history(history_path)
                   if history_path.is_file() and len(args.model) == 1 else {})
        if not history:
            logger.warning("no training history at %s%s: the report shows the confusion "
                           "matrix only", history_path,
                           "" if len(args.model) == 1 else " for an ensemble")
        best_epoch = getattr(getattr(model, "model", None), "metadata", {}).get("best_epoch")
        plot_training_report(history, report.confusion, report.class_names, args.report,
                             best_epoch=best_epoch,
                             title=f"{name}: accuracy "
                                   f"{report.scores['accuracy']:.3f} on "
                                   f"{source}")
        print(f"training report: {args.report}")
    if args.html:
        from deep_audio.viz import evaluation_report

        page = evaluation_report(
            report, args.html, link_audio=args.link_audio,
            clip_seconds=args.audio_clip_seconds,
            audio_budget_bytes=int(args.audio_cap_mb * 1e6),
            title=f"{name} on {source}")
        print(f"evaluation report: {page} ({page.stat().st_size / 1e6:.1f} MB)")
    return 0


def _tagging_outputs(report: TaggingReport, args: argparse.Namespace, *, name: str,
                     stem: Path) -> int:
    """A multi-label model's pictures: per-class AP (PNG) and, with --html, AP and
    precision-recall curves on one page."""
    plot = Path(args.plot) if args.plot else Path(f"{stem}.ap.png")
    plot_class_scores(report.scores["class_ap"], report.class_names, plot,
                      title=f"{name}: mAP {report.scores['map']:.3f}")
    print(f"\nper-class AP image: {plot}")
    if args.html:
        from deep_audio.viz import multilabel_report

        page = multilabel_report(report.targets, report.posteriors, report.class_names,
                                 args.html, title=f"{name} on "
                                 + ", ".join(Path(f).name for f in args.manifest))
        print(f"evaluation report: {page} ({page.stat().st_size / 1e6:.1f} MB)")
    return 0


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
