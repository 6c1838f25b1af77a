"""Speed of the 68 short-term features: deep_audio vs pyAudioAnalysis, side by side.

Both compute ``short-term features`` of the same decoded 16 kHz signal (decoding is not
timed on either side) with 50 ms windows every 25 ms; each side keeps its best of
``--repeats`` runs. pyAudioAnalysis runs in its own environment (``_paa_reference.py``).

    python benchmarks/benchmark_classic_features.py --reference-python /tmp/paa_venv/bin/python

Prints the realtime factor of each side and their ratio. Not needed by the tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
from _paa_reference import run_reference, synthetic_signals

from deep_audio.features.handcrafted import short_term_features
from deep_audio.io.audio import read_audio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-python", required=True,
                        help="python of a virtual environment with pyAudioAnalysis")
    parser.add_argument("--seconds", type=float, default=60.0, help="audio length")
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--window-seconds", type=float, default=0.050)
    parser.add_argument("--step-seconds", type=float, default=0.025)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "benchmark.wav"
        parts = synthetic_signals(args.sample_rate, args.seconds / 4).values()
        soundfile.write(path, np.concatenate(list(parts)), args.sample_rate, subtype="PCM_16")
        samples, rate = read_audio(path)
        duration = len(samples) / rate

        reference = run_reference(args.reference_python, [path],
                                  short_window=args.window_seconds,
                                  short_step=args.step_seconds, repeats=args.repeats)
        reference_seconds = float(reference["seconds_0"][0])

        ours_seconds = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            features, _ = short_term_features(samples, rate, window_seconds=args.window_seconds,
                                              step_seconds=args.step_seconds)
            ours_seconds = min(ours_seconds, time.perf_counter() - start)
        if features.shape != reference["short_0"].shape:
            print(f"shapes differ: {features.shape} vs {reference['short_0'].shape}")
            return 1
        largest = np.abs(features - reference["short_0"]).max()

    print(f"{duration:.0f} s of audio at {rate} Hz, {features.shape[1]} frames of "
          f"{args.window_seconds * 1000:g} ms every {args.step_seconds * 1000:g} ms, "
          f"best of {args.repeats}, {os.cpu_count()} CPU cores")
    print(f"{'':16}{'seconds':>10}{'x realtime':>12}")
    print(f"{'pyAudioAnalysis':16}{reference_seconds:10.3f}{duration / reference_seconds:12.0f}")
    print(f"{'deep_audio':16}{ours_seconds:10.3f}{duration / ours_seconds:12.0f}")
    print(f"deep_audio is {reference_seconds / ours_seconds:.1f}x faster "
          f"(largest difference of any feature value: {largest:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
