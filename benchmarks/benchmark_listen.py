"""Listening live: real-time factor, latency, CPU share, peak memory per model, PyTorch
and ONNX Runtime, one thread each; and memory over an hour of streamed audio.

    python benchmarks/benchmark_listen.py [--seed-model PATH] [--cnn14 PATH]
        [--realtime-seconds 20] [--hour-minutes 60] [--out DIR]

Models: the seed CNN with the default recipe, trained for a few epochs on data/demo
unless --seed-model names one (its speed does not depend on its accuracy);
models/pretrained_gm16.pt; models/pretrained_general.pt (a tagger of 129 classes: its
events' post-processing is part of the cost); a CNN14 model file only when --cnn14
names one. Each is also
exported to ONNX. The recording is the demo test prompts, concatenated and looped to two
minutes (16 kHz).

Per model and runtime, in a fresh process (so that its peak RSS is its own):

- ``fast``: the recording replayed as fast as the model runs, three times; real-time
  factor = compute time (model and post-processing) / audio time, the median and the
  best of the three (other jobs on the machine slow some runs);
- ``realtime``: ``--realtime-seconds`` replayed at its own pace in 0.1 s blocks, as a
  microphone delivers it; latency from a block's arrival to its row (mean, 99th
  percentile) and the process's CPU time / wall time (the share of one core it takes to
  listen in real time).

Then the seed model (PyTorch) listens to ``--hour-minutes`` of audio (the recording
looped, fast) and the resident memory is read at points along the way.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
RATE = 16000


def cpu_flags() -> str:
    """The AVX-512 and AMX flags of this CPU, as `grep -o` lists them."""
    text = Path("/proc/cpuinfo").read_text()
    import re

    return " ".join(sorted(set(re.findall(r"\b(avx512[a-z_0-9]*|amx[a-z_0-9]*)\b", text))))


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def write_recording(path: Path, seconds: float) -> Path:
    """The demo test prompts at 16 kHz, one after another, looped to ``seconds``."""
    import soundfile

    from deep_audio.io.audio import read_audio

    pieces = [read_audio(file, sample_rate=RATE)[0]
              for file in sorted(glob.glob(str(REPO / "data/demo/test/*/*.flac")))]
    audio = np.concatenate(pieces)
    audio = np.tile(audio, int(np.ceil(seconds * RATE / len(audio))))[:int(seconds * RATE)]
    soundfile.write(path, audio, RATE, subtype="PCM_16")
    return path


def rss_mib(field: str = "VmRSS") -> float:
    """This process's resident memory (``VmRSS``) or its peak (``VmHWM``), MiB. Unlike
    ``ru_maxrss``, the peak starts afresh in a new program (``ru_maxrss`` keeps the
    parent's from before the fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class LoopSource:
    """A recording repeated ``times`` times, as fast as it is asked for."""

    live = False

    def __init__(self, path: Path, times: int):
        from deep_audio.io.audio import read_audio

        self.audio = read_audio(path, sample_rate=RATE)[0]
        self.times = times
        self.sample_rate = RATE
        self.name = f"{path.name} x {times}"

    def blocks(self):
        block = RATE // 10
        for _ in range(self.times):
            for first in range(0, len(self.audio), block):
                yield self.audio[first:first + block]

    def close(self):
        pass


def one_thread_onnx(listener) -> None:
    """Give the ONNX predictor a one-thread session, as torch gets one thread."""
    import onnxruntime

    predictor = listener.predictor
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    predictor.session = onnxruntime.InferenceSession(str(predictor.path), options,
                                                     providers=["CPUExecutionProvider"])


def measure(model: str, recording: Path, mode: str, seconds: float) -> dict:
    """One run in this process (called as a child): the summary's figures. An ONNX model
    runs without importing torch."""
    if not model.endswith(".onnx"):
        import torch

        torch.set_num_threads(1)
    from deep_audio.io.sources import ReplaySource
    from deep_audio.predict.stream import Listener

    listener = Listener(model, max_lag_seconds=None if mode == "fast" else 2.0)
    if model.endswith(".onnx"):
        one_thread_onnx(listener)
    if mode == "hour":
        return hour(listener, recording, seconds)
    source = ReplaySource(recording, sample_rate=listener.plan.sample_rate,
                          realtime=mode == "realtime", block_seconds=0.1)
    stop_after = seconds if mode == "realtime" else float("inf")
    for update in listener.run(source):
        if update.row is not None and update.row.end_seconds >= stop_after:
            break
    summary = listener.summary
    return {"model": model, "mode": mode, "audio_seconds": summary.audio_seconds,
            "rows": summary.rows, "dropped_hops": summary.dropped_hops,
            "real_time_factor": summary.real_time_factor, "cpu_share": summary.cpu_share,
            "latency_mean_ms": 1000 * summary.latency_seconds(),
            "latency_p99_ms": 1000 * summary.latency_seconds(99),
            "peak_rss_mib": rss_mib("VmHWM"), "torch_imported": "torch" in sys.modules,
            "segment_seconds": listener.plan.segment_samples / listener.plan.sample_rate,
            "hop_seconds": listener.plan.hop_samples / listener.plan.sample_rate}


def hour(listener, recording: Path, minutes: float) -> dict:
    """RSS along ``minutes`` of looped audio, and the most timeline rows kept."""
    import soundfile

    loop_seconds = soundfile.info(recording).duration
    source = LoopSource(recording, int(np.ceil(minutes * 60 / loop_seconds)))
    marks = {1.0: None, 10.0: None, 30.0: None, 60.0: None}
    started = time.perf_counter()
    for update in listener.run(source):
        if update.row is None:
            continue
        heard_minutes = update.row.end_seconds / 60
        for mark in marks:
            if marks[mark] is None and heard_minutes >= mark:
                marks[mark] = round(rss_mib(), 1)
    summary = listener.summary
    return {"mode": "hour", "audio_minutes": summary.audio_seconds / 60,
            "wall_seconds": time.perf_counter() - started,
            "rss_mib_at_minutes": {str(k): v for k, v in marks.items() if v is not None},
            "max_rows_kept": summary.max_rows_kept, "rows": summary.rows,
            "spans": len(summary.spans), "real_time_factor": summary.real_time_factor}


def child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                          text=True, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"child {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def seed_model(out: Path) -> str:
    """The default recipe on the demo data, 3 epochs: its speed is the default
    network's, whatever its accuracy."""
    import torch

    torch.set_num_threads(1)
    from deep_audio.training import train_model

    folders = sorted(glob.glob(str(REPO / "data/demo/train/*")))
    result = train_model(folders, out / "seed_default", progress=False, epochs=3,
                         min_epochs=1, cache_dir="none", cpu_threads=1)
    return str(result.model_path)


def export(model: str, out: Path) -> str:
    from deep_audio.export import to_onnx
    from deep_audio.io.model_files import load_model

    return str(to_onnx(load_model(model), out / (Path(model).stem + ".onnx")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-model")
    parser.add_argument("--cnn14")
    parser.add_argument("--realtime-seconds", type=float, default=20.0)
    parser.add_argument("--hour-minutes", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/benchmark_listen"))
    parser.add_argument("--child", nargs=4, metavar=("MODEL", "RECORDING", "MODE", "SECONDS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        model, recording, mode, seconds = args.child
        print(json.dumps(measure(model, Path(recording), mode, float(seconds))))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; flags: {cpu_flags()}; torch and "
          f"onnxruntime: 1 thread; load average {os.getloadavg()[0]:.1f} at the start")
    recording = write_recording(args.out / "recording.wav", 120.0)
    models = {"seed CNN (default recipe)": args.seed_model or seed_model(args.out),
              "pretrained_gm16": str(REPO / "models/pretrained_gm16.pt")}
    if (REPO / "models/pretrained_general.pt").exists():  # a tagger of 129 classes
        models["pretrained_general"] = str(REPO / "models/pretrained_general.pt")
    if args.cnn14:
        models["CNN14"] = args.cnn14
    rows = []
    for name, model in models.items():
        for runtime, path in (("PyTorch", model), ("ONNX Runtime", export(model, args.out))):
            runs = [child(path, str(recording), "fast", "0") for _ in range(3)]
            factors = sorted(run["real_time_factor"] for run in runs)
            fast = {**runs[0], "real_time_factor": factors[1], "best_factor": factors[0],
                    "peak_rss_mib": max(run["peak_rss_mib"] for run in runs)}
            live = child(path, str(recording), "realtime", str(args.realtime_seconds))
            rows.append((name, runtime, fast, live))
            print(f"{name:<26} {runtime:<12} segment {fast['segment_seconds']:g} s, hop "
                  f"{fast['hop_seconds']:g} s: real-time factor {fast['real_time_factor']:.4f}"
                  f" (best {fast['best_factor']:.4f}); at real time: latency mean "
                  f"{live['latency_mean_ms']:.1f} ms, p99 "
                  f"{live['latency_p99_ms']:.1f} ms, CPU {100 * live['cpu_share']:.1f}% of a "
                  f"core, dropped {live['dropped_hops']}; peak RSS "
                  f"{max(fast['peak_rss_mib'], live['peak_rss_mib']):.0f} MiB", flush=True)
    print("\n| model | runtime | real-time factor (median, best of 3) | latency mean | latency "
          "p99 | CPU at real time | peak RSS |\n|---|---|---|---|---|---|---|")
    for name, runtime, fast, live in rows:
        print(f"| {name} | {runtime} | {fast['real_time_factor']:.4f}, "
              f"{fast['best_factor']:.4f} | "
              f"{live['latency_mean_ms']:.1f} ms | {live['latency_p99_ms']:.1f} ms | "
              f"{100 * live['cpu_share']:.1f}% | "
              f"{max(fast['peak_rss_mib'], live['peak_rss_mib']):.0f} MiB |")
    if args.hour_minutes > 0:
        result = child(models["seed CNN (default recipe)"], str(recording), "hour",
                       str(args.hour_minutes))
        print(f"\nseed CNN, PyTorch, {result['audio_minutes']:.0f} min of audio in "
              f"{result['wall_seconds']:.0f} s: RSS (MiB) at minutes "
              f"{result['rss_mib_at_minutes']}, at most {result['max_rows_kept']} timeline "
              f"rows kept of {result['rows']}, {result['spans']} regions")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
