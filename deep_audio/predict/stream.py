"""Listening live: classify or detect continuously from a microphone, a pipe or a replay.

:func:`listen` runs any predictor (:mod:`deep_audio.predict.predictor`: a PyTorch model,
an ONNX model without torch) over an audio source (:mod:`deep_audio.io.sources`) and
yields a :class:`ListenUpdate` every hop: the new segment's posterior row, the regions or
events that started and those that ended. :func:`listen_with_callback` is the same with
a function called per update.

The same answer as offline. Segments are cut by the predictor's segment plan
(:meth:`~deep_audio.data.plan.SegmentPlan.stream`, the cutter of
:func:`~deep_audio.predict.segment_recording`: a ring buffer of one segment), a frame
model's frames are stitched by :func:`~deep_audio.predict.long_recordings.stitch_frames`,
and regions and events are made by :func:`~deep_audio.events.make_regions` and
:func:`~deep_audio.events.detect_events` with the settings ``segment_recording`` uses.
These functions look at the whole timeline (a centred moving average or median filter,
gaps merged, short spans joined or dropped), so a span is announced only once more audio
can no longer change it:

- an event's *onset* once the rows its median filter needs have arrived and it is long
  enough that merging can only extend it; its *offset* once no later run can merge
  into it (``event_min_gap_seconds`` past its end are settled);
- a region's *onset* and the previous region's *offset* once the boundary between them
  has, on both sides, a run of argmax labels of at least ``min_region_seconds`` (such a
  run is never joined to a neighbour, so nothing later moves the boundary).

Only the rows since the last such point (plus the filters' context) are kept, so memory
stays flat over hours; a region, or a class's activity, that goes on for more than
``max_span_seconds`` without such a point is split there (the one difference from
offline, and only for spans that long). Streaming a recording therefore gives its offline segment
posteriors (to float rounding: segments run one at a time instead of in batches) and the
same regions or events, once the stream has ended.

When the model cannot keep up with a live source, whole hops are dropped (never a part of
one) while more than ``max_lag_seconds`` of audio waits, and counted in every update and
the summary. End of stream, Ctrl-C (``KeyboardInterrupt``), a closed consumer, a device
that stops or a source silent for ``stall_timeout_seconds`` end the stream cleanly: the
spans still open are closed at the last row and :attr:`Listener.summary` holds the
figures (latency from a block's arrival to its row, real-time factor, drops).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deep_audio.config import override
from deep_audio.errors import DeepAudioError
from deep_audio.events.detection import detect_events, make_regions, owned_bounds
from deep_audio.events.spans import Event
from deep_audio.io.files import atomic_write
from deep_audio.predict.classify import as_predictor
from deep_audio.predict.long_recordings import stitch_frames

logger = logging.getLogger(__name__)

__all__ = ["ListenSummary", "ListenUpdate", "Listener", "StreamRow", "listen",
           "listen_with_callback"]

_EPS = 1e-9  # seconds: times are sums of the same floats; this only absorbs rounding


@dataclass
class StreamRow:
    """One hop's output: a segment's posterior and what it adds to the timeline.

    Attributes
    ----------
    index : int
        Segments since the start, dropped ones included.
    start_seconds, end_seconds : float
        The segment, in seconds from the stream's start.
    posteriors : np.ndarray, shape (n_classes,)
        The segment's posterior (a frame model: the task's pooling of its frames).
    timeline_starts_seconds, timeline_ends_seconds : np.ndarray, shape (k,)
        The rows this segment adds to the timeline that regions and events are made from:
        the segment itself, or a frame model's new frames.
    timeline_posteriors : np.ndarray, shape (k, n_classes)
    latency_seconds : float
        From the arrival of the block that completed the segment to this row.
    """

    index: int
    start_seconds: float
    end_seconds: float
    posteriors: np.ndarray
    timeline_starts_seconds: np.ndarray
    timeline_ends_seconds: np.ndarray
    timeline_posteriors: np.ndarray
    latency_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the ``row`` line of ``deep-audio listen --json``)."""
        row = {"type": "row", "index": self.index, "start_seconds": self.start_seconds,
               "end_seconds": self.end_seconds,
               "posteriors": [round(float(p), 6) for p in self.posteriors],
               "latency_seconds": round(self.latency_seconds, 6)}
        if len(self.timeline_starts_seconds) != 1:  # a frame model: its new frames
            row["frames"] = {
                "start_seconds": [round(float(s), 6) for s in self.timeline_starts_seconds],
                "posteriors": np.round(self.timeline_posteriors, 6).tolist()}
        return row


@dataclass
class ListenUpdate:
    """What one hop (or the end of the stream) brought.

    Attributes
    ----------
    row : StreamRow or None
        ``None`` in the last update, which only closes the spans still open.
    onsets : list of Event
        Spans whose start is now certain: the onset and label are final; the offset and
        confidence are those heard so far.
    offsets : list of Event
        Spans now complete, exactly as offline segmentation gives them (a span's onset is
        always reported before or with its offset).
    dropped_hops : int
        Hops dropped since the previous update (the model fell behind a live source).
    final : bool
        The stream has ended; :attr:`Listener.summary` is set.
    """

    row: StreamRow | None
    onsets: list[Event] = field(default_factory=list)
    offsets: list[Event] = field(default_factory=list)
    dropped_hops: int = 0
    final: bool = False


