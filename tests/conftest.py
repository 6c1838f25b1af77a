"""Shared fixtures: generated audio, a small config, and one small trained model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile

from deep_audio.config import load_config

REPO = Path(__file__).resolve().parent.parent  # the repository's root folder

SMALL_CONFIG = {
    "sample_rate": 8000, "n_fft": 256, "n_mels": 32,
    "segment_seconds": 0.5, "segment_hop_seconds": 0.25,
    "conv_channels": [4, 8], "hidden_units": [32], "dropout": [0.1],
    "epochs": 8, "batch_size": 8, "min_epochs": 3, "device": "cpu", "precision": "fp32",
}


# What each optional package is for: the extra of setup.py that installs it.
EXTRA_OF = {"onnx": "export", "onnxruntime": "export", "onnxscript": "export",
            "transformers": "hf", "panns_inference": "test", "torchlibrosa": "test",
            "selenium": "test"}
EXPORT_PACKAGES = ("onnx", "onnxruntime", "onnxscript")  # to_onnx exports and verifies


def needs(*packages: str) -> pytest.MarkDecorator:
    """Skip a test unless every package is installed, before its fixtures run (a
    ``pytest.importorskip`` in the body skips only after them); the reason names the
    missing packages and the extra that installs them.

    >>> needs("json").args, needs("no_such_package").kwargs["reason"]
    ((False,), "needs no_such_package (pip install -e '.[test]')")
    """
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    extras = sorted({EXTRA_OF.get(name, "test") for name in missing})
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} "
                              f"(pip install -e '.[{','.join(extras)}]')")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes more than about 2 s; deselect with -m 'not slow' for a quick "
        "run (CI runs everything)")


def small_config(**extra):
    """Settings that train in seconds: 8 kHz, 32 mel bands, 0.5 s segments, 2 conv blocks."""
    return load_config(**{**SMALL_CONFIG, **extra})


def tone(frequency_hz: float, seconds: float, rate: int, *, amplitude: float = 0.5,
         noise: float = 0.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)
            + noise * rng.standard_normal(len(t))).astype(np.float32)


def write_class_folders(root: Path, *, files_per_class: int, seed: int = 0,
                        seconds: float = 1.2) -> list[Path]:
    """Three classes: low tones, high tones and noise bursts, at mixed rates and formats."""
    rng = np.random.default_rng(seed)
    folders = [root / "low", root / "high", root / "noise"]
    for folder in folders:
        folder.mkdir(parents=True)
    for i in range(files_per_class):
        rate = [8000, 16000, 11025][i % 3]
        low = tone(rng.uniform(200, 400), seconds, rate, noise=0.02, seed=seed + i)
        high = tone(rng.uniform(2000, 3000), seconds, rate, noise=0.02, seed=seed + 100 + i)
        noise = (rng.uniform(0.05, 0.3) * rng.standard_normal(int(seconds * rate))
                 ).astype(np.float32)
        soundfile.write(folders[0] / f"low_{i}.wav", low, rate, subtype="PCM_16")
        soundfile.write(folders[1] / f"high_{i}.flac", high, rate)
        soundfile.write(folders[2] / f"noise_{i}.ogg", noise, rate)
    return folders


@pytest.fixture(autouse=True)
def _private_audio_cache(tmp_path_factory, monkeypatch):
    """The default cache_dir (auto) goes to a folder of this test session, not ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg_cache"))


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("dataset")
    return {"train": write_class_folders(root / "train", files_per_class=12, seed=0),
            "test": write_class_folders(root / "test", files_per_class=6, seed=1000)}


@pytest.fixture(scope="session")
def trained(dataset, tmp_path_factory):
    """One small model trained on the generated classes (shared: training costs seconds)."""
    from deep_audio.training import train_model

    models_dir = tmp_path_factory.mktemp("models")
    return train_model(dataset["train"], "small", config=small_config(models_dir=str(models_dir)),
                       progress=False)
