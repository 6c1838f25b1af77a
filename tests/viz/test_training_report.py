"""The training report: curves per epoch and the best model's confusion matrix."""

import numpy as np

from deep_audio.bin import classification_report
from deep_audio.training.history import read_history
from deep_audio.viz.training import plot_training_report

PNG = b"\x89PNG\r\n\x1a\n"


def test_training_writes_the_report_beside_the_model(trained):
    assert trained.report_path == trained.model_path.with_suffix(".report.png")
    assert trained.report_path.read_bytes()[:8] == PNG
    history = read_history(trained.history_path)
    for column in ("train_loss", "val_loss", "train_accuracy", "val_accuracy",
                   "train_macro_f1", "val_macro_f1"):
        assert len(history[column]) == len(history["epoch"]) >= 3
        if column != "train_loss" and column != "val_loss":
            assert all(0.0 <= v <= 1.0 for v in history[column])
    assert np.asarray(trained.metrics["val_confusion"]).shape == (3, 3)


def test_report_cli_writes_curves_and_confusion_for_any_folders(trained, dataset, tmp_path,
                                                               capsys):
    report = tmp_path / "report.png"
    code = classification_report.main(["-m", str(trained.model_path), "-i",
                                       *map(str, dataset["test"]), "--plot",
                                       str(tmp_path / "confusion.png"), "--report", str(report)])
    assert code == 0 and "training report" in capsys.readouterr().out
    assert report.read_bytes()[:8] == PNG


def test_report_without_history_and_as_html(tmp_path):
    page = plot_training_report({}, np.array([[3, 1], [0, 4]]), ["a", "b"],
                                tmp_path / "report.html")
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text
