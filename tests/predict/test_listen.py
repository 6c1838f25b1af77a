"""Listening live (deep_audio.predict.stream, deep_audio.io.sources, deep-audio listen):
a replayed or piped recording gives the offline segment posteriors and the same regions
or events as segment_recording, from PyTorch and ONNX models; JSON lines; clean ends on
EOF, Ctrl-C and a stalled source; dropped hops counted; clips saved.

Tolerance: posteriors within 1e-5 (a segment runs alone instead of in a batch of 32, so
the float sums may round differently); span labels and times equal to 1e-9 s (they are
the same segment times); confidences within 1e-5.

The models are small networks with random weights (fixed seeds): equality needs no
training. A tagger's and a frame detector's thresholds are set near the median of their
posteriors on the recording (in a gap between them, away from float rounding), so that
they switch on and off many times.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest
import soundfile
import torch

from deep_audio.errors import SourceError
from deep_audio.io.model_files import save_model
from deep_audio.io.sources import MicrophoneSource, PcmSource, ReplaySource
from deep_audio.models.classifier import Classifier
from deep_audio.predict.classify import as_predictor
from deep_audio.predict.long_recordings import segment_recording
from deep_audio.predict.stream import Listener, listen, listen_with_callback
from deep_audio.tasks import MultiLabel, SingleLabel, make_task
from tests.conftest import EXPORT_PACKAGES, REPO, needs, small_config, tone

RATE = 8000
POSTERIOR_TOLERANCE = 1e-5
KINDS = ("single_label", "multi_label", "frame_detection")
# Per kind, settings that make the post-processing do some work: short regions joined
# to a neighbour; events merged over gaps and short ones dropped.
SETTINGS = {"single_label": {"min_region_seconds": 1.0},
            "multi_label": {"min_region_seconds": 0.5, "event_min_gap_seconds": 0.5},
            "frame_detection": {"min_region_seconds": 0.1, "event_min_gap_seconds": 0.2}}


def write_recording(path, seconds: float, *, seed: int = 0):
    """Low tones, high tones and noise in pieces of 0.3-2 s; 16-bit WAV at 8 kHz."""
    rng = np.random.default_rng(seed)
    parts, total = [], 0.0
    while total < seconds:
        kind, piece_seconds = rng.integers(3), float(rng.uniform(0.3, 2.0))
        total += piece_seconds
        parts.append(tone([300, 2500][kind], piece_seconds, RATE, noise=0.05, seed=len(parts))
                     if kind < 2 else
                     (0.2 * rng.standard_normal(int(piece_seconds * RATE))).astype(np.float32))
    soundfile.write(path, np.concatenate(parts), RATE, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return write_recording(tmp_path_factory.mktemp("listen") / "recording.wav", 45.0)


@pytest.fixture(scope="module")
def short_recording(tmp_path_factory):
    return write_recording(tmp_path_factory.mktemp("listen") / "short.wav", 15.0, seed=1)


def make_model(kind: str, folder, recording):
    """A small random network of the kind, saved; a tagger's thresholds near the median
    of its posteriors on ``recording``."""
    torch.manual_seed(0)
    if kind == "frame_detection":  # 2 s segments, 40 ms frames
        config = small_config(segment_seconds=2.0, segment_hop_seconds=2.0)
        model = Classifier.seed(config, ["low", "high"], make_task(kind))
    else:
        task = SingleLabel() if kind == "single_label" else MultiLabel()
        model = Classifier.seed(small_config(), ["low", "high", "noise"], task)
    model.eval()
    if model.task.multi_label:
        posteriors = segment_recording(recording, model).posteriors
        model.task = model.task.with_thresholds([wide_gap_threshold(column)
                                                 for column in posteriors.T])
    return save_model(folder / f"{kind}.pt", model)


def wide_gap_threshold(values: np.ndarray) -> float:
    """A threshold near the median, in the widest gap between the values there, so that
    no posterior lies within float rounding of it (a random network's posteriors crowd
    together, and a segment run alone rounds differently from one in a batch)."""
    middle = np.sort(values)[len(values) // 4:3 * len(values) // 4 + 1]
    widest = int(np.argmax(np.diff(middle)))
    return float(middle[widest] + middle[widest + 1]) / 2


@pytest.fixture(scope="module")
def models(tmp_path_factory, recording):
    folder = tmp_path_factory.mktemp("listen_models")
    return {kind: make_model(kind, folder, recording) for kind in KINDS}


def collect(updates):
    """Rows, onsets, offsets and updates of a listener's run."""
    rows, onsets, offsets, seen = [], [], [], []
    for number, update in enumerate(updates):
        seen.append(update)
        if update.row is not None:
            rows.append(update.row)
        onsets += [(number, e) for e in update.onsets]
        offsets += [(number, e) for e in update.offsets]
    return rows, onsets, offsets, seen


