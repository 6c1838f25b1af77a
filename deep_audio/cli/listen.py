"""Listen live: classify or detect sound events continuously from a microphone, raw PCM on
standard input, or a file played as a stream.

A posterior row is printed every segment hop; regions (a single-label model) or events
(a tagger, a frame detector) are printed when they start and when they end, made with
the thresholds, median filter, gap merging and minimum durations of 'deep-audio
segment', so a replayed recording gives the same spans as 'deep-audio segment' on the
file. --json writes one JSON object per line (schema in docs/listening.md); --view
draws a bar per class, redrawn in place, in a terminal. The end of the input, Ctrl-C or
a closed output end the stream: open spans are closed and a summary (latency, real-time
factor, dropped hops) is printed on standard error. When the model cannot keep up, whole
hops are dropped and counted (--max-lag-seconds).

The microphone needs the 'listen' extra (pip install 'deep_audio[listen]') and PortAudio
(Debian: apt install libportaudio2).

Examples:
  deep-audio listen -m models/tagger.pt                      # the default microphone
  deep-audio listen -m models/tagger.onnx --mic "USB" --json
  deep-audio listen -m models/tagger.pt --view
  deep-audio listen -m seed0.pt seed1.pt seed2.pt            # an ensemble of three
  arecord -q -f S16_LE -r 16000 -c 1 -t raw | deep-audio listen -m cnn.pt --stdin --rate 16000
  ffmpeg -i URL -f s16le -ac 1 -ar 16000 - | deep-audio listen -m cnn.pt --stdin --rate 16000
  deep-audio listen -m models/cnn.pt --replay recording.flac --fast --save-events clips
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from deep_audio.cli import common as _cli
from deep_audio.errors import SourceError
from deep_audio.events.spans import Event
from deep_audio.io.sources import (
    PCM_FORMATS,
    MicrophoneSource,
    PcmSource,
    ReplaySource,
    import_sounddevice,
    input_devices,
)
from deep_audio.predict.stream import Listener, ListenUpdate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _cli.add_model(parser, ensemble=True)
    source = parser.add_argument_group("source (default: the default microphone)")
    where = source.add_mutually_exclusive_group()
    where.add_argument("--mic", nargs="?", const="", metavar="NAME",
                       help="a microphone by name (or part of it) or number; alone: the "
                            "default input device")
    where.add_argument("--stdin", action="store_true",
                       help="raw little-endian PCM on standard input (needs --rate)")
    where.add_argument("--replay", metavar="FILE", help="play an audio file as a stream")
    where.add_argument("--list-devices", action="store_true",
                       help="list the microphones and exit")
    source.add_argument("--rate", type=int, metavar="HZ", help="--stdin: sample rate")
    source.add_argument("--channels", type=int, default=1, help="--stdin: channels")
    source.add_argument("--format", choices=sorted(PCM_FORMATS), default="s16le",
                        help="--stdin: sample format")
    source.add_argument("--fast", action="store_true",
                        help="--replay: as fast as the model runs, not in real time")
    source.add_argument("--block-seconds", type=float, default=0.1, metavar="SECONDS",
                        help="audio read at a time")
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="one JSON object per line")
    output.add_argument("--no-rows", action="store_true",
                        help="print regions or events only, no posterior rows")
    output.add_argument("--view", action="store_true",
                        help="a live view in the terminal: a bar per class redrawn in place "
                             "under the regions or events (instead of rows)")
    output.add_argument("--save-events", metavar="DIR",
                        help="write the audio of each region or event to DIR as WAV")
    output.add_argument("--pre-roll-seconds", type=float, default=1.0, metavar="SECONDS",
                        help="--save-events: audio kept before the onset")
    output.add_argument("--post-roll-seconds", type=float, default=0.5, metavar="SECONDS",
                        help="--save-events: audio kept after the offset")
    timing = parser.add_argument_group("keeping up")
    timing.add_argument("--max-lag-seconds", type=float, default=2.0, metavar="SECONDS",
                        help="drop whole hops while more audio than this waits")
    timing.add_argument("--no-drop", action="store_true",
                        help="never drop hops (a pipe from a file rather than a live input)")
    timing.add_argument("--stall-seconds", type=float, metavar="SECONDS",
                        help="end when the source is silent this long (default: wait)")
    spans = parser.add_argument_group("regions and events (default: the model's settings)")
    spans.add_argument("--segment-hop-seconds", type=float, metavar="SECONDS")
    spans.add_argument("--smoothing-segments", type=int, metavar="N")
    spans.add_argument("--min-region-seconds", type=float, metavar="SECONDS")
    spans.add_argument("--event-median-filter-seconds", type=float, metavar="SECONDS")
    spans.add_argument("--event-min-gap-seconds", type=float, metavar="SECONDS")
    parser.add_argument("--device", default="cpu",
                        help="where a PyTorch model runs: cpu, cuda, auto, ...")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16", "auto"])
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="PyTorch CPU threads (one segment at a time runs best on one, "
                             "and leaves the other cores free)")


def run(args: argparse.Namespace) -> int:
    if args.list_devices:
        sd = import_sounddevice()
        print("\n".join(input_devices(sd)) or "no input devices")
        return 0
    overrides = {name: getattr(args, name) for name in (
        "segment_hop_seconds", "smoothing_segments", "min_region_seconds",
        "event_median_filter_seconds", "event_min_gap_seconds")}
    if args.event_median_filter_seconds is not None:  # a frame model's filter too
        overrides["frame_median_filter_seconds"] = args.event_median_filter_seconds
    if not all(m.lower().endswith(".onnx") for m in args.model):  # ONNX runs without torch
        import torch

        torch.set_num_threads(max(1, args.threads))
    listener = Listener(args.model, precision=args.precision, device=args.device,
                        max_lag_seconds=None if args.no_drop else args.max_lag_seconds,
                        stall_timeout_seconds=args.stall_seconds,
                        save_events_dir=args.save_events,
                        pre_roll_seconds=args.pre_roll_seconds,
                        post_roll_seconds=args.post_roll_seconds, **overrides)
    source = _source(args, listener.plan.sample_rate, listener.plan.min_seconds)
    if args.view and args.json:
        raise SourceError("--view draws for a person; --json writes for a program: not both")
    printer = (_View(listener) if args.view
               else _Printer(listener, json_lines=args.json, rows=not args.no_rows))
    printer.start(" + ".join(args.model), source.name)
    updates = listener.run(source)
    try:
        try:
            with _stop_on_first_ctrl_c(listener):
                for update in updates:
                    printer.update(update)
        except KeyboardInterrupt:  # while printing: the listener closes the open spans
            for update in _rest(updates):
                printer.update(update)
    except BrokenPipeError:  # the reader of our output went away: a normal end
        printer.closed = True
        updates.close()
        # Python would report the broken pipe again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    summary = listener.summary
    if summary is not None:
        if args.json and not printer.closed:
            printer.emit(summary.to_dict())
        print(summary.format(), file=sys.stderr)
    return 0


@contextlib.contextmanager
def _stop_on_first_ctrl_c(listener: Listener):
    """The first Ctrl-C stops the listener after the update in hand (an interrupt
    between the spans taking a row and its printing would close them past the last row
    printed); a second one interrupts at once, as a source that delivers nothing holds
    a stop."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handler(signum, frame):
        signal.signal(signal.SIGINT, signal.default_int_handler)
        listener.stop("interrupt (Ctrl-C)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _rest(updates):
    """What a listener still gives after a Ctrl-C reached its consumer."""
    try:
        yield updates.throw(KeyboardInterrupt())
    except StopIteration:
        return
    yield from updates


def _source(args: argparse.Namespace, sample_rate: int, min_seconds: float) -> Any:
    if args.stdin:
        if args.rate is None:
            raise SourceError("--stdin needs the rate of the PCM: --rate HZ")
        return PcmSource(sys.stdin.buffer, rate=args.rate, sample_rate=sample_rate,
                         channels=args.channels, format=args.format,
                         block_seconds=args.block_seconds)
    if args.replay:
        return ReplaySource(args.replay, sample_rate=sample_rate, realtime=not args.fast,
                            block_seconds=args.block_seconds, min_seconds=min_seconds)
    device = args.mic or None
    if isinstance(device, str) and device.isdigit():
        device = int(device)
    source = MicrophoneSource(device, sample_rate=sample_rate,
                              block_seconds=args.block_seconds)
    source.open()  # a missing device fails here, before anything is printed
    return source


class _Printer:
    """Updates as readable lines or JSON lines on standard output, flushed at once."""

    def __init__(self, listener: Listener, *, json_lines: bool, rows: bool):
        self.listener = listener
        self.names = listener.class_names
        self.kind = "event" if listener.task.multi_label else "region"
        self.json_lines = json_lines
        self.rows = rows
        self.closed = False

    def emit(self, record: dict[str, Any]) -> None:
        print(json.dumps(record), flush=True)

    def start(self, model: str, source: str) -> None:
        if self.json_lines:
            self.emit({"type": "start", "model": str(model), "source": source,
                       "class_names": self.names, **self.listener.settings()})
        else:
            print(f"# listening to {source} with {model}; Ctrl-C ends", flush=True)

    def update(self, update: ListenUpdate) -> None:
        if update.dropped_hops:
            if self.json_lines:
                self.emit({"type": "dropped", "hops": update.dropped_hops,
                           "before_index": update.row.index})
            else:
                print(f"! dropped {update.dropped_hops} hop(s): the model is behind",
                      flush=True)
        if update.row is not None and self.rows:
            if self.json_lines:
                self.emit(update.row.to_dict())
            else:
                row = update.row
                top = sorted(range(len(self.names)), key=lambda i: -row.posteriors[i])[:3]
                print(f"{row.start_seconds:8.2f} {row.end_seconds:8.2f}  " + "  ".join(
                    f"{self.names[i]} {row.posteriors[i]:.2f}" for i in top), flush=True)
        for span in update.onsets:
            self._span("onset", span)
        for span in update.offsets:
            self._span("offset", span)

    def _span(self, kind: str, span: Event) -> None:
        if self.json_lines:
            record = {"type": kind, "kind": self.kind, "label": span.label,
                      "onset_seconds": round(span.onset_seconds, 6)}
            if kind == "offset":
                record["offset_seconds"] = round(span.offset_seconds, 6)
            confidence = span.confidence
            record["confidence"] = (None if confidence is None or math.isnan(confidence)
                                    else round(float(confidence), 6))
            self.emit(record)
        elif kind == "onset":
            print(f"{span.onset_seconds:8.2f}          {self.kind} starts: {span.label}",
                  flush=True)
        else:
            print(f"{span.onset_seconds:8.2f} {span.offset_seconds:8.2f}  {self.kind}: "
                  f"{span.label} ({span.confidence:.2f})", flush=True)


class _View(_Printer):
    """A bar per class (the most probable first, at most ``height``), redrawn in place
    with ANSI escapes under the lines of the regions or events, which scroll above."""

    height = 8
    width = 30

    def __init__(self, listener: Listener):
        super().__init__(listener, json_lines=False, rows=False)
        self.drawn = 0  # lines of the last drawing, to go back over
        self.open: dict[str, float] = {}  # label -> onset of the spans started, not ended

    def update(self, update: ListenUpdate) -> None:
        self._erase()
        super().update(update)
        for span in update.onsets:
            self.open[span.label] = span.onset_seconds
        for span in update.offsets:
            self.open.pop(span.label, None)
        if update.row is not None:
            self._draw(update)

    def _erase(self) -> None:
        if self.drawn:  # up to the first line drawn, then clear to the end of the screen
            sys.stdout.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def _draw(self, update: ListenUpdate) -> None:
        row = update.row
        order = sorted(range(len(self.names)), key=lambda i: -row.posteriors[i])
        lines = [f"-- {row.end_seconds:8.2f} s, latency {1000 * row.latency_seconds:.0f} ms"
                 + (f", dropped {update.dropped_hops}" if update.dropped_hops else "")]
        for index in order[:self.height]:
            value = float(row.posteriors[index])
            filled = int(round(value * self.width))
            mark = "*" if self.names[index] in self.open else " "
            lines.append(f"{mark} {self.names[index][:16]:<16} "
                         f"{'#' * filled}{'.' * (self.width - filled)} {value:.2f}")
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        self.drawn = len(lines)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    return _cli.build_parser(__doc__, add_arguments, prog=prog)


def main(argv: Sequence[str] | None = None) -> int:
    return _cli.run(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