@dataclass
class ListenSummary:
    """Figures of a finished stream.

    ``real_time_factor`` is compute time (model and post-processing) over audio time:
    below 1 the model keeps up. ``cpu_seconds`` is the process's CPU time over the
    stream (all threads), so ``cpu_share`` is the share of one core used.
    ``max_rows_kept`` is the most timeline rows held at once (flat over hours: rows
    before a completed span are let go).
    """

    source: str
    ended_by: str
    audio_seconds: float
    wall_seconds: float
    compute_seconds: float
    cpu_seconds: float
    rows: int
    dropped_hops: int
    latencies_seconds: np.ndarray
    spans: list[Event]
    clips: list[Path]
    max_rows_kept: int = 0

    @property
    def real_time_factor(self) -> float:
        return self.compute_seconds / self.audio_seconds if self.audio_seconds else math.nan

    @property
    def cpu_share(self) -> float:
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds else math.nan

    def latency_seconds(self, percentile: float | None = None) -> float:
        """Mean latency, or the given percentile (0-100); NaN without rows."""
        if not len(self.latencies_seconds):
            return math.nan
        if percentile is None:
            return float(np.mean(self.latencies_seconds))
        return float(np.percentile(self.latencies_seconds, percentile))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the ``summary`` line of ``deep-audio listen --json``)."""
        return {"type": "summary", "source": self.source, "ended_by": self.ended_by,
                "audio_seconds": round(self.audio_seconds, 3),
                "wall_seconds": round(self.wall_seconds, 3),
                "compute_seconds": round(self.compute_seconds, 3),
                "real_time_factor": round(self.real_time_factor, 4),
                "cpu_share": round(self.cpu_share, 4), "rows": self.rows,
                "dropped_hops": self.dropped_hops,
                "latency_mean_seconds": round(self.latency_seconds(), 6),
                "latency_p99_seconds": round(self.latency_seconds(99), 6),
                "spans": len(self.spans), "max_rows_kept": self.max_rows_kept,
                "clips": [str(path) for path in self.clips]}

    def format(self) -> str:
        """A few lines for a person."""
        lines = [f"# {self.source}: ended by {self.ended_by}",
                 f"# {self.audio_seconds:.1f} s of audio in {self.wall_seconds:.1f} s, "
                 f"{self.rows} rows, {len(self.spans)} spans",
                 f"# real-time factor {self.real_time_factor:.3f} (compute / audio), "
                 f"CPU {100 * self.cpu_share:.0f}% of a core",
                 f"# latency mean {1000 * self.latency_seconds():.1f} ms, "
                 f"99th percentile {1000 * self.latency_seconds(99):.1f} ms"]
        if self.dropped_hops:
            lines.append(f"# dropped {self.dropped_hops} hop(s): the model did not keep up")
        if self.clips:
            lines.append(f"# {len(self.clips)} clip(s) written")
        return "\n".join(lines)


class Listener:
    """A predictor, its segment plan and post-processing, ready to listen to sources.

    Parameters
    ----------
    model : predictor, Classifier, path, or a list of these
        As :func:`~deep_audio.predict.segment_recording` takes it (an ``.onnx`` file runs
        with onnxruntime, without torch; a list is an ensemble).
    precision : str
        Of a PyTorch model: ``fp32``, ``bf16``, ``fp16`` or ``auto``.
    device : str
        Where a PyTorch model file is loaded (``cpu``, ``cuda``, ``auto``).
    max_lag_seconds : float or None
        With a live source, drop whole hops while more audio than this waits to be
        classified; ``None``: never drop (a pipe of a file, a fast replay).
    stall_timeout_seconds : float or None
        End the stream when a live source delivers nothing for this long; ``None``: wait.
    save_events_dir : str or PathLike, optional
        Write the audio of each completed span there (WAV), from ``pre_roll_seconds``
        before its onset to ``post_roll_seconds`` after its offset.
    pre_roll_seconds, post_roll_seconds : float
    history_seconds : float
        Audio kept for clips; a clip reaching further back starts where the history does.
    max_span_seconds : float or None
        A region or a class's activity that goes on longer than this without a point
        where it can be settled is split there (its part so far reported as ended), so
        that memory stays bounded; shorter spans come out exactly as offline. ``None``:
        never split (the rows of an endless span are all kept).
    **overrides
        Settings as :func:`~deep_audio.predict.segment_recording` takes them
        (``segment_hop_seconds``, ``smoothing_segments``, ``min_region_seconds``,
        ``event_median_filter_seconds``, ``event_min_gap_seconds``, ...).

    Examples
    --------
    >>> from deep_audio.io.sources import ReplaySource
    >>> listener = Listener("models/tagger.pt")  # doctest: +SKIP
    >>> source = ReplaySource("field.flac", sample_rate=listener.plan.sample_rate)  # doctest: +SKIP
    >>> for update in listener.run(source):  # doctest: +SKIP
    ...     for event in update.offsets:
    ...         print(event.label, event.onset_seconds, event.offset_seconds)
    """

    def __init__(self, model: Any, *, precision: str = "fp32", device: str = "cpu",
                 max_lag_seconds: float | None = 2.0,
                 stall_timeout_seconds: float | None = None,
                 save_events_dir: str | os.PathLike | None = None,
                 pre_roll_seconds: float = 1.0, post_roll_seconds: float = 0.5,
                 history_seconds: float = 60.0, max_span_seconds: float | None = 600.0,
                 **overrides: Any):
        self.predictor = as_predictor(model, precision=precision, device=device)
        self.config = override(self.predictor.config, **overrides)
        self.plan = self.predictor.plan
        if overrides.get("segment_hop_seconds") is not None:
            self.plan = self.plan.with_hop_seconds(self.config.segments.segment_hop_seconds)
        self.class_names = list(self.predictor.class_names)
        self.task = self.predictor.task
        self.frame_seconds = float(getattr(self.task, "frame_seconds", 0.0) or 0.0)
        hop_seconds = self.plan.hop_samples / self.plan.sample_rate
        if self.frame_seconds and hop_seconds < self.frame_seconds / 2:
            raise DeepAudioError(f"segment_hop_seconds={hop_seconds} is under half a frame "
                                 f"({self.frame_seconds} s); streamed frames would overlap")
        for name, value in (("max_lag_seconds", max_lag_seconds),
                            ("stall_timeout_seconds", stall_timeout_seconds)):
            if value is not None and value <= 0:
                raise DeepAudioError(f"{name}={value} must be > 0 (or None)")
        self.max_lag_seconds = max_lag_seconds
        self.stall_timeout_seconds = stall_timeout_seconds
        self.save_events_dir = None if save_events_dir is None else Path(save_events_dir)
        self.pre_roll_seconds = pre_roll_seconds
        self.post_roll_seconds = post_roll_seconds
        self.history_seconds = history_seconds
        self.max_span_seconds = max_span_seconds
        self.overrides = overrides
        self.summary: ListenSummary | None = None
        self._stop_reason: str | None = None  # set by stop(): why the run ends

    def stop(self, reason: str = "a stop request") -> None:
        """End the current :meth:`run` after the update being handled (from the loop,
        another thread or a signal handler): the open spans are closed in a last update,
        as at the end of the source, and the summary says ``reason``. A source that
        delivers nothing holds the stop until its next block (or its stall timeout)."""
        self._stop_reason = reason

    @property
    def timeline_hop_seconds(self) -> float:
        """Seconds between timeline rows: a frame, or the segment hop."""
        return self.frame_seconds or self.plan.hop_samples / self.plan.sample_rate

    def settings(self) -> dict[str, Any]:
        """What the spans are made with (the ``start`` line of ``--json``)."""
        settings = {"sample_rate": self.plan.sample_rate,
                    "segment_seconds": self.plan.segment_samples / self.plan.sample_rate,
                    "segment_hop_seconds": self.plan.hop_samples / self.plan.sample_rate,
                    "task": self.task.name, "spans": "events" if self.task.multi_label
                    else "regions", "min_region_seconds": self.config.inference.min_region_seconds}
        if self.frame_seconds:
            settings["frame_seconds"] = self.frame_seconds
        if self.task.multi_label:
            settings.update({key: np.asarray(value).tolist()
                             for key, value in self._event_settings().items()})
        else:
            settings["smoothing_segments"] = self.config.inference.smoothing_segments
        return settings

    def _event_settings(self) -> dict[str, np.ndarray]:
        """Thresholds, median filter and merge gap per class, as segment_recording takes
        them: the task's own (tuned) settings where it has them, else the inference
        settings; a filter or gap given by name overrides them."""
        n_classes, inference = len(self.class_names), self.config.inference
        own = getattr(self.task, "event_settings", None)
        if own is not None:
            detection = dict(own(n_classes, inference))
        else:
            detection = {"thresholds": self.task.threshold_array(n_classes),
                         "median_filter_seconds": np.full(n_classes, float(
                             inference.frame_median_filter_seconds if self.frame_seconds
                             else inference.event_median_filter_seconds)),
                         "min_gap_seconds": np.full(n_classes,
                                                    float(inference.event_min_gap_seconds))}
        for key, names in (("median_filter_seconds", ("event_median_filter_seconds",
                                                      "frame_median_filter_seconds")),
                           ("min_gap_seconds", ("event_min_gap_seconds",))):
            for name in names:
                if self.overrides.get(name) is not None:
                    detection[key] = np.full(n_classes, float(self.overrides[name]))
        return detection

    def _tracker(self) -> _PerClass | _RegionTracker:
        inference, hop_seconds = self.config.inference, self.timeline_hop_seconds
        max_rows = (None if self.max_span_seconds is None
                    else int(math.ceil(self.max_span_seconds / hop_seconds)))
        if self.task.multi_label:
            detection = self._event_settings()
            return _PerClass([_EventTracker(
                [name], **{key: np.asarray(value)[[index]] for key, value in detection.items()},
                min_duration_seconds=inference.min_region_seconds, hop_seconds=hop_seconds,
                max_rows=max_rows) for index, name in enumerate(self.class_names)])
        return _RegionTracker(self.class_names, smoothing_segments=inference.smoothing_segments,
                              min_region_seconds=inference.min_region_seconds,
                              hop_seconds=hop_seconds, max_rows=max_rows)

    def run(self, source: Any) -> Iterator[ListenUpdate]:
        """Listen to ``source`` until it ends; one :class:`ListenUpdate` per hop and a
        last one (``final``) that closes the open spans. :attr:`summary` is set when the
        generator ends, also when it is closed early."""
        if source.sample_rate != self.plan.sample_rate:
            raise DeepAudioError(f"{source.name} gives {source.sample_rate} Hz; the model "
                                 f"needs {self.plan.sample_rate} Hz")
        # one forward pass and one round of post-processing before the audio comes, so
        # that the first row's latency is not the one-off set-up (the runtime's, and
        # scipy's median filter imported on first use: 0.3 s)
        self.predictor.posteriors(np.zeros((1, self.plan.segment_samples), np.float32))
        times = np.arange(3.0)
        rehearsal = self._tracker()
        rehearsal.add(times, times + 1, np.zeros((3, len(self.class_names))))
        rehearsal.finish()
        self._stop_reason = None
        feed = _Feed(source, stall_timeout_seconds=self.stall_timeout_seconds)
        clips = (_ClipWriter(self.save_events_dir, self.plan.sample_rate,
                             pre_roll_seconds=self.pre_roll_seconds,
                             post_roll_seconds=self.post_roll_seconds,
                             history_seconds=self.history_seconds)
                 if self.save_events_dir is not None else None)
        state = _RunState(tracker=self._tracker())
        ended_by = "end of stream"
        cpu_started, wall_started = time.process_time(), time.monotonic()
        closed = False
        try:
            yield from self._rows(feed, clips, state)
            ended_by = feed.ended_by
        except KeyboardInterrupt:
            ended_by = "interrupt (Ctrl-C)"
        except GeneratorExit:
            ended_by, closed = "consumer closed", True
        finally:
            feed.close()
            onsets, offsets = state.tracker.finish()
            state.spans += offsets
            if clips is not None:
                clips.request(offsets)
                state.clips += clips.flush(math.inf)
            self.summary = ListenSummary(
                source=source.name, ended_by=ended_by,
                audio_seconds=feed.samples / self.plan.sample_rate,
                wall_seconds=time.monotonic() - wall_started,
                compute_seconds=state.compute_seconds,
                cpu_seconds=time.process_time() - cpu_started, rows=state.rows,
                dropped_hops=state.dropped, latencies_seconds=np.asarray(state.latencies),
                spans=state.spans, clips=state.clips, max_rows_kept=state.max_rows_kept)
        if not closed:
            yield ListenUpdate(None, onsets, offsets, final=True)

    def _rows(self, feed: _Feed, clips: _ClipWriter | None, state: _RunState
              ) -> Iterator[ListenUpdate]:
        plan, rate = self.plan, self.plan.sample_rate
        stream = plan.stream(feed if clips is None else clips.watch(feed))
        previous: tuple[float, np.ndarray] | None = None  # a frame model's last segment
        drop = feed.live and self.max_lag_seconds is not None
        for index, (start, segment) in enumerate(stream):
            if drop and stream.n_samples is None and feed.lag_seconds() > self.max_lag_seconds:
                state.dropped += 1
                state.dropped_since += 1
                continue
            began = time.perf_counter()
            output = self.predictor.posteriors(segment[None])[0]
            n_samples = stream.n_samples or start + plan.segment_samples
            starts, ends = plan.times([start], n_samples)
            if output.ndim == 2:  # a frame model: (n_frames, n_classes), stitched on
                if previous is None:
                    t_starts, t_ends, t_rows = stitch_frames(starts, output[None],
                                                             self.frame_seconds)
                else:
                    t_starts, t_ends, t_rows = stitch_frames(
                        np.array([previous[0], starts[0]]), np.stack([previous[1], output]),
                        self.frame_seconds)
                    keep = len(previous[1])  # the previous segment's frames come first
                    t_starts, t_ends, t_rows = t_starts[keep:], t_ends[keep:], t_rows[keep:]
                previous = (float(starts[0]), output)
            else:
                t_starts, t_ends, t_rows = starts, ends, output[None]
            onsets, offsets = state.tracker.add(t_starts, t_ends, t_rows)
            state.max_rows_kept = max(state.max_rows_kept, state.tracker.rows_kept)
            state.spans += offsets
            if clips is not None:
                clips.request(offsets)
                state.clips += clips.flush(feed.samples / rate)
            state.compute_seconds += time.perf_counter() - began
            row = StreamRow(index, float(starts[0]), float(ends[0]),
                            self.task.file_posteriors(output[None]), t_starts, t_ends, t_rows,
                            latency_seconds=time.monotonic() - feed.arrival)
            state.rows += 1
            state.latencies.append(row.latency_seconds)
            dropped, state.dropped_since = state.dropped_since, 0
            yield ListenUpdate(row, onsets, offsets, dropped_hops=dropped)
            if self._stop_reason is not None:
                feed.ended_by = self._stop_reason
                return


@dataclass
class _RunState:
    tracker: Any
    rows: int = 0
    dropped: int = 0
    dropped_since: int = 0
    compute_seconds: float = 0.0
    max_rows_kept: int = 0
    latencies: list[float] = field(default_factory=list)
    spans: list[Event] = field(default_factory=list)
    clips: list[Path] = field(default_factory=list)


def listen(model: Any, source: Any, **settings: Any) -> Iterator[ListenUpdate]:
    """Updates (:class:`ListenUpdate`) of ``model`` listening to ``source``, one per hop.

    ``settings`` are :class:`Listener`'s. The summary of the stream is the generator's
    return value (``StopIteration.value``); use :class:`Listener` to keep it at hand.

    Examples
    --------
    >>> from deep_audio.io.sources import PcmSource
    >>> import sys
    >>> source = PcmSource(sys.stdin.buffer, rate=16000, sample_rate=16000)  # doctest: +SKIP
    >>> for update in listen("models/tagger.onnx", source):  # doctest: +SKIP
    ...     if update.row is not None:
    ...         print(update.row.start_seconds, update.row.posteriors.round(2))
    """
    listener = Listener(model, **settings)
    yield from listener.run(source)
    return listener.summary


def listen_with_callback(model: Any, source: Any, callback: Callable[[ListenUpdate], Any],
                         **settings: Any) -> ListenSummary:
    """Call ``callback(update)`` for every update of ``model`` listening to ``source``;
    returns the summary once the stream ends. ``callback`` returning ``False`` stops
    listening (the spans still open are closed and passed to it once more)."""
    listener = Listener(model, **settings)
    for update in listener.run(source):
        if callback(update) is False:
            listener.stop()
    return listener.summary


class _Feed:
    """The source's blocks, read in a thread for a live source so that the model's
    time does not hold the source back; knows when the last block arrived, how much
    audio waits, and why the stream ended."""

    def __init__(self, source: Any, *, stall_timeout_seconds: float | None):
        self.source = source
        self.live = bool(getattr(source, "live", True))
        self.stall_timeout_seconds = stall_timeout_seconds
        self.rate = source.sample_rate
        self.arrival = time.monotonic()
        self.samples = 0  # handed on so far
        self.ended_by = "end of stream"
        self._waiting = 0  # read but not handed on
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue()

    def lag_seconds(self) -> float:
        with self._lock:
            return self._waiting / self.rate

    def __iter__(self) -> Iterator[np.ndarray]:
        if not self.live:
            for block in self.source.blocks():
                self.arrival = time.monotonic()
                self.samples += len(block)
                yield block
            self.ended_by = getattr(self.source, "ended_by", None) or self.ended_by
            return
        thread = threading.Thread(target=self._read, name="deep_audio-listen-source",
                                  daemon=True)
        thread.start()
        while True:
            try:
                item = self._queue.get(timeout=self.stall_timeout_seconds)
            except queue.Empty:
                self.ended_by = (f"a stalled source (no audio for "
                                 f"{self.stall_timeout_seconds:g} s)")
                logger.warning("%s: no audio for %g s; stopping", self.source.name,
                               self.stall_timeout_seconds)
                return
            if item is None:  # the source ended; it may say why (a device unplugged)
                self.ended_by = getattr(self.source, "ended_by", None) or self.ended_by
                return
            if isinstance(item, _Failure):
                error = item.error  # the reading thread's DeepAudioError, raised here
                raise error
            block, arrival = item
            with self._lock:
                self._waiting -= len(block)
            self.arrival = arrival
            self.samples += len(block)
            yield block

    def _read(self) -> None:
        try:
            for block in self.source.blocks():
                with self._lock:
                    self._waiting += len(block)
                self._queue.put((block, time.monotonic()))
                if self._stop.is_set():
                    break
        except DeepAudioError as error:  # e.g. no microphone: raised where it is read
            self._queue.put(_Failure(error))
            return
        except OSError as error:  # a device or pipe that fails: the end of the stream
            self.ended_by = f"a source error ({error})"
        self._queue.put(None)

    def close(self) -> None:
        self._stop.set()
        self.source.close()


@dataclass
class _Failure:
    """An error of the reading thread, passed to the listening one."""

    error: DeepAudioError


class _ClipWriter:
    """The last ``history_seconds`` of audio, and WAV clips of spans cut from it."""

    def __init__(self, folder: Path, sample_rate: int, *, pre_roll_seconds: float,
                 post_roll_seconds: float, history_seconds: float):
        self.folder = folder
        self.rate = sample_rate
        self.pre_roll_seconds = pre_roll_seconds
        self.post_roll_seconds = post_roll_seconds
        self.history_samples = int(history_seconds * sample_rate)
        self.blocks: deque[np.ndarray] = deque()
        self.first = 0  # sample index of the first sample kept
        self.total = 0
        self.pending: list[Event] = []

    def watch(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Pass ``blocks`` on, keeping the recent ones."""
        for block in blocks:
            self.blocks.append(block)
            self.total += len(block)
            while self.blocks and self.total - self.first - len(self.blocks[0]) \
                    >= self.history_samples:
                self.first += len(self.blocks.popleft())
            yield block

    def request(self, spans: list[Event]) -> None:
        self.pending += spans

    def flush(self, heard_seconds: float) -> list[Path]:
        """Write the clips whose post-roll has been heard; returns the files written."""
        written, waiting = [], []
        for span in self.pending:
            end_seconds = span.offset_seconds + self.post_roll_seconds
            if end_seconds > heard_seconds and math.isfinite(heard_seconds):
                waiting.append(span)
                continue
            written.append(self._write(span, end_seconds))
        self.pending = waiting
        return written

    def _write(self, span: Event, end_seconds: float) -> Path:
        import soundfile

        audio = np.concatenate(list(self.blocks)) if self.blocks else np.zeros(0, np.float32)
        first = max(self.first, int((span.onset_seconds - self.pre_roll_seconds) * self.rate))
        stop = min(self.total, int(math.ceil(end_seconds * self.rate)))
        if first > int(span.onset_seconds * self.rate):
            logger.warning("clip of %s at %.2f s starts %.2f s late: beyond the history kept",
                           span.label, span.onset_seconds,
                           first / self.rate - span.onset_seconds)
        clip = audio[first - self.first:max(first, stop) - self.first]
        label = re.sub(r"[^\w.-]+", "_", span.label)
        path = self.folder / f"{span.onset_seconds:010.3f}s_{label}.wav"
        atomic_write(path, lambda stream: soundfile.write(stream, clip, self.rate,
                                                          format="WAV", subtype="PCM_16"))
        return path


