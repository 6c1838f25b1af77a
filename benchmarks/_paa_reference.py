"""Run pyAudioAnalysis in its own virtual environment, through a subprocess.

deep_audio never imports pyAudioAnalysis: the parity and benchmark scripts pass a job
(JSON) to ``REFERENCE_CODE`` running under the reference environment's python, which
writes its results to an ``.npz`` file. Set the reference up with::

    python3 -m venv /tmp/paa_venv
    /tmp/paa_venv/bin/pip install pyAudioAnalysis pydub tqdm simplejson scipy \
        scikit-learn matplotlib eyed3 hmmlearn imbalanced-learn plotly
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

# Runs under the reference python. Job keys: files, short_window, short_step, mid_window,
# mid_step (seconds), repeats (timing), output (npz path).
REFERENCE_CODE = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np
from pyAudioAnalysis import ShortTermFeatures, MidTermFeatures, audioBasicIO

job = json.loads(sys.argv[1])
results = {}
for index, path in enumerate(job["files"]):
    rate, signal = audioBasicIO.read_audio_file(path)
    signal = audioBasicIO.stereo_to_mono(signal)
    win, step = round(rate * job["short_window"]), round(rate * job["short_step"])
    best = float("inf")
    for _ in range(job["repeats"]):
        start = time.perf_counter()
        short, names = ShortTermFeatures.feature_extraction(signal, rate, win, step)
        best = min(best, time.perf_counter() - start)
    results[f"short_{index}"] = short
    results[f"seconds_{index}"] = np.array([best, len(signal) / rate])
    if job.get("mid_window"):
        mid, _, mid_names = MidTermFeatures.mid_feature_extraction(
            signal, rate, round(job["mid_window"] * rate), round(job["mid_step"] * rate),
            win, step)
        results[f"mid_{index}"] = mid
np.savez(job["output"], names=np.array(names), **results)
"""


def run_reference(python: str, files: list[Path], *, short_window: float, short_step: float,
                  mid_window: float | None = None, mid_step: float | None = None,
                  repeats: int = 1) -> dict[str, np.ndarray]:
    """pyAudioAnalysis's features (and timings) for ``files``, computed by ``python``."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "reference.npz"
        job = {"files": [str(f) for f in files], "short_window": short_window,
               "short_step": short_step, "mid_window": mid_window, "mid_step": mid_step,
               "repeats": repeats, "output": str(output)}
        completed = subprocess.run([python, "-c", REFERENCE_CODE, json.dumps(job)],
                                   capture_output=True, text=True)
        if completed.returncode != 0:
            raise SystemExit(f"the reference failed ({python}):\n{completed.stderr[-3000:]}")
        with np.load(output) as data:
            return {key: data[key] for key in data.files}


def synthetic_signals(rate: int, seconds: float, seed: int = 0) -> dict[str, np.ndarray]:
    """Test signals with varied spectra and dynamics, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    harmonics = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 8))
    chirp = np.sin(2 * np.pi * (100 * t + (rate / 5) * t ** 2 / seconds))
    bursts = rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 0.7 * t) > 0.3)
    signals = {
        "harmonic": 0.3 * envelope * harmonics + 0.01 * rng.standard_normal(len(t)),
        "chirp": 0.7 * chirp,
        "noise_bursts": 0.2 * bursts + 0.001 * rng.standard_normal(len(t)),
        "pink_ish": np.cumsum(rng.standard_normal(len(t))) * 0.002,
    }
    for name, signal in signals.items():
        signal = signal - signal.mean()
        signals[name] = 0.9 * signal / np.abs(signal).max()
    return signals
