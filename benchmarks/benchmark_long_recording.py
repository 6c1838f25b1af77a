"""Time and peak memory of segmenting a long generated recording (default one hour).

    python benchmarks/benchmark_long_recording.py -m MODEL.pt [--minutes 60] [--rate 11025]

Writes a FLAC of one-minute regions (a 300 Hz tone, a 2500 Hz tone, white noise, in
turn; the classes of the tests' small model: low, high, noise) unless it exists, segments
it with ``segment_recording`` and prints the wall time, the peak resident memory of the
process, and the regions found against the minute grid.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import soundfile

from deep_audio.predict import segment_recording

KINDS = ("low", "high", "noise")


def write_recording(path: Path, minutes: int, rate: int) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(60 * rate) / rate
    with soundfile.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as out:
        for minute in range(minutes):
            kind = KINDS[minute % 3]
            minute_of_audio = (0.2 * rng.standard_normal(len(t)) if kind == "noise" else
                               0.5 * np.sin(2 * np.pi * (300 if kind == "low" else 2500) * t))
            out.write(minute_of_audio.astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--rate", type=int, default=11025, help="Hz of the generated file")
    parser.add_argument("--path", type=Path, default=Path("/tmp/long_recording.flac"))
    args = parser.parse_args()
    if not args.path.exists():
        write_recording(args.path, args.minutes, args.rate)
    started = time.perf_counter()
    result = segment_recording(args.path, args.model)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    truth = [(60.0 * m, 60.0 * (m + 1), KINDS[m % 3]) for m in range(args.minutes)]
    found = [(r.onset_seconds, r.offset_seconds, r.label) for r in result.regions]
    right = sum(a[2] == b[2] for a, b in zip(found, truth))
    worst = (max(max(abs(a[0] - b[0]), abs(a[1] - b[1])) for a, b in zip(found, truth))
             if len(found) == len(truth) else float("nan"))
    print(f"{result.duration_seconds:.0f} s of audio, {len(result.starts_seconds)} segments, "
          f"{len(found)} regions (truth {len(truth)}), {right} with the true label, "
          f"worst boundary error {worst:.2f} s, "
          f"{seconds:.1f} s wall, peak RSS {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
