"""The command-line modules: output, files written, and one-line errors."""

import subprocess
import sys

import pytest

from deep_audio.bin import basic_test, basic_training, classification_report, model_architecture
from tests.conftest import REPO


@pytest.mark.slow
def test_training_cli_writes_a_model_with_overrides(dataset, tmp_path, capsys):
    code = basic_training.main([
        "-q", "-i", *map(str, dataset["train"]), "-o", str(tmp_path / "cli_model.pt"),
        "--set", "sample_rate=8000", "--set", "n_fft=256", "--set", "n_mels=32",
        "--set", "conv_channels=[4, 8]", "--set", "hidden_units=[16]", "--set", "dropout=[0.1]",
        "--segment-seconds", "0.5", "--epochs", "2", "--batch-size", "8", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0
    assert (tmp_path / "cli_model.pt").is_file() and (tmp_path / "cli_model.history.csv").is_file()
    assert "classes: low, high, noise" in out and "best epoch" in out


def test_basic_test_prints_files_and_segments(trained, dataset, capsys):
    files = sorted(dataset["test"][2].iterdir())[:2]
    assert basic_test.main(["-m", str(trained.model_path), "-i", *map(str, files)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t")[:3] == ["file", "class", "probability"]
    assert [line.split("\t")[1] for line in lines[1:]] == ["noise", "noise"]

    assert basic_test.main(["-m", str(trained.model_path), "-i", str(files[0]), "--segments"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()[2:]]
    assert rows[0][:2] == ["0.000", "0.500"] and rows[-1][1] == "1.200"


def test_report_prints_scores_and_saves_the_confusion_png(trained, dataset, tmp_path, capsys):
    png = tmp_path / "confusion.png"
    code = classification_report.main(["-m", str(trained.model_path), "-i",
                                       *map(str, dataset["test"]), "--plot", str(png)])
    out = capsys.readouterr().out
    assert code == 0
    assert "precision" in out and "macro F1" in out and "confusion matrix" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


SEED_PRESET = REPO / "configs" / "seed.yaml"


def test_architecture_prints_the_seed_table(capsys):
    assert model_architecture.main(["--classes", "16", "-c", str(SEED_PRESET)]) == 0
    out = capsys.readouterr().out
    assert "[-1, 32, 201, 128]" in out and "Total params: 26,510,800" in out
    assert "24576 inputs" in out


def test_errors_are_one_line_not_tracebacks(tmp_path, capsys):
    assert basic_test.main(["-m", str(tmp_path / "missing.pt"), "-i", "x.wav"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model file") and "Traceback" not in err
    assert basic_training.main(["-i", "a", "b", "-o", "m", "--set", "epochs=lots"]) == 2
    assert "epochs='lots' is not a valid int" in capsys.readouterr().err


def test_a_background_folder_without_audio_is_a_one_line_error(dataset, tmp_path, capsys):
    code = basic_training.main(["-q", "-i", *map(str, dataset["train"]), "-o",
                                str(tmp_path / "m.pt"), "--background-folder",
                                str(tmp_path / "missing"), "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error: background_folder:") and "missing" in err
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.slow
def test_modules_run_with_python_dash_m(tmp_path):
    result = subprocess.run([sys.executable, "-m", "deep_audio.bin.basic_training", "-i",
                             str(tmp_path / "a"), str(tmp_path / "b"), "-o", "m"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "error: cannot list" in result.stderr and "Traceback" not in result.stderr


def test_unwritable_output_is_a_one_line_error(trained, dataset, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = classification_report.main(["-m", str(trained.model_path), "-i",
                                       *map(str, dataset["test"]),
                                       "--plot", str(blocker / "sub" / "c.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err
