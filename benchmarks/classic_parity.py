"""Parity of deep_audio's hand-crafted features with pyAudioAnalysis 0.3.14.

Computes the 68 short-term features and the 136 mid-term statistics of the same WAV
files with deep_audio (in this process) and with pyAudioAnalysis (in its own virtual
environment, see ``_paa_reference.py``), and prints for each feature the largest
absolute error, the largest error relative to the feature's range in the reference, and
the tolerance it must meet. Exit status 1 if any feature is out of tolerance.

    python benchmarks/classic_parity.py --reference-python /tmp/paa_venv/bin/python
    python benchmarks/classic_parity.py --reference-python /tmp/paa_venv/bin/python -i speech/*.wav

Without ``-i`` it writes synthetic test signals (harmonic tone, chirp, noise bursts,
brown noise) at 8 and 16 kHz to a temporary folder. Not needed by the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile
from _paa_reference import run_reference, synthetic_signals

from deep_audio.features.handcrafted import (
    MID_TERM_NAMES,
    SHORT_TERM_NAMES,
    mid_term_features,
    short_term_features,
)
from deep_audio.io.audio import read_audio

# Largest error allowed, relative to the feature's range (max |value|) in the reference.
# Both sides compute the same formulas in float64; differences are FFT and summation
# rounding, amplified where a formula divides by a small number (entropies of nearly
# silent frames, flux of nearly equal frames).
DEFAULT_TOLERANCE = 1e-9
TOLERANCES = {}


def tolerance(name: str) -> float:
    base = name.removeprefix("delta ").removesuffix("_mean").removesuffix("_std")
    return TOLERANCES.get(base, DEFAULT_TOLERANCE)


def compare(ours: list[np.ndarray], reference: list[np.ndarray], names: list[str]
            ) -> list[tuple[str, float, float, float]]:
    """Per feature: (name, max absolute error, max relative error, tolerance)."""
    ours_all = np.concatenate(ours, axis=1)
    reference_all = np.concatenate(reference, axis=1)
    rows = []
    for i, name in enumerate(names):
        error = np.abs(ours_all[i] - reference_all[i])
        scale = np.abs(reference_all[i]).max()
        relative = error.max() / scale if scale > 0 else error.max()
        rows.append((name, float(error.max()), float(relative), tolerance(name)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-python", required=True,
                        help="python of a virtual environment with pyAudioAnalysis")
    parser.add_argument("-i", "--input", nargs="*", default=[], help="WAV files to compare")
    parser.add_argument("--short-window-seconds", type=float, default=0.050)
    parser.add_argument("--short-step-seconds", type=float, default=0.025)
    parser.add_argument("--mid-window-seconds", type=float, default=1.0)
    parser.add_argument("--mid-step-seconds", type=float, default=1.0)
    parser.add_argument("--all", action="store_true", help="print every feature, not a summary")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        files = [Path(f) for f in args.input]
        if not files:
            for rate in (8000, 16000):
                for name, signal in synthetic_signals(rate, 5.0).items():
                    path = Path(folder) / f"{name}_{rate}.wav"
                    soundfile.write(path, signal, rate, subtype="PCM_16")
                    files.append(path)
        reference = run_reference(
            args.reference_python, files, short_window=args.short_window_seconds,
            short_step=args.short_step_seconds, mid_window=args.mid_window_seconds,
            mid_step=args.mid_step_seconds)

        short_ours, short_ref, mid_ours, mid_ref = [], [], [], []
        for index, path in enumerate(files):
            samples, rate = read_audio(path)
            short, _ = short_term_features(samples, rate, window_seconds=args.short_window_seconds,
                                           step_seconds=args.short_step_seconds)
            mid, _ = mid_term_features(
                samples, rate, mid_window_seconds=args.mid_window_seconds,
                mid_step_seconds=args.mid_step_seconds,
                short_window_seconds=args.short_window_seconds,
                short_step_seconds=args.short_step_seconds)
            if short.shape != reference[f"short_{index}"].shape:
                print(f"{path}: frame count differs: {short.shape} vs "
                      f"{reference[f'short_{index}'].shape}")
                return 1
            short_ours.append(short)
            short_ref.append(reference[f"short_{index}"])
            mid_ours.append(mid)
            mid_ref.append(reference[f"mid_{index}"])

    if list(reference["names"]) != SHORT_TERM_NAMES:
        print("feature names differ from pyAudioAnalysis's")
        return 1
    frames = sum(s.shape[1] for s in short_ours)
    print(f"{len(files)} files, {frames} short-term frames of {args.short_window_seconds} s "
          f"every {args.short_step_seconds} s; mid-term {args.mid_window_seconds} s every "
          f"{args.mid_step_seconds} s\n")
    failures = 0
    for title, rows in (("short-term (68)", compare(short_ours, short_ref, SHORT_TERM_NAMES)),
                        ("mid-term (136)", compare(mid_ours, mid_ref, MID_TERM_NAMES))):
        print(f"{title}: {'feature':<26} {'max abs err':>12} {'max rel err':>12} {'tolerance':>10}")
        for name, absolute, relative, limit in rows:
            bad = relative > limit
            failures += bad
            if args.all or bad or name in SUMMARY:
                print(f"{'':17}{name:<26} {absolute:12.2e} {relative:12.2e} {limit:10.0e}"
                      f"{'  FAIL' if bad else ''}")
        worst = max(rows, key=lambda row: row[2] / row[3])
        print(f"{'':17}worst: {worst[0]} (relative {worst[2]:.2e}, tolerance {worst[3]:.0e})\n")
    print("PASS" if not failures else f"FAIL: {failures} features out of tolerance")
    return 1 if failures else 0


SUMMARY = set(SHORT_TERM_NAMES[:34])

if __name__ == "__main__":
    sys.exit(main())