def _clip(spans: list[Event], anchor_seconds: float) -> list[Event]:
    """Spans as seen from ``anchor_seconds`` on: those ending before it left out, one
    reaching across it starting there (only after a forced split; see ``max_rows``)."""
    clipped = []
    for span in spans:
        if span.onset_seconds >= anchor_seconds - _EPS:
            clipped.append(span)
        elif span.offset_seconds > anchor_seconds + _EPS:
            clipped.append(Event(anchor_seconds, span.offset_seconds, span.label,
                                 span.confidence))
    return clipped


class _PerClass:
    """One tracker per class (a tagger's classes are detected independently, so a class
    that is always on holds back only its own rows)."""

    def __init__(self, trackers: list[Any]):
        self.trackers = trackers

    @property
    def rows_kept(self) -> int:
        return max(tracker.rows_kept for tracker in self.trackers)

    def add(self, starts: np.ndarray, ends: np.ndarray, rows: np.ndarray
            ) -> tuple[list[Event], list[Event]]:
        return self._merge([tracker.add(starts, ends, rows[:, [index]])
                            for index, tracker in enumerate(self.trackers)])

    def finish(self) -> tuple[list[Event], list[Event]]:
        return self._merge([tracker.finish() for tracker in self.trackers])

    @staticmethod
    def _merge(results: list[tuple[list[Event], list[Event]]]
               ) -> tuple[list[Event], list[Event]]:
        key = lambda e: (e.onset_seconds, e.label)  # noqa: E731
        return (sorted((e for onsets, _ in results for e in onsets), key=key),
                sorted((e for _, offsets in results for e in offsets), key=key))