def spans_of(result):
    return result.events if result.events or result.settings.get("thresholds") \
        else result.regions


def assert_same_spans(streamed, offline):
    key = lambda e: (e.onset_seconds, e.label)  # noqa: E731
    streamed, offline = sorted(streamed, key=key), sorted(offline, key=key)
    assert [e.label for e in streamed] == [e.label for e in offline]
    assert np.allclose([(e.onset_seconds, e.offset_seconds) for e in streamed],
                       [(e.onset_seconds, e.offset_seconds) for e in offline],
                       rtol=0, atol=1e-9)
    assert np.allclose([e.confidence for e in streamed], [e.confidence for e in offline],
                       rtol=0, atol=POSTERIOR_TOLERANCE)


def assert_like_offline(model, recording, settings):
    offline = segment_recording(recording, model, **settings)
    listener = Listener(model, **settings)
    source = ReplaySource(recording, sample_rate=listener.plan.sample_rate, realtime=False)
    rows, onsets, offsets, updates = collect(listener.run(source))
    starts = np.concatenate([row.timeline_starts_seconds for row in rows])
    ends = np.concatenate([row.timeline_ends_seconds for row in rows])
    posteriors = np.concatenate([row.timeline_posteriors for row in rows])
    assert np.array_equal(starts, offline.starts_seconds)
    assert np.array_equal(ends, offline.ends_seconds)
    assert np.allclose(posteriors, offline.posteriors, rtol=0, atol=POSTERIOR_TOLERANCE)
    spans = spans_of(offline)
    assert len(spans) >= 5  # the post-processing had something to do
    assert_same_spans([e for _, e in offsets], spans)
    # every onset announced was right, and came no later than its offset
    announced = {(e.label, round(e.onset_seconds, 6)): n for n, e in onsets}
    ended = {(e.label, round(e.onset_seconds, 6)): n for n, e in offsets}
    assert announced.keys() == ended.keys()
    assert all(announced[key] <= ended[key] for key in ended)
    # live: most spans end before the stream does, and the rows kept stay few
    assert sum(n < len(updates) - 1 for n, _ in offsets) >= len(spans) // 2
    summary = listener.summary
    assert summary.ended_by == "end of stream" and summary.dropped_hops == 0
    assert summary.rows == len(rows) and len(summary.spans) == len(spans)
    assert summary.max_rows_kept < len(starts)
    assert summary.audio_seconds == pytest.approx(offline.duration_seconds)
    return listener


@pytest.mark.parametrize("kind", KINDS)
def test_replay_gives_the_offline_posteriors_and_spans(kind, models, recording):
    assert_like_offline(models[kind], recording, SETTINGS[kind])


def test_replay_with_default_settings_and_a_short_file(models, tmp_path):
    short = tmp_path / "short.wav"  # under one segment
    soundfile.write(short, tone(440.0, 0.3, RATE), RATE, subtype="PCM_16")
    for kind in KINDS:
        offline = segment_recording(short, models[kind])
        rows, _, offsets, _ = collect(listen(models[kind], ReplaySource(
            short, sample_rate=RATE, realtime=False)))
        assert len(rows) == 1 and rows[0].end_seconds == pytest.approx(
            offline.duration_seconds)
        assert np.allclose(rows[0].timeline_posteriors, offline.posteriors, atol=1e-5)
        assert_same_spans([e for _, e in offsets], spans_of(offline))


