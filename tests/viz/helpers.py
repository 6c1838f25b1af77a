"""Small reports of every kind, shared by the page-level and the browser tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile

from deep_audio.io.model_files import load_model
from deep_audio.predict import evaluate_folders, segment_recording
from deep_audio.viz import (
    evaluation_report,
    multilabel_report,
    segmentation_report,
    spectrogram_report,
)
from tests.conftest import tone

# (onset, offset, label) of the generated recording; classes of the `trained` model.
EVENTS = [(0.0, 3.0, "low"), (3.0, 5.0, "noise"), (5.0, 8.0, "high"), (8.0, 10.0, "low")]


def write_recording(path: Path, rate: int = 8000) -> Path:
    rng = np.random.default_rng(3)
    pieces = []
    for onset, offset, label in EVENTS:
        n = int((offset - onset) * rate)
        if label == "noise":
            pieces.append((0.2 * rng.standard_normal(n)).astype(np.float32))
        else:
            pieces.append(tone(300 if label == "low" else 2500, offset - onset, rate,
                               noise=0.02))
    soundfile.write(path, np.concatenate(pieces), rate, subtype="PCM_16")
    return path


def folder_report(trained, folders: list[Path]):
    return evaluate_folders(load_model(trained.model_path), folders)


def misfiled_folders(dataset, root: Path) -> list[Path]:
    """The test folders with three files under the wrong class, so the report has mistakes:
    two noise files filed as low, one high file filed as noise."""
    folders = [Path(shutil.copytree(folder, root / folder.name)) for folder in dataset["test"]]
    low, high, noise = folders
    for source, target in [(noise / "noise_0.ogg", low), (noise / "noise_1.ogg", low),
                           (high / "high_0.flac", noise)]:
        source.rename(target / source.name)
    return folders


def make_evaluation(trained, folders: list[Path], path: Path, **options) -> Path:
    return evaluation_report(folder_report(trained, folders), path, **options)


def make_timeline(trained, folder: Path, **options) -> Path:
    recording = write_recording(folder / "recording.wav")
    result = segment_recording(recording, load_model(trained.model_path))
    return segmentation_report(result, folder / "recording.report.html", truth=EVENTS,
                               **options)


def make_feature_space(dataset, path: Path) -> Path:
    """The seed's scatter of the test folders (an SVM on two features), as a page."""
    from deep_audio.classic import plot_feature_space

    return plot_feature_space(dataset["test"], None, html=path, classifier="svm_rbf",
                              mid_window_seconds=1.0, mid_step_seconds=1.0,
                              short_window_seconds=0.05, short_step_seconds=0.025).html_path


def make_spectrogram(folder: Path) -> Path:
    from deep_audio.features.handcrafted import spectrogram
    from deep_audio.io.audio import read_audio

    recording = write_recording(folder / "spectrogram.wav")
    samples, rate = read_audio(recording)
    magnitude, frequencies, times = spectrogram(samples, rate, window_seconds=0.032,
                                                step_seconds=0.016)
    return spectrogram_report(magnitude, folder / "spectrogram.html", frequencies_hz=frequencies,
                              times_seconds=times, audio_path=recording,
                              title="spectrogram.wav")


def synthetic_multilabel(n_files: int = 60, seed: int = 0):
    """Targets of 4 classes (the last never present) and scores that rank them imperfectly."""
    rng = np.random.default_rng(seed)
    targets = (rng.random((n_files, 4)) < [0.5, 0.3, 0.2, 0.0]).astype(int)
    scores = np.clip(targets * 0.5 + rng.random((n_files, 4)) * 0.7, 0, 1)
    return targets, scores, ["dog", "car", "rain", "bird"]


def make_multilabel(path: Path) -> Path:
    return multilabel_report(*synthetic_multilabel(), path)
