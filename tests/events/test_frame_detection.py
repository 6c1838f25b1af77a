"""Frame-level sound event detection: the FrameDetection task, frame targets, the frame
model (seed backbone, FrameHead), its model file, stitching, and a detector trained on
clips with known onsets that finds a 0.2 s event within one frame."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from deep_audio.data.manifest import read_manifest
from deep_audio.data.segments import SegmentDataset, frame_targets
from deep_audio.errors import ConfigError
from deep_audio.io.model_files import load_model, save_model
from deep_audio.models.classifier import Classifier
from deep_audio.predict.long_recordings import segment_recording, stitch_frames
from deep_audio.tasks import FrameDetection, MultiLabel, SingleLabel, make_task, task_from_dict
from deep_audio.training.train import task_for, train_model
from deep_audio.training.transfer import transfer_learning
from tests.conftest import EXPORT_PACKAGES, needs, small_config, tone, write_class_folders

RATE = 8000
CLASSES = {"low": 600.0, "high": 2000.0}
EVENT_SECONDS = 0.2


def frame_config(**extra):
    """Small settings with 2 s segments: 2 blocks both halving time, 40 ms frames."""
    return small_config(segment_seconds=2.0, segment_hop_seconds=2.0, cache_dir="none",
                        **extra)


def test_auto_task_is_frame_detection_for_strong_labels_only():
    assert make_task("auto", strong_labels=True) == FrameDetection()
    assert make_task("auto", several_labels=True) == MultiLabel()
    assert make_task("auto") == SingleLabel()
    assert make_task("frame_detection") == FrameDetection()


def test_frame_task_scores_every_frame_and_round_trips():
    task = FrameDetection(thresholds=(0.5, 0.5), frame_seconds=0.04)
    assert task_from_dict(task.to_dict()) == task
    targets = np.zeros((2, 4, 2))  # 3 frames, then the clip row
    targets[0, 1, 0] = targets[1, 2, 1] = 1
    targets[:, -1] = targets[:, :-1].max(axis=1)
    posteriors = 0.1 + 0.8 * targets  # ranks every positive frame first
    assert task.validation_metrics(targets, posteriors)["map"] == pytest.approx(1.0)
    shifted = posteriors.copy()
    shifted[:, :-1] = np.roll(posteriors[:, :-1], 1, axis=1)  # right clips, wrong frames
    assert task.validation_metrics(targets, shifted)["map"] < 0.6
    assert task.file_posteriors(posteriors[:, :-1]).tolist() == pytest.approx([0.9, 0.9])


def test_frame_targets_mark_the_frames_an_event_covers():
    # frames of 0.1 s from 1.0 s: the event [1.14, 1.31) covers frames 1 and 2 by half
    rows = frame_targets(np.array([1.0]), 0.1, 5, [(1.14, 1.31, 0), (1.42, 1.44, 1)], 2)
    assert rows[0, :, 0].tolist() == [0, 1, 1, 0, 0]
    assert rows[0, :, 1].tolist() == [0, 0, 0, 0, 1]  # shorter than a frame: its frame


def test_segment_dataset_gives_frame_targets():
    waveform = np.zeros(2 * RATE, dtype=np.float32)
    dataset = SegmentDataset([waveform, waveform], [np.array([1.0, 0.0]), np.array([0.0, 1.0])],
                             segment_samples=RATE, hop_samples=RATE,
                             events=[[(0.5, 0.7, 0)], []], sample_rate=RATE,
                             frame_seconds=0.1)
    _, target = dataset[0]
    assert target.shape == (11, 2)  # 10 frames, then the segment's row
    assert target[:-1, 0].tolist() == [0] * 5 + [1, 1] + [0] * 3
    assert target[-1].isnan().all()  # events: the clip row is not trained
    assert dataset[1][1][:-1].sum() == 0  # the second second of the first clip: no event
    weak = dataset[2][1]  # no events: frames unknown, the clip's labels in the last row
    assert weak[:-1].isnan().all() and weak[-1].tolist() == [0, 1]


def test_frame_model_shapes_and_model_file(tmp_path):
    config = frame_config()
    model = Classifier.seed(config, list(CLASSES), make_task("frame_detection"))
    assert model.task.frame_seconds == pytest.approx(0.04)
    waveform = torch.randn(3, model.segment_samples)
    model.eval()
    logits = model(waveform)
    assert logits.shape == (3, 50, 2)  # 2 s / 40 ms
    assert model.clip_logits(waveform).shape == (3, 2)
    path = save_model(tmp_path / "frames.pt", model)
    loaded = load_model(path)
    assert loaded.task == model.task and loaded.backbone.time_pooling == 2
    assert torch.allclose(loaded(waveform), logits, atol=1e-5)


def test_crnn_head_rebuilds_from_its_model_file(tmp_path):
    config = frame_config(frame_recurrent_units=8, frame_time_pooling=1)
    model = Classifier.seed(config, list(CLASSES), make_task("frame_detection")).eval()
    assert model.task.frame_seconds == pytest.approx(0.02)
    waveform = torch.randn(2, model.segment_samples)
    loaded = load_model(save_model(tmp_path / "crnn.pt", model))
    assert loaded.head.recurrent is not None
    assert torch.allclose(loaded(waveform), model(waveform), atol=1e-5)



@needs(*EXPORT_PACKAGES)
@pytest.mark.slow
def test_crnn_exports_to_onnx_with_a_dynamic_batch(tmp_path):
    from deep_audio.export import probe_segments, to_onnx, verify

    config = frame_config(frame_recurrent_units=8)
    model = Classifier.seed(config, list(CLASSES), make_task("frame_detection")).eval()
    path = to_onnx(model, tmp_path / "crnn.onnx")  # the GRU once pinned the batch size
    segments = probe_segments(model.segment_samples, RATE, 0)
    for batch in (1, 3, len(segments)):
        assert verify(model, path, waveforms=segments[:batch]).same_decisions


def test_stitching_concatenates_frames_of_adjacent_segments():
    posteriors = np.arange(2 * 50 * 1, dtype=float).reshape(2, 50, 1)
    starts, ends, rows = stitch_frames(np.array([0.0, 2.0]), posteriors, 0.04)
    assert len(starts) == 100 and rows[:, 0].tolist() == list(range(100))
    assert np.allclose(starts, np.arange(100) * 0.04) and np.allclose(ends - starts, 0.04)


def event_clip(events, seconds, rng):
    """Noise with a 0.2 s tone of each ``(onset, class)``."""
    clip = 0.05 * rng.standard_normal(int(seconds * RATE)).astype(np.float32)
    for onset, name in events:
        start = int(round(onset * RATE))
        burst = tone(CLASSES[name], EVENT_SECONDS, RATE, amplitude=0.4)
        clip[start:start + len(burst)] += burst
    return clip


@pytest.fixture(scope="module")
def events_root(tmp_path_factory):
    """40 clips of 2 s with 0.2 s tones at known onsets, listed in ``events.csv``."""
    root = tmp_path_factory.mktemp("frames")
    rng = np.random.default_rng(0)
    rows = ["path,labels,fold,onset,offset"]
    for i in range(40):
        names = list(CLASSES) if i % 3 == 0 else [list(CLASSES)[i % 2]]
        events = [(float(rng.uniform(0.05, 1.7)), name) for name in names]
        soundfile.write(root / f"clip{i}.wav", event_clip(events, 2.0, rng), RATE)
        rows += [f"clip{i}.wav,{name},1,{onset:.3f},{onset + EVENT_SECONDS:.3f}"
                 for onset, name in events]
    (root / "events.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def detector(events_root):
    root = events_root
    result = train_model(manifest=root / "events.csv", output=root / "detector",
                         config=frame_config(epochs=25, min_epochs=25, learning_rate=3e-3,
                                             conv_channels=[8, 16]), progress=False)
    return root, result


@pytest.mark.slow
def test_strong_manifest_trains_a_frame_detector_by_default(detector):
    root, result = detector
    assert isinstance(task_for(frame_config(), read_manifest(root / "events.csv")),
                      FrameDetection)
    model = load_model(result.model_path)
    assert isinstance(model.task, FrameDetection) and model.frame_level
    assert len(model.task.thresholds) == 2
    assert result.metrics["val_map"] >= 0.8  # frame-level mAP of the best epoch
    assert model.task.tuned and len(model.task.median_filter_seconds) == 2
    assert 0 <= result.metrics["val_psds1"] <= 1 and result.metrics["val_event_f1"] > 0.5


@pytest.mark.slow
def test_detector_finds_a_short_event_within_one_frame_of_its_onset(detector, tmp_path):
    _, result = detector
    truth = [(1.23, "low"), (4.51, "high")]
    path = tmp_path / "unseen.wav"
    soundfile.write(path, event_clip(truth, 6.0, np.random.default_rng(99)), RATE)
    found = segment_recording(path, result.model_path)  # default settings
    assert found.settings["frame_seconds"] == pytest.approx(0.04)
    tuned = load_model(result.model_path).task  # post-processing tuned on validation
    assert found.settings["tuned_post_processing"]
    assert found.settings["event_median_filter_seconds"] == list(tuned.median_filter_seconds)
    assert len(found.events) == len(truth)
    assert np.allclose(np.diff(found.starts_seconds), 0.04)  # frames tile the recording
    for onset, name in truth:
        events = [e for e in found.events if e.label == name
                  and abs(e.onset_seconds - onset) <= 0.04 + 1e-9]
        assert events, (name, onset, [(e.label, e.onset_seconds) for e in found.events])
        assert abs(events[0].offset_seconds - (onset + EVENT_SECONDS)) <= 0.08


@needs(*EXPORT_PACKAGES)
@pytest.mark.slow
def test_onnx_export_of_a_frame_model_finds_the_same_events(detector, tmp_path):
    from deep_audio.export import to_onnx

    _, result = detector
    path = tmp_path / "unseen.wav"
    soundfile.write(path, event_clip([(2.71, "high")], 4.0, np.random.default_rng(7)), RATE)
    onnx_path = to_onnx(load_model(result.model_path), tmp_path / "detector.onnx")
    # the config's 0.12 s filter: the filter tuned on 8 validation clips may be longer
    # than this 0.2 s event; the test is that both paths find the same events
    torch_events, onnx_events = (
        segment_recording(path, model, frame_median_filter_seconds=0.12).events
        for model in (result.model_path, onnx_path))
    assert torch_events and [e.label for e in torch_events] == [e.label for e in onnx_events]
    assert np.allclose([(e.onset_seconds, e.offset_seconds) for e in torch_events],
                       [(e.onset_seconds, e.offset_seconds) for e in onnx_events])


def test_transfer_to_a_strong_manifest_builds_a_frame_detector_on_the_source_convs(
        events_root, tmp_path):
    # a clip model (0.5 s segments, its last block pools time) trained on other tones; the
    # frame detector keeps its conv weights, takes 2 s segments and 40 ms frames, and
    # trains only its head (frozen random convs averaged over bands cannot tell pitch)
    source_path = train_model(write_class_folders(tmp_path / "clips", files_per_class=8),
                              output=tmp_path / "source", progress=False,
                              config=small_config(conv_channels=[8, 16], epochs=8,
                                                  cache_dir="none")).model_path
    source = load_model(source_path)
    result = transfer_learning(source_path, manifest=events_root / "events.csv", strategy=0,
                               output=tmp_path / "frames", progress=False,
                               config=frame_config(epochs=15, min_epochs=15, min_steps=300),
                               segment_seconds=2.0, frame_recurrent_units=8)
    model = load_model(result.model_path)
    assert isinstance(model.task, FrameDetection) and model.frame_level
    assert model.task.frame_seconds == pytest.approx(0.04)
    assert model.segment_samples == 2 * RATE and model.head.recurrent is not None
    assert model.metadata["transfer"]["layers_frozen"] == 2
    for name, value in source.backbone.state_dict().items():  # weights and BatchNorm
        assert torch.equal(model.backbone.state_dict()[name], value), name
    assert result.metrics["val_map"] >= 0.9  # frame-level mAP: the head learnt when
    found = segment_recording(events_root / "clip3.wav", model)
    assert found.settings["frame_seconds"] == pytest.approx(0.04)


def test_transfer_keeps_refusing_front_end_changes_for_frames(events_root, tmp_path):
    source = Classifier.seed(small_config(conv_channels=[8, 16], cache_dir="none"), ["a", "b"])
    source_path = save_model(tmp_path / "source.pt", source)
    with pytest.raises(ConfigError, match="n_mels"):
        transfer_learning(source_path, manifest=events_root / "events.csv",
                          config=frame_config(), n_mels=16, progress=False)
