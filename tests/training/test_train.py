"""End to end: generated class folders -> trained model -> predictions on held-out files."""

import csv
import logging

import numpy as np
import pytest
import soundfile
import torch

from deep_audio.device import autocast_dtype, resolve_device
from deep_audio.errors import ConfigError, DeepAudioError
from deep_audio.io.model_files import load_model
from deep_audio.predict import classify_file, classify_files, evaluate_folders
from deep_audio.tasks import MultiLabel, SingleLabel
from deep_audio.training import train_model
from tests.conftest import small_config, tone


def test_trained_model_classifies_held_out_files_far_above_chance(trained, dataset):
    model = load_model(trained.model_path)
    report = evaluate_folders(model, dataset["test"])
    assert report.confusion.sum() == 18
    assert report.scores["accuracy"] >= 0.9  # chance is 1/3
    assert trained.metrics["val_macro_f1"] >= 0.9


def test_model_file_records_what_training_did(trained):
    model = load_model(trained.model_path)
    meta = model.metadata
    assert model.class_names == ["low", "high", "noise"]
    assert meta["best_epoch"] == trained.best_epoch
    assert meta["train_files"] + meta["validation_files"] == 36
    assert meta["validation_files"] == 3 * round(0.2 * 12)
    # Normalisation statistics of the training set travel in the model file.
    assert model.backbone.normalize.mean.abs().sum() > 0 and not torch.allclose(
        model.backbone.normalize.std, torch.ones_like(model.backbone.normalize.std))


def test_per_epoch_log_is_written_next_to_the_model(trained):
    with open(trained.history_path) as stream:
        rows = list(csv.DictReader(stream))
    assert trained.history_path.parent == trained.model_path.parent
    assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1))
    columns = {"train_loss", "val_loss", "val_accuracy", "val_macro_f1", "learning_rate"}
    assert columns <= set(rows[0])
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])


def test_classify_file_mirrors_the_seed_call(trained, dataset):
    winner, posteriors, classes = classify_file(sorted(dataset["test"][1].iterdir())[0],
                                                str(trained.model_path))
    assert classes == ["low", "high", "noise"] and classes[winner] == "high"
    assert posteriors.shape == (3,) and posteriors.sum() == pytest.approx(1.0, abs=1e-5)


def test_batched_classification_equals_one_file_at_a_time(trained, dataset):
    model = load_model(trained.model_path)
    files = [path for folder in dataset["test"] for path in sorted(folder.iterdir())]
    batched = list(classify_files(files, model, batch_size=7))
    assert [p.path for p in batched] == files
    for prediction in batched[::4]:
        alone = next(classify_files([prediction.path], model, batch_size=1))
        np.testing.assert_allclose(prediction.posteriors, alone.posteriors, atol=1e-5)
    segments = batched[0].segments
    assert [(s.start_seconds, s.end_seconds) for s in segments] == [
        (0.0, 0.5), (0.25, 0.75), (0.5, 1.0), (0.7, 1.2)]
    np.testing.assert_allclose(np.mean([s.posteriors for s in segments], axis=0),
                               batched[0].posteriors, atol=1e-6)


@pytest.mark.slow
def test_training_is_reproducible_and_skips_damaged_files(dataset, tmp_path):
    bad = dataset["train"][0] / "zz_damaged.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    try:
        config = small_config(models_dir=str(tmp_path), epochs=2, min_epochs=1)
        first = train_model(dataset["train"], "a", config=config, progress=False)
        second = train_model(dataset["train"], "b.pt", config=config, progress=False)
    finally:
        bad.unlink()
    assert [p.name for p, _ in first.skipped_files] == ["zz_damaged.wav"]
    assert "zz_damaged.wav" in load_model(first.model_path).metadata["skipped_files"][0][0]
    a, b = load_model(first.model_path), load_model(second.model_path)
    assert second.model_path.name == "b.pt"
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key


@pytest.mark.slow
def test_early_stopping_and_class_weighting(dataset, tmp_path):
    result = train_model(dataset["train"], "w", progress=False, config=small_config(
        models_dir=str(tmp_path), epochs=40, min_epochs=2, early_stopping_patience=2,
        class_weighting=True))
    assert result.best_epoch < 40
    with open(result.history_path) as stream:
        assert len(list(stream)) - 1 <= result.best_epoch + 2


def test_class_weights_are_inverse_frequency():
    weights = SingleLabel().loss_weights(np.array([0, 0, 0, 1]), 2)
    np.testing.assert_allclose(weights, [4 / 6, 4 / 2])
    positives = MultiLabel().loss_weights(np.array([[1, 0], [1, 1], [0, 0], [1, 0]]), 2)
    np.testing.assert_allclose(positives, [1 / 3, 3 / 1])  # negatives / positives


@pytest.mark.slow
def test_bf16_autocast_trains_on_cpu_when_supported(dataset, tmp_path):
    if autocast_dtype("auto", torch.device("cpu")) is None:
        pytest.skip("this CPU has no bf16 support")
    result = train_model(dataset["train"], "bf16", progress=False, config=small_config(
        models_dir=str(tmp_path), epochs=3, precision="bf16"))
    assert np.isfinite(result.metrics["train_loss"])


def test_device_and_precision_choices_are_checked():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in {"cpu", "cuda"}
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        autocast_dtype("fp16", torch.device("cpu"))
    assert autocast_dtype("fp32", torch.device("cpu")) is None


def test_class_folder_with_only_damaged_files_is_an_error(tmp_path, dataset):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.wav").write_bytes(b"junk")
    with pytest.raises(DeepAudioError, match=r"no usable audio left for class\(es\) \['broken'\]"):
        train_model([dataset["train"][0], broken], "x", config=small_config(
            models_dir=str(tmp_path)), progress=False)


def test_training_mixes_in_the_background_folder(dataset, tmp_path, caplog):
    (tmp_path / "backgrounds").mkdir()
    soundfile.write(tmp_path / "backgrounds" / "hum.wav", tone(50.0, 2.0, 16000), 16000)
    with caplog.at_level(logging.INFO, logger="deep_audio"):
        result = train_model(dataset["train"], "bg", progress=False, config=small_config(
            models_dir=str(tmp_path), epochs=1,
            background_folder=str(tmp_path / "backgrounds"), background_probability=1.0))
    assert result.model_path.exists()
    assert any("backgrounds=1 recordings" in m and "background_probability=1.0" in m
               for m in caplog.messages)
