"""tools/make_frame_pretraining_set.py: events land where their rows say, folds stay apart."""

import csv
import importlib.util
import sys

import numpy as np
import soundfile

from tests.conftest import REPO

RECIPE = REPO / "tools" / "make_frame_pretraining_set.py"
spec = importlib.util.spec_from_file_location("make_frame_pretraining_set", RECIPE)
recipe = importlib.util.module_from_spec(spec)
sys.modules.setdefault("make_frame_pretraining_set", recipe)  # dataclasses look it up
spec.loader.exec_module(recipe)

RATE = 16000
TRAIN_HZ, VALIDATION_HZ = 500.0, 3000.0


def tone(hz, seconds, *, silence_seconds=0.0):
    t = np.arange(int(seconds * RATE)) / RATE
    lead = np.zeros(int(silence_seconds * RATE))
    return np.concatenate([lead, 0.5 * np.sin(2 * np.pi * hz * t), lead]).astype(np.float32)


def corpus(root):
    """Tones with half a second of silence either side (fold 10 an octave apart), quiet
    noise as ambience."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        for fold, hz in ((1 + i % 9, TRAIN_HZ), (10, VALIDATION_HZ)):
            name = f"clips/beep_{fold}_{i}.flac"
            soundfile.write(root / name, tone(hz * (1 + i / 100), 0.3 + i / 20,
                                              silence_seconds=0.5), RATE)
            rows.append(f"{name},object;object/bell,{fold}")
    for fold in (1, 10):
        name = f"clips/rain_{fold}.flac"
        soundfile.write(root / name, 0.01 * rng.standard_normal(3 * RATE).astype(np.float32),
                        RATE)
        rows.append(f"{name},ambience;sound_effect,{fold}")
    (root / "manifest.csv").write_text("path,labels,fold\n" + "\n".join(rows) + "\n")


def build(tmp_path, out):
    (tmp_path / "corpus" / "clips").mkdir(parents=True, exist_ok=True)
    corpus(tmp_path / "corpus")
    recipe.main(["--corpus", str(tmp_path / "corpus"), "--out", str(out), "--clips", "6",
                 "--validation-clips", "3", "--clip-seconds", "4", "--events", "1", "1",
                 "--min-class-clips", "2", "--snr-db", "20", "20", "--jobs", "1"])
    with open(out / "strong.csv", newline="") as stream:
        return list(csv.DictReader(stream))


def test_events_are_trimmed_and_annotated_where_they_sound(tmp_path):
    rows = build(tmp_path, tmp_path / "mixtures")
    assert {row["labels"] for row in rows} == {"object", "object/bell"}  # no ambience
    for row in rows:
        audio, rate = soundfile.read(tmp_path / "mixtures" / row["path"], dtype="float32")
        onset, offset = (int(float(row[key]) * rate) for key in ("onset", "offset"))
        inside = np.sqrt(np.mean(audio[onset:offset] ** 2))
        outside = np.concatenate([audio[:max(0, onset - 160)], audio[offset + 160:]])
        # the tone's leading and trailing silence was trimmed: loud from onset to offset
        assert inside > 5 * np.sqrt(np.mean(outside ** 2))
        for edge in (onset, offset - 640):  # the last 20 ms fade out
            assert np.sqrt(np.mean(audio[edge:edge + 160] ** 2)) > 0.5 * inside


def test_validation_mixtures_hold_only_fold_10_sounds(tmp_path):
    rows = build(tmp_path, tmp_path / "mixtures")
    assert {row["fold"] for row in rows} == {"1", "2"}
    for row in rows:
        audio, rate = soundfile.read(tmp_path / "mixtures" / row["path"], dtype="float32")
        event = audio[int(float(row["onset"]) * rate):int(float(row["offset"]) * rate)]
        peak_hz = np.argmax(np.abs(np.fft.rfft(event))) * rate / len(event)
        expected = VALIDATION_HZ if row["fold"] == "2" else TRAIN_HZ
        assert abs(peak_hz - expected) < 0.15 * expected


def test_two_builds_are_identical(tmp_path):
    first = build(tmp_path, tmp_path / "a")
    second = build(tmp_path, tmp_path / "b")
    assert first == second
    for row in first:
        assert (tmp_path / "a" / row["path"]).read_bytes() == \
            (tmp_path / "b" / row["path"]).read_bytes()