@pytest.mark.slow
@needs(*EXPORT_PACKAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_an_onnx_export_streams_like_itself_offline(kind, models, recording, tmp_path):
    from deep_audio.export import to_onnx
    from deep_audio.io.model_files import load_model

    onnx_path = to_onnx(load_model(models[kind]), tmp_path / f"{kind}.onnx")
    listener = assert_like_offline(onnx_path, recording, SETTINGS[kind])
    assert type(listener.predictor).__name__ == "OnnxClassifier"


def python(*args, **kwargs):
    return subprocess.Popen([sys.executable, *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
@pytest.mark.slow
def test_pcm_through_a_pipe_gives_the_offline_answer(models, short_recording):
    """s16le written to the command's standard input in small pieces (the seed
    spelling), JSON lines out; EOF ends it with a summary."""
    recording = short_recording
    samples, _ = soundfile.read(recording, dtype="int16")
    process = python("-m", "deep_audio.bin.listen", "-m", str(models["multi_label"]),
                     "--stdin", "--rate", str(RATE), "--json", "--no-drop",
                     *sum(([f"--{k.replace('_', '-')}", str(v)]
                           for k, v in SETTINGS["multi_label"].items()), []),
                     stdin=subprocess.PIPE)

    def write():
        data = samples.astype("<i2").tobytes()
        for first in range(0, len(data), 3001):  # odd sizes: frames split across writes
            process.stdin.write(data[first:first + 3001])
        process.stdin.close()

    writer = threading.Thread(target=write)
    writer.start()
    out = process.stdout.read()  # not communicate(): it would close stdin at once
    err = process.stderr.read()
    writer.join()
    process.wait(timeout=120)
    assert process.returncode == 0, err.decode()
    records = json_lines(out.decode())
    offline = segment_recording(recording, models["multi_label"], **SETTINGS["multi_label"])
    rows = [r for r in records if r["type"] == "row"]
    assert np.allclose([r["posteriors"] for r in rows], offline.posteriors, atol=2e-5)
    assert [r["start_seconds"] for r in rows] == pytest.approx(offline.starts_seconds.tolist())
    from deep_audio.events.spans import Event
    streamed = [Event(r["onset_seconds"], r["offset_seconds"], r["label"], r["confidence"])
                for r in records if r["type"] == "offset"]
    assert_same_spans(streamed, offline.events)
    assert records[-1]["type"] == "summary" and records[-1]["ended_by"] == "end of stream"
    assert "real-time factor" in err.decode()


# The JSON lines: each type and its keys with their types (docs/listening.md).
SCHEMA = {
    "start": {"model": str, "source": str, "class_names": list, "sample_rate": int,
              "segment_seconds": float, "segment_hop_seconds": float, "task": str,
              "spans": str},
    "row": {"index": int, "start_seconds": float, "end_seconds": float, "posteriors": list,
            "latency_seconds": float},
    "onset": {"kind": str, "label": str, "onset_seconds": float, "confidence": float},
    "offset": {"kind": str, "label": str, "onset_seconds": float, "offset_seconds": float,
               "confidence": float},
    "summary": {"source": str, "ended_by": str, "audio_seconds": float,
                "wall_seconds": float, "compute_seconds": float, "real_time_factor": float,
                "cpu_share": float, "rows": int, "dropped_hops": int,
                "latency_mean_seconds": float, "latency_p99_seconds": float, "spans": int,
                "max_rows_kept": int, "clips": list},
}


def check_schema(records: list[dict]) -> None:
    assert records[0]["type"] == "start" and records[-1]["type"] == "summary"
    n_classes = len(records[0]["class_names"])
    for record in records:
        assert record["type"] in SCHEMA, record
        for key, kind in SCHEMA[record["type"]].items():
            value = record[key]
            assert isinstance(value, (int, float) if kind is float else kind), (key, record)
        if record["type"] == "row":
            assert len(record["posteriors"]) == n_classes


@pytest.mark.slow
@needs(*EXPORT_PACKAGES)
def test_json_lines_follow_the_schema_and_onnx_runs_without_torch(models, recording,
                                                                  tmp_path):
    from deep_audio.export import to_onnx
    from deep_audio.io.model_files import load_model

    onnx_path = to_onnx(load_model(models["frame_detection"]), tmp_path / "frames.onnx")
    code = ("import sys\nfor name in ('torch', 'torchaudio'):\n    sys.modules[name] = None\n"
            "from deep_audio.cli.main import main\nsys.exit(main(sys.argv[1:]))\n")
    process = python("-c", code, "listen", "-m", str(onnx_path), "--replay", str(recording),
                     "--fast", "--json")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    records = json_lines(out.decode())
    check_schema(records)
    assert records[0]["task"] == "frame_detection" and records[0]["frame_seconds"] > 0
    frame_rows = [r for r in records if r["type"] == "row"]
    assert all(len(r["frames"]["posteriors"]) == len(r["frames"]["start_seconds"])
               for r in frame_rows[:-1])
    offline = segment_recording(recording, onnx_path)
    streamed = [r for r in records if r["type"] == "offset"]
    assert len(streamed) == len(offline.events)
@pytest.mark.slow
def test_ctrl_c_ends_cleanly_with_the_spans_closed_and_a_summary(models, recording):
    """A real-time replay interrupted after a second of rows."""
    process = python("-m", "deep_audio", "listen", "-m", str(models["single_label"]),
                     "--replay", str(recording), "--json")  # real time
    first = process.stdout.readline()  # the start line
    assert json.loads(first)["type"] == "start"
    while json.loads(process.stdout.readline())["type"] != "row":
        pass
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    records = json_lines(first.decode() + out.decode())
    check_schema(records)
    summary = records[-1]
    assert summary["ended_by"] == "interrupt (Ctrl-C)"
    assert 0.5 < summary["audio_seconds"] < 30
    assert summary["latency_p99_seconds"] < 2.0  # real time: no backlog builds up
    # the spans are closed: the last offset reaches the last row heard
    rows = [r for r in records if r["type"] == "row"]
    offsets = [r for r in records if r["type"] == "offset"]
    assert offsets and offsets[-1]["offset_seconds"] == pytest.approx(rows[-1]["end_seconds"])
    assert "Traceback" not in err.decode()
@pytest.mark.slow
def test_the_live_view_redraws_bars_in_place(models, short_recording):
    process = python("-m", "deep_audio", "listen", "-m", str(models["single_label"]),
                     "--replay", str(short_recording), "--fast", "--view")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    text = out.decode()
    n_rows = len(segment_recording(short_recording, models["single_label"]).posteriors)
    assert text.count("\x1b[4F\x1b[J") == n_rows  # a header and 3 classes, redrawn
    assert "#" in text and "region: " in text and "ended by end of stream" in err.decode()


class StallingSource:
    """A live source: ``recording`` in 0.1 s blocks, silent for ``stall_seconds`` after
    ``stall_after_seconds`` of audio (then resumes, unless ``stop``)."""

    live = True

    def __init__(self, recording, *, stall_after_seconds, stall_seconds, stop=False):
        self.inner = ReplaySource(recording, sample_rate=RATE, realtime=False)
        self.name = "a stalling source"
        self.sample_rate = RATE
        self.stall_after_seconds, self.stall_seconds, self.stop = (
            stall_after_seconds, stall_seconds, stop)

    def blocks(self):
        sent = 0
        for block in self.inner.blocks():
            if sent <= self.stall_after_seconds * RATE < sent + len(block):
                time.sleep(self.stall_seconds)
                if self.stop:
                    return
            sent += len(block)
            yield block

    def close(self):
        pass
@pytest.mark.slow
def test_a_source_that_stalls(models, short_recording):
    model, settings = models["multi_label"], SETTINGS["multi_label"]
    recording = short_recording
    offline = segment_recording(recording, model, **settings)
    # a pause shorter than the timeout: nothing lost, the same answer
    listener = Listener(model, max_lag_seconds=None, stall_timeout_seconds=5.0, **settings)
    rows, _, offsets, _ = collect(listener.run(StallingSource(
        recording, stall_after_seconds=7.0, stall_seconds=0.6)))
    assert np.allclose(np.concatenate([r.timeline_posteriors for r in rows]),
                       offline.posteriors, atol=POSTERIOR_TOLERANCE)
    assert_same_spans([e for _, e in offsets], offline.events)
    assert listener.summary.ended_by == "end of stream"
    # silent for longer than the timeout: a clean end with the spans heard so far
    listener = Listener(model, stall_timeout_seconds=0.5, **settings)
    rows, _, offsets, updates = collect(listener.run(StallingSource(
        recording, stall_after_seconds=7.0, stall_seconds=1.5, stop=True)))
    assert listener.summary.ended_by.startswith("a stalled source")
    assert updates[-1].final and rows[-1].end_seconds <= 7.1
    assert listener.summary.audio_seconds == pytest.approx(7.0, abs=0.1)
    assert offsets and all(e.offset_seconds <= 7.1 for _, e in offsets)


class SlowPredictor:
    """A predictor that takes ``seconds`` per call: slower than real time."""

    def __init__(self, model, seconds):
        self.inner, self.seconds = as_predictor(model), seconds
        for name in ("task", "class_names", "plan", "batch_size", "config"):
            setattr(self, name, getattr(self.inner, name))

    def posteriors(self, segments):
        time.sleep(self.seconds)
        return self.inner.posteriors(segments)
@pytest.mark.slow
def test_a_model_that_cannot_keep_up_drops_whole_hops_and_counts_them(models, tmp_path):
    clip = write_recording(tmp_path / "four.wav", 4.0, seed=5)
    slow = SlowPredictor(models["single_label"], 0.6)  # a hop is 0.25 s
    source = ReplaySource(clip, sample_rate=RATE, block_seconds=0.05)  # real time
    listener = Listener(slow, max_lag_seconds=0.3)
    rows, _, _, updates = collect(listener.run(source))
    summary = listener.summary
    n_hops = len(slow.plan.starts(int(soundfile.info(clip).frames)))
    assert summary.dropped_hops > 0 and summary.rows + summary.dropped_hops == n_hops
    assert sum(u.dropped_hops for u in updates) == summary.dropped_hops
    assert rows[-1].index == n_hops - 1  # the row indexes count the dropped hops
    assert "dropped" in summary.format()


def test_callback_form_and_saved_clips(models, short_recording, tmp_path):
    recording = short_recording
    updates = []
    summary = listen_with_callback(
        models["multi_label"], ReplaySource(recording, sample_rate=RATE, realtime=False),
        updates.append, save_events_dir=tmp_path / "clips", pre_roll_seconds=0.5,
        post_roll_seconds=0.25, **SETTINGS["multi_label"])
    assert updates[-1].final and summary.rows == sum(u.row is not None for u in updates)
    assert len(summary.clips) == len(summary.spans) > 0
    audio, _ = soundfile.read(recording, dtype="float32")
    for span, path in zip(summary.spans, summary.clips):
        clip, rate = soundfile.read(path, dtype="float32")
        first = max(0, int((span.onset_seconds - 0.5) * RATE))
        assert rate == RATE and span.label in path.name
        assert np.allclose(clip, audio[first:first + len(clip)], atol=1 / 32768)
        expected = min(len(audio), int(np.ceil((span.offset_seconds + 0.25) * RATE))) - first
        assert abs(len(clip) - expected) <= 1
    # a callback that returns False stops the stream; the open spans still close
    seen = []
    summary = listen_with_callback(
        models["multi_label"], ReplaySource(recording, sample_rate=RATE, realtime=False),
        lambda update: seen.append(update) or len(seen) < 10)
    assert summary.rows == 10 and summary.ended_by == "a stop request"
    assert len(seen) == 11 and seen[-1].final and seen[-1].row is None
    started = {(e.label, e.onset_seconds) for u in seen for e in u.onsets}
    assert started == {(e.label, e.onset_seconds) for e in summary.spans}


def test_pcm_source_converts_formats_channels_and_rates():
    stereo = np.stack([np.full(1600, 0.5), np.full(1600, -0.25)], axis=1)
    pcm = (stereo * 32768).astype("<i2").tobytes()
    import io

    blocks = list(PcmSource(io.BytesIO(pcm), rate=RATE, sample_rate=RATE, channels=2,
                            block_seconds=0.05).blocks())
    assert sum(map(len, blocks)) == 1600 and np.allclose(np.concatenate(blocks), 0.125)
    floats = np.full(RATE, 0.25, "<f4").tobytes()
    resampled = np.concatenate(list(PcmSource(io.BytesIO(floats), rate=RATE,
                                              sample_rate=16000, format="f32le").blocks()))
    assert len(resampled) == 16000 and np.allclose(resampled[2000:-2000], 0.25, atol=1e-3)
    with pytest.raises(SourceError, match="s24le"):
        PcmSource(io.BytesIO(b""), rate=RATE, sample_rate=RATE, format="s24le")
@pytest.mark.slow
def test_no_microphone_is_a_clear_error(monkeypatch, models):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # as if not installed
    with pytest.raises(SourceError, match=r"sounddevice package.*listen"):
        MicrophoneSource(sample_rate=RATE).open()
    process = python("-m", "deep_audio", "listen", "-m", str(models["single_label"]),
                     "--mic", "no such device", env={**os.environ, "PYTHONPATH": str(REPO)})
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "error:" in err.decode() and ("sounddevice" in err.decode()
                                         or "no such device" in err.decode())


@needs("sounddevice")
def test_a_named_microphone_that_does_not_exist(models):
    try:
        import sounddevice  # noqa: F401
    except OSError as error:
        pytest.skip(f"sounddevice is installed without PortAudio: {error}")
    with pytest.raises(SourceError, match="no such device"):
        MicrophoneSource("no such device", sample_rate=RATE).open()


def random_timeline(rng):
    """Segment or frame times (hop 0.04-1 s, an end-aligned last segment half the time)
    and posteriors with runs."""
    n, n_classes = int(rng.integers(5, 700)), int(rng.integers(1, 4))
    hop = float(rng.choice([0.04, 0.25, 1.0]))
    starts = np.arange(n) * hop
    if rng.random() < 0.5 and n > 2:
        starts[-1] = starts[-2] + hop * rng.uniform(0.1, 0.99)
    ends = starts + hop * float(rng.choice([1, 2, 4]))
    values = rng.random((n, n_classes))
    for _ in range(int(rng.integers(0, 3))):
        values = (values + np.roll(values, 1, axis=0)) / 2
    return starts, ends, values, [f"c{i}" for i in range(n_classes)], hop


def feed(tracker, starts, ends, values, rng, most_rows):
    """Rows in pieces of 1 to ``most_rows``; all onsets and offsets, the most rows kept."""
    onsets, offsets, kept, first = [], [], 0, 0
    while first < len(starts):
        stop = min(len(starts), first + int(rng.integers(1, most_rows + 1)))
        new_onsets, new_offsets = tracker.add(starts[first:stop], ends[first:stop],
                                              values[first:stop])
        onsets, offsets, kept = onsets + new_onsets, offsets + new_offsets, max(
            kept, tracker.rows_kept)
        first = stop
    new_onsets, new_offsets = tracker.finish()
    return onsets + new_onsets, offsets + new_offsets, kept
@pytest.mark.slow
def test_streamed_post_processing_equals_the_offline_functions_on_random_timelines():
    """The trackers behind listen against detect_events and make_regions on the whole
    timeline: many random timelines and settings, rows arriving in uneven pieces."""
    from deep_audio.events.detection import detect_events, make_regions
    from deep_audio.predict.stream import _EventTracker, _PerClass, _RegionTracker

    rng = np.random.default_rng(1)
    trimmed = 0
    for _ in range(60):
        starts, ends, values, names, hop = random_timeline(rng)
        if rng.random() < 0.5:
            k = len(names)
            # some classes seldom on (a high quantile): the shortcut for quiet rows
            thresholds = np.array([np.quantile(values[:, i], rng.choice([0.3, 0.5, 0.9, 0.99]))
                                   for i in range(k)])
            filters, gaps = rng.choice([0, 3 * hop, 1.0], k), rng.choice([0, 0.2, 1.5], k)
            shortest = float(rng.choice([0, 0.1, 1.0]))
            offline = detect_events(starts, ends, values, names, thresholds=thresholds,
                                    median_filter_seconds=filters, min_gap_seconds=gaps,
                                    min_duration_seconds=shortest)
            tracker = _PerClass([_EventTracker(
                [name], thresholds=thresholds[[i]], median_filter_seconds=filters[[i]],
                min_gap_seconds=gaps[[i]], min_duration_seconds=shortest, hop_seconds=hop)
                for i, name in enumerate(names)])
        else:
            values = values / values.sum(axis=1, keepdims=True)
            smoothing, shortest = int(rng.choice([1, 3, 5])), float(rng.choice([0, 0.5, 3]))
            offline = make_regions(starts, ends, values, names, smoothing_segments=smoothing,
                                   min_region_seconds=shortest)
            tracker = _RegionTracker(names, smoothing_segments=smoothing,
                                     min_region_seconds=shortest, hop_seconds=hop)
        onsets, offsets, kept = feed(tracker, starts, ends, values, rng,
                                     60 if hop < 0.1 else 3)
        assert_same_spans(offsets, offline)
        assert sorted((e.onset_seconds, e.label) for e in onsets) == sorted(
            (e.onset_seconds, e.label) for e in offline)
        trimmed += kept < len(starts)
    assert trimmed >= 20  # rows before settled spans were let go


def test_an_endless_span_is_split_to_keep_memory_bounded():
    from deep_audio.predict.stream import _RegionTracker

    starts = np.arange(5000) * 0.25
    values = np.tile([0.9, 0.1], (5000, 1))  # one class, all the time
    tracker = _RegionTracker(["on", "off"], smoothing_segments=3, min_region_seconds=0.0,
                             hop_seconds=0.25, max_rows=400)
    onsets, offsets, kept = feed(tracker, starts, starts + 0.5, values,
                                 np.random.default_rng(0), 3)
    assert kept <= 600 and len(offsets) > 5 and {e.label for e in offsets} == {"on"}
    assert offsets[0].onset_seconds == 0 and offsets[-1].offset_seconds == 5000 * 0.25 + 0.25
    assert all(a.offset_seconds == b.onset_seconds for a, b in zip(offsets, offsets[1:]))
    assert [e.onset_seconds for e in onsets] == [e.onset_seconds for e in offsets]


class FakeSoundDevice(types.ModuleType):
    """A stand-in for the sounddevice module (no sound card here): one input device that
    records ``audio`` at 48 kHz only, delivers it in callbacks from its own thread, then
    stops as if unplugged."""

    class PortAudioError(Exception):
        pass

    def __init__(self, audio: np.ndarray):
        super().__init__("sounddevice")
        self.audio = audio
        self.devices = [{"name": "Fake USB Mic", "max_input_channels": 2,
                         "default_samplerate": 48000.0},
                        {"name": "HDMI output", "max_input_channels": 0,
                         "default_samplerate": 48000.0}]
        fake = self

        class InputStream:
            def __init__(self, *, samplerate, device, channels, dtype, callback, blocksize):
                if samplerate != 48000:
                    raise fake.PortAudioError(f"Invalid sample rate {samplerate}")
                self.callback, self.blocksize, self.channels = callback, blocksize, channels
                self.active = False

            def start(self):
                self.active = True
                threading.Thread(target=self._record, daemon=True).start()

            def _record(self):
                status = types.SimpleNamespace(input_overflow=False)
                for first in range(0, len(fake.audio), self.blocksize):
                    if not self.active:
                        return
                    block = fake.audio[first:first + self.blocksize]
                    self.callback(np.repeat(block[:, None], self.channels, axis=1),
                                  len(block), None, status)
                    time.sleep(0.002)
                self.active = False  # unplugged

            def stop(self):
                self.active = False

            def close(self):
                pass

        self.InputStream = InputStream

    def query_devices(self, device=None, kind=None):
        if kind is None:
            return self.devices
        inputs = [d for d in self.devices if d["max_input_channels"] > 0]
        for index, found in enumerate(self.devices):
            if found in inputs and (device is None or device == index
                                    or str(device).lower() in found["name"].lower()):
                return found
        raise ValueError(f"No input device matching {device!r}")


def test_a_microphone_through_sounddevice_gives_the_offline_answer(monkeypatch, models,
                                                                   short_recording,
                                                                   tmp_path):
    """The microphone path with a fake sounddevice: the device name looked up, its rate
    refused and its default taken and resampled, two channels averaged, the stream
    ended by the device stopping; the same answer as the file at 48 kHz offline."""
    from deep_audio.io.audio import read_audio

    audio = read_audio(short_recording, sample_rate=48000)[0]
    at_48k = tmp_path / "at_48k.wav"
    soundfile.write(at_48k, audio, 48000, subtype="FLOAT")
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(audio))
    model = models["single_label"]
    with pytest.raises(SourceError, match=r"no microphone.*'Studio'.*Fake USB Mic"):
        MicrophoneSource("Studio", sample_rate=RATE).open()
    source = MicrophoneSource("usb", sample_rate=RATE, channels=2)
    listener = Listener(model, max_lag_seconds=None)
    rows, _, offsets, _ = collect(listener.run(source))
    offline = segment_recording(at_48k, model)
    assert source.name == "microphone 'Fake USB Mic'"
    assert listener.summary.ended_by.startswith("microphone 'Fake USB Mic' stopping")
    # soxr's streamed resampling in the callback's blocks, against the file's blocks
    streamed = np.concatenate([r.timeline_posteriors for r in rows])
    assert len(streamed) == len(offline.posteriors)
    assert np.allclose(streamed, offline.posteriors, atol=1e-4)
    assert [e.label for _, e in offsets] == [e.label for e in offline.regions]
@pytest.mark.slow
def test_a_reader_that_goes_away_ends_the_stream_cleanly(models, recording):
    """`deep-audio listen ... | head -3`: the output closed early ends it with a summary
    (a real-time replay, so that it is still running when the reader goes)."""
    process = python("-m", "deep_audio", "listen", "-m", str(models["single_label"]),
                     "--replay", str(recording), "--json")
    lines = [process.stdout.readline() for _ in range(3)]
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert json.loads(lines[0])["type"] == "start"
    assert process.returncode == 0, err.decode()
    assert "ended by consumer closed" in err.decode() and "Traceback" not in err.decode()


@pytest.mark.slow
@pytest.mark.skipif(not (REPO / "models/pretrained_general.pt").exists(),
                    reason="models/pretrained_general.pt is not in this checkout")
def test_the_shipped_general_tagger_streams_like_offline(tmp_path):
    """A real trained tagger (134 classes, tuned per-class thresholds) on real speech:
    the demo's test prompts one after another."""
    from deep_audio.io.audio import read_audio

    files = sorted((REPO / "data/demo/test").glob("*/*.flac"))[::4]
    path = tmp_path / "prompts.wav"
    soundfile.write(path, np.concatenate([read_audio(f, sample_rate=16000)[0] for f in files]),
                    16000, subtype="PCM_16")
    model = REPO / "models/pretrained_general.pt"
    offline = segment_recording(path, model)
    rows, onsets, offsets, _ = collect(listen(model, ReplaySource(
        path, sample_rate=16000, realtime=False)))
    assert np.allclose(np.concatenate([r.timeline_posteriors for r in rows]),
                       offline.posteriors, atol=POSTERIOR_TOLERANCE)
    assert offline.events
    assert_same_spans([e for _, e in offsets], offline.events)


def test_several_models_listen_as_their_ensemble(models, recording, capsys):
    from deep_audio.cli.main import main as deep_audio

    pair = [str(models["frame_detection"])] * 2
    assert deep_audio(["listen", "-m", *pair, "--replay", str(recording), "--fast",
                       "--json"]) == 0
    records = json_lines(capsys.readouterr().out)
    assert records[0]["model"] == " + ".join(pair)
    offline = segment_recording(recording, pair)  # the ensemble, offline
    assert len([r for r in records if r["type"] == "offset"]) == len(offline.events) > 0
