"""Mean teacher: the moving-average teacher, the ramped consistency loss, unlabelled
clips that train a frame detector through it, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch
from torch.utils.data import DataLoader, TensorDataset

from deep_audio.errors import DeepAudioError
from deep_audio.io.model_files import load_model
from deep_audio.models import Classifier
from deep_audio.tasks import make_task
from deep_audio.training.loop import Optimisation, TrainingStep, train_one_epoch
from deep_audio.training.mean_teacher import MeanTeacher
from deep_audio.training.train import train_model
from tests.conftest import small_config, write_class_folders
from tests.events.test_frame_detection import RATE, event_clip, events_root, frame_config

__all__ = ["events_root"]  # the module-scoped fixture, shared with the frame tests


def frame_model():
    return Classifier.seed(frame_config(conv_channels=[4, 8]), ["low", "high"],
                           make_task("frame_detection"))


def test_teacher_follows_the_student_by_its_moving_average():
    student = frame_model()
    teacher = MeanTeacher(student, weight=2.0, decay=0.9, rampup_steps=10)
    assert not any(p.requires_grad for p in teacher.teacher.parameters())
    start = [p.detach().clone() for p in teacher.teacher.parameters()]
    with torch.no_grad():
        for parameter in student.parameters():
            parameter.add_(1.0)
    for _ in range(30):
        teacher.update(student)
    for before, after, target in zip(start, teacher.teacher.parameters(), student.parameters()):
        moved = (after - before).abs().mean() / (target - before).abs().mean()
        assert 0.9 < moved <= 1.0  # most of the way, never past the student
    assert teacher.current_weight() == pytest.approx(2.0)  # ramped up after 10 steps
    fresh = MeanTeacher(student, weight=2.0, decay=0.9, rampup_steps=10)
    assert fresh.current_weight() == pytest.approx(2.0 * np.exp(-5.0))


def test_unlabelled_segments_train_only_through_the_consistency_loss():
    model = frame_model()
    teacher = MeanTeacher(model, weight=1.0, decay=0.99, rampup_steps=1)
    with torch.no_grad():  # a teacher that disagrees with the student
        teacher.teacher.head.output.bias.add_(3.0)
    n_frames = model(torch.zeros(1, model.segment_samples)).shape[1]
    unknown = torch.full((8, n_frames + 1, 2), float("nan"))  # no label anywhere
    data = TensorDataset(0.1 * torch.randn(8, model.segment_samples), unknown)
    before = model.head.output.bias.detach().clone()
    optimisation = Optimisation(torch.optim.SGD(model.parameters(), lr=1.0), None,
                                model.task.loss(), torch.amp.GradScaler("cpu", enabled=False),
                                None, teacher)
    result = train_one_epoch(TrainingStep(model, None, teacher), DataLoader(data, batch_size=4),
                             optimisation, model.task, device=torch.device("cpu"),
                             progress=False)
    assert np.isfinite(result["loss"]) and result["loss"] > 0
    assert (model.head.output.bias > before).all()  # pulled towards the teacher's posteriors
    assert teacher.steps == 2


def unlabelled_folder(root, n=8):
    rng = np.random.default_rng(3)
    root.mkdir()
    for i in range(n):
        name = ["low", "high"][i % 2]
        soundfile.write(root / f"u{i}.wav",
                        event_clip([(float(rng.uniform(0.1, 1.6)), name)], 2.0, rng), RATE)
    return root


def test_a_detector_trains_with_unlabelled_clips(events_root, tmp_path):
    folder = unlabelled_folder(tmp_path / "unlabelled")
    result = train_model(manifest=events_root / "events.csv", output=tmp_path / "mt",
                         unlabelled=[folder], progress=False,
                         config=frame_config(epochs=3, min_epochs=3, conv_channels=[4, 8]))
    model = load_model(result.model_path)
    assert model.metadata["unlabelled_files"] == 8
    assert model.metadata["unlabelled"] == [str(folder)]
    assert model.metadata["train_segments"] == model.metadata["train_files"] + 8  # 2 s clips
    assert not any("teacher" in key for key in model.state_dict())  # the student only


def test_unlabelled_clips_are_refused_where_no_mean_teacher_applies(tmp_path, events_root):
    folder = unlabelled_folder(tmp_path / "unlabelled", n=2)
    classes = write_class_folders(tmp_path / "clips", files_per_class=3)
    with pytest.raises(DeepAudioError, match="frame detector only"):
        train_model(classes, tmp_path / "x", unlabelled=[folder], progress=False,
                    config=small_config(epochs=1))
    with pytest.raises(DeepAudioError, match="mean_teacher_weight is 0"):
        train_model(manifest=events_root / "events.csv", output=tmp_path / "y",
                    unlabelled=[folder], progress=False,
                    config=frame_config(epochs=1, mean_teacher_weight=0.0))
    with pytest.raises(DeepAudioError, match="no audio files"):
        (tmp_path / "empty").mkdir()
        train_model(manifest=events_root / "events.csv", output=tmp_path / "z",
                    unlabelled=[tmp_path / "empty"], progress=False,
                    config=frame_config(epochs=1))


def test_desed_shaped_strong_weak_and_unlabelled_sets_train_one_detector(tmp_path):
    """The DCASE task 4 recipe's three sets, each in its own folder: a strong TSV, a weak
    TSV (relative to another audio folder) and unlabelled clips, all in one run."""
    rng = np.random.default_rng(5)
    for folder in ("synth", "weak"):
        (tmp_path / folder).mkdir()
    strong, weak = ["filename\tonset\toffset\tevent_label"], ["filename\tevent_labels"]
    for i in range(12):
        name = ["low", "high"][i % 2]
        onset = float(rng.uniform(0.1, 1.6))
        soundfile.write(tmp_path / "synth" / f"s{i}.wav",
                        event_clip([(onset, name)], 2.0, rng), RATE)
        strong.append(f"s{i}.wav\t{onset:.3f}\t{onset + 0.2:.3f}\t{name}")
        soundfile.write(tmp_path / "weak" / f"w{i}.wav",
                        event_clip([(float(rng.uniform(0.1, 1.6)), name)], 2.0, rng), RATE)
        weak.append(f"w{i}.wav\t{name}")
    (tmp_path / "strong.tsv").write_text("\n".join(strong) + "\n")
    (tmp_path / "weak.tsv").write_text("\n".join(weak) + "\n")
    unlabelled = unlabelled_folder(tmp_path / "unlabelled", n=4)
    result = train_model(manifest=[tmp_path / "strong.tsv", tmp_path / "weak.tsv"],
                         audio_root=[tmp_path / "synth", tmp_path / "weak"],
                         output=tmp_path / "desed", unlabelled=[unlabelled], progress=False,
                         config=frame_config(epochs=2, min_epochs=2, conv_channels=[4, 8]))
    model = load_model(result.model_path)
    assert model.frame_level and model.class_names == ["high", "low"]
    assert model.metadata["train_files"] + model.metadata["validation_files"] == 24
    assert model.metadata["unlabelled_files"] == 4


def test_manifest_rows_without_a_label_are_unlabelled_clips(events_root, tmp_path, caplog):
    folder = unlabelled_folder(tmp_path / "unlabelled", n=6)
    rows = (events_root / "events.csv").read_text().splitlines()
    rows = [rows[0]] + [f"{events_root / line.split(',')[0]},{line.split(',', 1)[1]}"
                        for line in rows[1:]]
    rows += [f"{folder / f'u{i}.wav'},,{1 if i < 4 else 2},," for i in range(6)]
    (tmp_path / "mixed.csv").write_text("\n".join(rows) + "\n")
    result = train_model(manifest=tmp_path / "mixed.csv", output=tmp_path / "mt",
                         progress=False, config=frame_config(epochs=2, min_epochs=2,
                                                             conv_channels=[4, 8]))
    assert load_model(result.model_path).metadata["unlabelled_files"] == 6
    # clips of the validation fold stay out of training, labelled or not
    (tmp_path / "two_folds.csv").write_text("\n".join(
        rows[:21] + [row.replace(",1,", ",2,") for row in rows[21:-6]] + rows[-6:]) + "\n")
    result = train_model(manifest=tmp_path / "two_folds.csv", output=tmp_path / "vf",
                         progress=False, config=frame_config(epochs=1, min_epochs=1,
                                                             conv_channels=[4, 8],
                                                             validation_fold="2"))
    assert load_model(result.model_path).metadata["unlabelled_files"] == 4
    # a tagger has no mean teacher: the rows are left out, with a warning
    tagger = train_model(manifest=tmp_path / "mixed.csv", output=tmp_path / "tagger",
                         progress=False, task="multi_label",
                         config=small_config(epochs=1, cache_dir="none"))
    assert load_model(tagger.model_path).metadata["unlabelled_files"] == 0
    assert "6 manifest row(s) without a label left out" in caplog.text
