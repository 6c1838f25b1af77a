"""Label the regions of long recordings, or their sound events, with a trained model.

Reads each recording in blocks (any length), prints its regions (start, end, label,
confidence) and writes OUT/<name>.regions.csv plus OUT/<name>.regions.segments.csv
(segment posteriors), or OUT/<name>.json, and a timeline picture
OUT/<name>.timeline.png (--plot). With --truth (one annotation file per recording,
'start end label' per line) it prints per-class and overall accuracy on a fine time
grid and draws the annotation under the regions. --html writes OUT/<name>.report.html:
the timeline zoomable, the recording playable from any point clicked, the annotation as
a second lane.

A multi-label model (a tagger) detects sound events instead: several classes at once,
each class's posteriors median-filtered and thresholded at the model's threshold. They
are printed and written to OUT/<name>.events.tsv (onset, offset, label, confidence);
--truth (DCASE event lists: 'onset offset label' per line, one per recording, or one
DCASE/DESED file 'filename onset offset event_label' for all of them) scores them with
sed_eval (segment- and event-based F1, error rate) and PSDS1/PSDS2 (sed_scores_eval,
on the median-filtered curves the events come from), per recording and over all of them.
--dcase FILE writes every recording's events to one DCASE TSV (filename onset offset
event_label), the format DCASE task 4 submissions and sed_eval take.

Several model files after -m (same classes and segments, e.g. one detector trained with
three seeds) are an ensemble: their posteriors are averaged before the post-processing,
which takes the members' thresholds averaged and their tuned filters' medians.

Examples:
  deep-audio segment -m models/cnn.pt -i recording.flac -o out
  deep-audio segment -m models/cnn.pt -i recording.flac -o out --truth annotation.txt --html
  deep-audio segment -m models/tagger.pt -i long.flac -o out --truth events.tsv
  deep-audio segment -m models/detector.pt -i audio/*.wav -o out --truth truth.tsv --dcase out.tsv
  deep-audio segment -m det_0.pt det_1.pt det_2.pt -i long.flac -o out --truth events.tsv
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from deep_audio.cli import common as _cli
from deep_audio.errors import DeepAudioError
from deep_audio.events import (
    Event,
    SegmentScores,
    evaluate_events,
    events_by_filename,
    read_annotation,
    write_annotation,
)
from deep_audio.predict.classify import as_predictor
from deep_audio.predict.long_recordings import (
    evaluate_segmentation,
    save_segmentation,
    segment_recording,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _cli.add_model(parser, ensemble=True)
    _cli.add_inputs(parser, help="audio files of any length")
    parser.add_argument("-o", "--output", default="segmentation", metavar="FOLDER",
                        help="folder for the results")
    parser.add_argument("--format", choices=["csv", "json"], default="csv")
    parser.add_argument("--plot", choices=["png", "html", "none"], default="png",
                        help="timeline picture of posteriors and regions")
    parser.add_argument("--html", action="store_true",
                        help="interactive timeline page OUT/<name>.report.html")
    parser.add_argument("--link-audio", action="store_true",
                        help="in --html, link the recording instead of embedding it")
    parser.add_argument("--truth", nargs="+", metavar="ANNOTATION",
                        help="one annotation file per input: 'start end label' per line; "
                             "or one with a filename column for every input (DCASE)")
    parser.add_argument("--dcase", metavar="FILE",
                        help="also write every recording's events to one DCASE TSV "
                             "(filename onset offset event_label)")
    parser.add_argument("--segment-hop-seconds", type=float, metavar="SECONDS",
                        help="hop between segments (default: the model's)")
    parser.add_argument("--smoothing-segments", type=int, metavar="N",
                        help="moving average over N segments (default: the model's setting)")
    parser.add_argument("--min-region-seconds", type=float, metavar="SECONDS",
                        help="shorter regions join a neighbour (default: the model's setting)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto, ...")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16", "auto"])


def run(args: argparse.Namespace) -> int:
    truths = _truths(args.truth, args.input) if args.truth else None
    model = as_predictor(args.model, precision=args.precision, device=args.device)
    detects_events = model.task.multi_label
    if args.dcase and not detects_events:
        raise DeepAudioError("--dcase writes sound events: it needs a multi-label or "
                             "frame detection model")
    output = Path(args.output)
    reference, estimated, scores, durations = {}, {}, {}, {}
    detections = []
    for index, path in enumerate(args.input):
        result = segment_recording(path, model, precision=args.precision,
                                   segment_hop_seconds=args.segment_hop_seconds,
                                   smoothing_segments=args.smoothing_segments,
                                   min_region_seconds=args.min_region_seconds)
        stem = Path(path).stem
        name = f"{stem}.json" if args.format == "json" else f"{stem}.regions.csv"
        written = save_segmentation(result, output / name)
        truth = truths[index] if truths else None
        if detects_events:
            print(f"# {path}: {result.duration_seconds:.1f} s, {len(result.events)} events")
            print("onset_seconds\toffset_seconds\tlabel\tconfidence")
            for event in result.events:
                print(f"{event.onset_seconds:.2f}\t{event.offset_seconds:.2f}\t"
                      f"{event.label}\t{event.confidence:.3f}")
            written.append(write_annotation(output / f"{stem}.events.tsv", result.events,
                                        with_confidence=True))
            detections += [replace(e, filename=Path(path).name) for e in result.events]
            if truth is not None:
                reference[stem], estimated[stem] = truth, result.events
                durations[stem] = result.duration_seconds
                scores[stem] = SegmentScores(result.starts_seconds, result.ends_seconds,
                                             result.smoothed)
                # PSDS is undefined on a recording without reference events; the
                # summary over all recordings below still counts its false alarms
                print(evaluate_events(truth, result.events, class_names=result.class_names,
                                      durations_seconds=result.duration_seconds,
                                      scores=scores[stem] if truth else None).format())
                truth = [(e.onset_seconds, e.offset_seconds, e.label) for e in truth]
        else:
            print(f"# {path}: {result.duration_seconds:.1f} s, {len(result.regions)} regions")
            print("start_seconds\tend_seconds\tlabel\tconfidence")
            for region in result.regions:
                print(f"{region.onset_seconds:.2f}\t{region.offset_seconds:.2f}\t"
                      f"{region.label}\t{region.confidence:.3f}")
            if truth is not None:
                print(evaluate_segmentation(result, truth).format())
        if args.plot != "none":
            written.append(result.plot(output / f"{stem}.timeline.{args.plot}", truth=truth))
        if args.html:
            from deep_audio.viz import segmentation_report

            written.append(segmentation_report(result, output / f"{stem}.report.html",
                                               truth=truth, link_audio=args.link_audio))
        print("written: " + ", ".join(map(str, written)) + "\n")
    if args.dcase:
        print(f"DCASE detections: {write_annotation(args.dcase, detections)}")
    if len(reference) > 1:
        print(f"# all {len(reference)} recordings")
        print(evaluate_events(reference, estimated, class_names=list(model.class_names),
                              durations_seconds=durations, scores=scores).format())
    return 0


def _truths(paths: Sequence[str], inputs: Sequence[str]) -> list[list[Event]]:
    """One annotation per input; or one file whose events name their recording (a
    filename column, as DCASE ground truth has), split by the inputs' file names."""
    if len(paths) == 1:
        events = read_annotation(paths[0])
        if any(e.filename for e in events):
            grouped = events_by_filename(events)
            return [_events_of(grouped, path) for path in inputs]
    if len(paths) != len(inputs):
        raise DeepAudioError(f"--truth needs one annotation per input, or one with a "
                             f"filename column: {len(inputs)} input(s), {len(paths)} "
                             "annotation(s)")
    return [read_annotation(path) for path in paths]


def _events_of(grouped: dict[str, list[Event]], path: str) -> list[Event]:
    """The events whose filename names ``path``: the same file name, and where the ground
    truth gives folders (``long/long_01.flac``), the same last folders too."""
    parts = Path(os.path.abspath(path)).parts
    return [event for name, events in grouped.items()
            if parts[-len(Path(name).parts):] == Path(name).parts for event in events]


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