class _Rows:
    """The rows a tracker keeps (their segment times and posteriors); a tracker's
    ``_update`` turns them into (started, ended) spans."""

    def _reset_rows(self, n_classes: int) -> None:
        self.starts = np.zeros(0)
        self.ends = np.zeros(0)
        self.rows = np.zeros((0, n_classes))

    def add(self, starts: np.ndarray, ends: np.ndarray, rows: np.ndarray
            ) -> tuple[list[Event], list[Event]]:
        self.starts = np.concatenate([self.starts, starts])
        self.ends = np.concatenate([self.ends, ends])
        self.rows = np.concatenate([self.rows, np.asarray(rows, np.float64)])
        return self._update(ended=False)

    def finish(self) -> tuple[list[Event], list[Event]]:
        return self._update(ended=True)

    @property
    def rows_kept(self) -> int:
        return len(self.starts)


class _EventTracker(_Rows):
    """Events of a growing timeline, announced once more rows cannot change them.

    Each update runs :func:`detect_events` on the rows kept. Rows more than
    ``lookahead_rows`` from the newest are *settled*: their median-filtered values are
    final. An event's offset is final once ``min_gap_seconds`` after it are settled and
    no run there joined it; its onset once it is settled and the settled time from it
    exceeds ``min_duration + min_gap`` (then either it ended for good, long enough, or
    its active part alone is long enough). Rows before an *anchor* (a time inside no
    run, with every event before it complete) are dropped, keeping the filter's
    context and the gap's reach so that everything after the anchor comes out as the
    whole timeline gives it. A class active without a break for more than ``max_rows``
    rows is split: the open event ends at a forced anchor and goes on from there.
    """

    def __init__(self, class_names: list[str], *, thresholds: np.ndarray,
                 median_filter_seconds: np.ndarray, min_gap_seconds: np.ndarray,
                 min_duration_seconds: float, hop_seconds: float,
                 max_rows: int | None = None):
        n_classes = len(class_names)
        self.names = list(class_names)
        self.detect = dict(thresholds=thresholds, median_filter_seconds=median_filter_seconds,
                           min_gap_seconds=min_gap_seconds)
        self.min_duration = np.broadcast_to(np.asarray(min_duration_seconds, float),
                                            (n_classes,))
        self.min_gap = np.broadcast_to(np.asarray(min_gap_seconds, float), (n_classes,))
        # half the longest median filter, in rows, and one more for the last row's end
        self.lookahead_rows = int(math.ceil(float(np.max(median_filter_seconds))
                                            / hop_seconds / 2)) + 2
        gap_rows = int(math.ceil(float(np.max(self.min_gap)) / hop_seconds))
        self.max_rows = None if max_rows is None else max(
            max_rows, 4 * (self.lookahead_rows + gap_rows) + 256)
        self._reset_rows(n_classes)
        self.anchor_seconds = -math.inf
        self.announced: set[tuple[str, float]] = set()
        self.done: set[tuple[str, float]] = set()

    def _events(self, min_duration: Any) -> list[Event]:
        return _clip(detect_events(self.starts, self.ends, self.rows, self.names,
                                   **self.detect, min_duration_seconds=min_duration),
                     self.anchor_seconds)

    def _update(self, *, ended: bool) -> tuple[list[Event], list[Event]]:
        if not len(self.starts):
            return [], []
        n = len(self.starts)
        if not ended and np.all(self.rows.max(axis=0) < self.detect["thresholds"]):
            # No row reaches its class's threshold, so no median does either: no run and
            # no event, open or pending. Keep the last rows for the filter's context
            # (whether a median reaches the threshold depends only on how many values in
            # its window do, so the context cut short changes nothing) and the hop.
            keep = 2 * self.lookahead_rows + 8
            if n > keep + 32:
                self._cut(n - keep, float(owned_bounds(self.starts, self.ends)[n - keep + 1]))
            return [], []
        events = self._events(self.min_duration)
        bounds = owned_bounds(self.starts, self.ends)
        settled = n if ended else max(0, n - self.lookahead_rows)
        settled_seconds = bounds[settled]
        onsets, offsets = [], []
        for event in events:
            key = (event.label, round(event.onset_seconds, 6))
            if key in self.done:
                continue
            index = self.names.index(event.label)
            gap, shortest = self.min_gap[index], self.min_duration[index]
            final = ended or (event.offset_seconds < settled_seconds
                              and event.offset_seconds + gap <= settled_seconds + _EPS)
            started = final or (event.onset_seconds < settled_seconds
                                and settled_seconds - event.onset_seconds
                                >= shortest + gap + _EPS)
            if started and key not in self.announced:
                self.announced.add(key)
                onsets.append(event)
            if final:
                self.done.add(key)
                offsets.append(event)
        if not ended and not self._trim(bounds, settled) and self.max_rows is not None \
                and n > self.max_rows:
            split_onsets, split_offsets = self._split(events, bounds, settled)
            onsets += split_onsets
            offsets += split_offsets
        return onsets, offsets

    def _trim(self, bounds: np.ndarray, settled: int) -> bool:
        """Drop the rows before the latest anchor; whether any were dropped."""
        if settled < 2 * self.lookahead_rows + 64:  # too few rows to be worth it
            return False
        gap = float(np.max(self.min_gap))
        anchor = min(settled - 1, int(np.searchsorted(bounds, bounds[settled] - gap,
                                                      side="right")) - 1)
        runs = self._events(0.0)  # every merged run, short ones too
        moved = True
        while moved and anchor > 0:
            moved = False
            for run in runs:
                if run.onset_seconds < bounds[anchor] - _EPS < run.offset_seconds - 2 * _EPS:
                    anchor = int(np.searchsorted(bounds, run.onset_seconds - _EPS))
                    moved = True
        # keep the filter's context before the anchor and the gap's reach back from it
        cut = anchor - self.lookahead_rows - 1
        while cut > 0 and bounds[anchor] - bounds[cut + self.lookahead_rows] < gap + _EPS:
            cut -= 1
        if cut < 64 or bounds[anchor] <= self.anchor_seconds:
            return False
        self._cut(cut, float(bounds[anchor]))
        return True

    def _split(self, events: list[Event], bounds: np.ndarray, settled: int
               ) -> tuple[list[Event], list[Event]]:
        """End what is open before a forced anchor half ``max_rows`` back (the one place
        where a live stream differs from offline: an event longer than that is split)."""
        anchor = min(settled - 1, len(self.starts) - self.max_rows // 2)
        anchor_seconds = float(bounds[anchor])
        onsets, offsets = [], []
        for event in events:
            key = (event.label, round(event.onset_seconds, 6))
            if key in self.done or event.onset_seconds >= anchor_seconds - _EPS:
                continue
            if key not in self.announced:
                onsets.append(event)
            offsets.append(Event(event.onset_seconds, min(event.offset_seconds,
                                                          anchor_seconds),
                                 event.label, event.confidence))
        logger.info("%s: active for %d rows without a break; split at %.2f s",
                    "/".join(self.names), self.max_rows, anchor_seconds)
        self._cut(anchor - self.lookahead_rows - 1, anchor_seconds)
        return onsets, offsets

    def _cut(self, cut: int, anchor_seconds: float) -> None:
        self.anchor_seconds = anchor_seconds
        self.starts, self.ends, self.rows = (self.starts[cut:], self.ends[cut:],
                                             self.rows[cut:])
        self.announced = {k for k in self.announced if k[1] >= anchor_seconds - 1e-6}
        self.done = {k for k in self.done if k[1] >= anchor_seconds - 1e-6}


class _RegionTracker(_Rows):
    """Regions of a growing timeline, announced once more rows cannot change them.

    Each update runs :func:`make_regions` on the rows kept, and once more with
    ``min_region_seconds=0`` for the argmax runs. Rows more than ``smoothing_segments //
    2`` from the newest are settled (their moving average is final). A boundary between
    two runs that are both at least ``min_region_seconds`` long in settled rows is
    permanent (such runs are never joined), and the regions before it are final. Rows
    before the run left of the latest permanent boundary (less the moving average's
    context) are dropped; that run keeps the boundary a barrier. Past ``max_rows`` rows
    without a permanent boundary the open region is split at a forced anchor.
    """

    def __init__(self, class_names: list[str], *, smoothing_segments: int,
                 min_region_seconds: float, hop_seconds: float = 1.0,
                 max_rows: int | None = None):
        self.names = list(class_names)
        self.smoothing_segments = smoothing_segments
        self.min_region_seconds = min_region_seconds
        self.lookahead_rows = max(1, smoothing_segments // 2) + 1
        self.context_rows = max(0, (smoothing_segments - 1) // 2)
        region_rows = int(math.ceil(min_region_seconds / hop_seconds))
        self.max_rows = None if max_rows is None else max(
            max_rows, 4 * (self.lookahead_rows + region_rows) + 256)
        self._reset_rows(len(class_names))
        self.anchor_seconds = -math.inf
        self.announced: set[float] = set()

    def _regions(self, min_region_seconds: float) -> list[Event]:
        return _clip(make_regions(self.starts, self.ends, self.rows, self.names,
                                  smoothing_segments=self.smoothing_segments,
                                  min_region_seconds=min_region_seconds),
                     self.anchor_seconds)

    def _update(self, *, ended: bool) -> tuple[list[Event], list[Event]]:
        if not len(self.starts):
            return [], []
        regions = self._regions(self.min_region_seconds)
        runs = self._regions(0.0) if self.min_region_seconds > 0 else regions
        bounds = owned_bounds(self.starts, self.ends)
        n = len(self.starts)
        settled = n if ended else max(0, n - self.lookahead_rows)
        settled_seconds = bounds[settled]
        shortest = self.min_region_seconds
        boundary, left_run = (bounds[n] + 1.0 if ended else None), None
        if not ended:
            for left, right in zip(runs, runs[1:]):
                if right.onset_seconds >= settled_seconds - _EPS:
                    break
                if (left.offset_seconds - left.onset_seconds >= shortest
                        and min(right.offset_seconds, settled_seconds) - right.onset_seconds
                        >= shortest):
                    boundary, left_run = right.onset_seconds, left
        # the region at the anchor (or the start): certain once its run is long enough
        first = runs[0] if runs else None
        first_opens = (first is not None and first.onset_seconds < settled_seconds
                       and min(first.offset_seconds, settled_seconds) - first.onset_seconds
                       >= shortest)
        onsets, offsets = [], []
        for region in regions:
            is_final = boundary is not None and region.offset_seconds <= boundary + _EPS
            opens = (is_final or (boundary is not None
                                  and abs(region.onset_seconds - boundary) <= _EPS)
                     or (first_opens and region is regions[0]))
            key = round(region.onset_seconds, 6)
            if opens and key not in self.announced:
                self.announced.add(key)
                onsets.append(region)
            if is_final:
                offsets.append(region)
        if boundary is not None and not ended:
            cut = int(np.searchsorted(bounds, left_run.onset_seconds - _EPS)) \
                - self.context_rows
            self._cut(cut if cut >= 64 else 0, float(boundary))
        elif not ended and self.max_rows is not None and n > self.max_rows:
            # no permanent boundary for max_rows rows: split the open region
            anchor = min(settled - 1, n - self.max_rows // 2)
            anchor_seconds = float(bounds[anchor])
            for region in regions:
                if region.onset_seconds >= anchor_seconds - _EPS:
                    break
                if round(region.onset_seconds, 6) not in self.announced:
                    onsets.append(region)
                offsets.append(Event(region.onset_seconds, min(region.offset_seconds,
                                                               anchor_seconds),
                                     region.label, region.confidence))
            logger.info("no lasting change of label for %d rows; region split at %.2f s",
                        self.max_rows, anchor_seconds)
            self._cut(anchor - self.context_rows, anchor_seconds)
        return onsets, offsets

    def _cut(self, cut: int, anchor_seconds: float) -> None:
        self.anchor_seconds = anchor_seconds
        self.announced = {k for k in self.announced if k >= anchor_seconds - 1e-6}
        if cut > 0:
            self.starts, self.ends, self.rows = (self.starts[cut:], self.ends[cut:],
                                                 self.rows[cut:])
