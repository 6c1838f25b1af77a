"""Event post-processing tuned on validation data (issue 21): the tuner, and the tuned
per-class values stored in a frame model's task, reloaded and used by segment_recording,
the timeline and an ONNX export alike; a frame model's ``deep-audio test --segments``
rows, and time shift refused for frame targets."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from deep_audio.events import Event, SegmentScores
from deep_audio.events.tuning import tune_post_processing
from deep_audio.io.model_files import load_model, save_model
from deep_audio.models.classifier import Classifier
from deep_audio.predict.long_recordings import segment_recording
from deep_audio.tasks import FrameDetection, make_task, task_from_dict
from tests.conftest import EXPORT_PACKAGES, needs
from tests.events.test_frame_detection import CLASSES, RATE, event_clip, frame_config

FRAME_SECONDS = 0.04
TUNED = {"event_thresholds": (0.3, 0.9), "median_filter_seconds": (0.2, 0.4),
         "min_gap_seconds": (0.0, 0.3)}


def flickering_scores(seed: int, n_recordings: int = 12):
    """Frame scores of 10 s recordings, one event per class, with one-frame false peaks:
    a median filter longer than a frame removes the peaks, a lower threshold than 0.5
    finds the events."""
    rng = np.random.default_rng(seed)
    reference, scores = {}, {}
    starts = np.arange(250) * FRAME_SECONDS
    for index in range(n_recordings):
        posteriors = rng.uniform(0.0, 0.3, (len(starts), 2))
        events = []
        for column, label in enumerate(("a", "b")):
            onset = float(rng.uniform(0.5, 8.0))
            events.append(Event(onset, onset + float(rng.uniform(0.4, 1.2)), label))
            inside = ((starts + FRAME_SECONDS / 2 >= events[-1].onset_seconds)
                      & (starts + FRAME_SECONDS / 2 < events[-1].offset_seconds))
            posteriors[inside, column] = rng.uniform(0.35, 0.45, inside.sum())
            posteriors[rng.random(len(starts)) < 0.04, column] = 0.95  # lone false frames
        reference[f"r{index}"] = events
        scores[f"r{index}"] = SegmentScores(starts, starts + FRAME_SECONDS, posteriors)
    return reference, scores


def test_tuner_finds_the_filter_and_threshold_that_recover_the_events():
    reference, scores = flickering_scores(0)
    durations = {name: 10.0 for name in reference}
    tuned = tune_post_processing(reference, scores, class_names=["a", "b"],
                                 durations_seconds=durations, default_thresholds=[0.5, 0.5],
                                 default_median_filter_seconds=0.0,
                                 default_min_gap_seconds=0.5)
    assert all(0.1 < f <= 0.5 for f in tuned.median_filter_seconds)  # peaks filtered out
    assert all(0.3 < t < 0.45 for t in tuned.thresholds)  # under the events' 0.35-0.45
    assert min(tuned.class_f1.values()) >= 0.9


def test_tuner_keeps_the_defaults_when_they_are_already_best():
    reference, scores = flickering_scores(1, n_recordings=4)
    clean = {name: SegmentScores(s.starts_seconds, s.ends_seconds,
                                 np.where(s.posteriors >= 0.9, 0.1, s.posteriors) * 2)
             for name, s in scores.items()}  # events at 0.7-0.9, nothing else above 0.6
    tuned = tune_post_processing(reference, clean, class_names=["a", "b"],
                                 durations_seconds={name: 10.0 for name in reference},
                                 default_thresholds=[0.6, 0.6],
                                 default_median_filter_seconds=0.12,
                                 default_min_gap_seconds=0.5)
    assert tuned.thresholds == (0.6, 0.6) and tuned.median_filter_seconds == (0.12, 0.12)
    assert tuned.min_gap_seconds == (0.5, 0.5)


def test_a_class_without_validation_events_takes_the_tuned_classes_median():
    reference, scores = flickering_scores(0)
    only_a = {name: [e for e in events if e.label == "a"] for name, events in reference.items()}
    tuned = tune_post_processing(only_a, scores, class_names=["a", "b"],
                                 durations_seconds={name: 10.0 for name in reference},
                                 default_thresholds=[0.5, 0.5],
                                 default_median_filter_seconds=0.0,
                                 default_min_gap_seconds=0.5)
    assert 0.3 < tuned.thresholds[0] < 0.45  # "a" is tuned as before
    assert tuned.thresholds[1] == tuned.thresholds[0]  # not the untuned default 0.5
    assert tuned.median_filter_seconds[1] == tuned.median_filter_seconds[0] > 0
    assert set(tuned.class_f1) == {"a"}


def test_older_frame_tasks_load_untuned():
    task = task_from_dict({"name": "frame_detection", "thresholds": [0.4, 0.6],
                           "frame_seconds": 0.04})  # written before tuning existed
    assert not task.tuned
    settings = task.event_settings(2, frame_config().inference)
    assert settings["thresholds"].tolist() == [0.4, 0.6]
    assert settings["median_filter_seconds"].tolist() == [0.12, 0.12]


@pytest.fixture()
def tuned_model_file(tmp_path):
    model = Classifier.seed(frame_config(conv_channels=[8, 16]), list(CLASSES),
                            make_task("frame_detection"))
    model.task = model.task.with_post_processing(**TUNED)
    path = save_model(tmp_path / "tuned.pt", model)
    audio = tmp_path / "recording.wav"
    soundfile.write(audio, event_clip([(1.1, "low")], 4.0, np.random.default_rng(3)), RATE)
    return path, audio


def test_tuned_post_processing_is_stored_reloaded_and_used(tuned_model_file, tmp_path):
    path, audio = tuned_model_file
    task = load_model(path).task
    assert isinstance(task, FrameDetection) and task.tuned
    assert (task.event_thresholds, task.median_filter_seconds, task.min_gap_seconds) == (
        TUNED["event_thresholds"], TUNED["median_filter_seconds"], TUNED["min_gap_seconds"])
    found = segment_recording(audio, path)
    assert found.settings["thresholds"] == list(TUNED["event_thresholds"])
    assert found.settings["event_median_filter_seconds"] == list(TUNED["median_filter_seconds"])
    assert found.settings["event_min_gap_seconds"] == list(TUNED["min_gap_seconds"])
    # the timeline's curves are the filtered ones the events are thresholded on
    assert not np.allclose(found.smoothed[:, 1], found.posteriors[:, 1])
    assert found.plot(tmp_path / "timeline.png").is_file()
    named = segment_recording(audio, path, frame_median_filter_seconds=0.08)
    assert named.settings["event_median_filter_seconds"] == [0.08, 0.08]  # the caller's


@needs(*EXPORT_PACKAGES)
def test_onnx_export_carries_the_tuned_post_processing(tuned_model_file, tmp_path):
    from deep_audio.export import to_onnx
    from deep_audio.predict.onnx import OnnxClassifier

    path, audio = tuned_model_file
    onnx_path = to_onnx(load_model(path), tmp_path / "tuned.onnx")
    assert OnnxClassifier(onnx_path).task == load_model(path).task
    torch_found, onnx_found = (segment_recording(audio, model) for model in (path, onnx_path))
    assert onnx_found.settings["event_median_filter_seconds"] == list(
        TUNED["median_filter_seconds"])
    assert [(e.label, round(e.onset_seconds, 3)) for e in torch_found.events] == [
        (e.label, round(e.onset_seconds, 3)) for e in onnx_found.events]


def test_test_segments_prints_a_row_per_segment_of_a_frame_model(tuned_model_file, capsys):
    from deep_audio.cli import test as test_command

    path, audio = tuned_model_file
    assert test_command.main(["-m", str(path), "-i", str(audio), "--segments"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines()
            if line and line[0].isdigit()]
    assert len(rows) == 2  # 4 s in 2 s segments; each row its frames' maximum
    assert all(len(row.split("\t")) == 4 + len(CLASSES) for row in rows)


def test_time_shift_is_refused_for_a_frame_model(tmp_path):
    from deep_audio.errors import ConfigError
    from deep_audio.training.train import _augmentation

    config = frame_config(time_shift_seconds=0.1)
    model = Classifier.seed(config, list(CLASSES), make_task("frame_detection"))
    with pytest.raises(ConfigError, match="frame targets"):
        _augmentation(config, model)
