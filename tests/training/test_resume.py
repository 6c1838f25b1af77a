"""Checkpoints after every epoch, and resuming an interrupted run."""

import csv
import signal
import subprocess
import sys
import time

import pytest
import torch

from deep_audio.io.model_files import load_model
from deep_audio.training import loop, train_model
from tests.conftest import small_config

pytestmark = pytest.mark.slow  # every test here takes more than ~2 s


def _rows(path):
    with open(path) as stream:
        return list(csv.DictReader(stream))


def _crash_in_epoch(monkeypatch, epoch: int):
    """Make the validation of ``epoch`` raise KeyboardInterrupt; returns the real one."""
    real_evaluate, calls = loop.evaluate, []

    def crashing(*args, **kwargs):
        calls.append(1)
        if len(calls) == epoch:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(loop, "evaluate", crashing)
    return real_evaluate


@pytest.mark.parametrize("schedule", ["onecycle", "plateau"])
def test_an_interrupted_run_resumes_to_the_same_model(dataset, tmp_path, monkeypatch, schedule):
    config = small_config(models_dir=str(tmp_path), epochs=4, min_epochs=4, schedule=schedule)
    straight = train_model(dataset["train"], "straight", config=config, progress=False)

    real_evaluate = _crash_in_epoch(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        train_model(dataset["train"], "resumed", config=config, progress=False)
    checkpoint = tmp_path / "resumed.checkpoint.pt"
    assert checkpoint.is_file() and torch.load(checkpoint, weights_only=True)["epoch"] == 2
    assert len(_rows(tmp_path / "resumed.history.csv")) == 2
    load_model(tmp_path / "resumed.pt")  # the best model so far is intact

    monkeypatch.setattr(loop, "evaluate", real_evaluate)
    resumed = train_model(dataset["train"], "resumed", config=config, progress=False,
                          resume=True)
    assert not checkpoint.exists()
    assert [int(r["epoch"]) for r in _rows(resumed.history_path)] == [1, 2, 3, 4]
    assert resumed.best_epoch == straight.best_epoch
    a, b = load_model(straight.model_path), load_model(resumed.model_path)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key


def test_a_killed_training_process_resumes_and_never_corrupts_the_model(dataset, tmp_path):
    command = [sys.executable, "-m", "deep_audio.bin.basic_training", "-q",
               "-i", *map(str, dataset["train"]), "-o", str(tmp_path / "killed"),
               "--set", "sample_rate=8000", "--set", "n_fft=256", "--set", "n_mels=32",
               "--set", "conv_channels=[4, 8]", "--set", "hidden_units=[32]",
               "--set", "dropout=[0.1]", "--segment-seconds", "0.5",
               "--set", "min_epochs=6", "--epochs", "6", "--device", "cpu"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "killed.checkpoint.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoint.exists(), "no checkpoint was written before the kill"
    load_model(tmp_path / "killed.pt")

    finished = subprocess.run(command + ["--resume"], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert not checkpoint.exists()
    assert [int(r["epoch"]) for r in _rows(tmp_path / "killed.history.csv")] == list(range(1, 7))
    load_model(tmp_path / "killed.pt")


def test_an_interrupted_transfer_resumes_to_the_same_model(trained, dataset, tmp_path,
                                                           monkeypatch):
    """Further pretraining (strategy 2 on a large corpus) takes hours: it resumes too."""
    from deep_audio.training.transfer import transfer_learning

    run = dict(strategy=2, epochs=3, min_steps=0, few_shot_files_per_class=0, seed=1,
               progress=False, models_dir=str(tmp_path), device="cpu")
    folders = [dataset["train"][0], dataset["train"][2]]
    straight = transfer_learning(trained.model_path, folders, output="straight", **run)

    real_evaluate = _crash_in_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        transfer_learning(trained.model_path, folders, output="resumed", **run)
    monkeypatch.setattr(loop, "evaluate", real_evaluate)
    resumed = transfer_learning(trained.model_path, folders, output="resumed", resume=True,
                                **run)
    assert [int(r["epoch"]) for r in _rows(resumed.history_path)] == [1, 2, 3]
    assert _rows(resumed.history_path)[-1]["val_loss"] == _rows(
        straight.history_path)[-1]["val_loss"]
    a, b = load_model(straight.model_path), load_model(resumed.model_path)
    for key, value in a.state_dict().items():  # equal up to float rounding (~1e-5)
        assert torch.allclose(value.float(), b.state_dict()[key].float(), atol=1e-4), key
