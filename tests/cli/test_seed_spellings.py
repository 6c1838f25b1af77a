"""The one command, ``deep-audio COMMAND``, and the seed's spellings that still run it:
``python -m deep_audio.bin.basic_training``, ``from deep_audio.bin import basic_training as
bt; bt.train_model(...)`` and pyAudioAnalysis's function names."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deep_audio.cli import main as cli_main
from deep_audio.cli.main import COMMANDS, GROUPS
from tests.conftest import REPO, SMALL_CONFIG, write_class_folders

ROOT = REPO
# The seed's modules, each the same command as a deep_audio.cli module.
SEED_MODULES = {seed: command for command in COMMANDS.values()
                for seed in command.seed_modules}


def python(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize("module", ["deep_audio.bin.basic_training",
                                    "deep_audio.bin.transfer_learning"])
@pytest.mark.slow
def test_the_seed_modules_run_with_python_dash_m(module):
    done = python("-m", module, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ") and "--output" in done.stdout


@pytest.mark.slow
def test_the_seed_imports_are_the_library_functions():
    import deep_audio.classic as classic
    from deep_audio.bin import basic_training as bt
    from deep_audio.bin import classic_test, classic_training, feature_extraction
    from deep_audio.bin import transfer_learning as tl
    from deep_audio.training import train_model
    from deep_audio.training.transfer import transfer_learning

    assert bt.train_model is train_model
    assert tl.transfer_learning is transfer_learning
    assert feature_extraction.directory_feature_extraction is classic.directory_feature_extraction
    assert classic_training.extract_features_and_train is classic.extract_features_and_train
    assert classic_test.file_classification is classic.file_classification


@pytest.mark.parametrize("seed", sorted(SEED_MODULES))
def test_each_seed_module_runs_its_command(seed):
    seed_module = importlib.import_module(f"deep_audio.bin.{seed}")
    command_module = SEED_MODULES[seed].load()
    assert "main" in seed_module.__all__
    for name in seed_module.__all__:
        assert getattr(seed_module, name) is getattr(command_module, name)


# The console script, where this environment installed it (pip install -e . does).
INSTALLED_SCRIPT = shutil.which("deep-audio", path=str(Path(sys.executable).parent))


@pytest.mark.parametrize("argv", [
    [sys.executable, "-m", "deep_audio", "--help"],
    pytest.param([INSTALLED_SCRIPT, "--help"], marks=pytest.mark.skipif(
        INSTALLED_SCRIPT is None, reason="the deep-audio script is not installed here "
                                         "(pip install -e . installs it)"))])
def test_the_help_lists_every_command_in_groups(argv):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for title, commands in GROUPS.items():
        start = lines.index(f"{title}:")
        listed = [line.split()[0] for line in lines[start + 1:start + 1 + len(commands)]]
        assert listed == [c.name for c in commands]
    assert len(COMMANDS) == 16


def test_the_version_is_the_package_version():
    import deep_audio

    done = python("-m", "deep_audio", "--version")
    assert done.returncode == 0 and done.stdout == f"deep-audio {deep_audio.__version__}\n"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_has_help_with_examples(name, capsys):
    with pytest.raises(SystemExit) as exit:
        cli_main.main([name, "--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: deep-audio {name} ") and "[options]" in out
    assert "\nexamples:\n" in out and f"deep-audio {name} " in out.split("examples:")[1]


def test_the_old_console_scripts_say_they_are_old(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["deep-audio-train", "--help"])
    with pytest.raises(SystemExit):
        cli_main.deep_audio_train()
    out = capsys.readouterr().out
    assert out.startswith("usage: deep-audio-train ")
    assert "deep-audio-train is the older name of 'deep-audio train'" in out


def test_the_console_scripts_name_existing_functions():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is standard from Python 3.11")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["deep-audio"] == "deep_audio.cli.main:main"
    for target in scripts.values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), target


def test_no_command_or_an_unknown_one_is_status_2(capsys):
    assert cli_main.main([]) == 2
    assert "train and use a CNN:" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit:
        cli_main.main(["trian"])
    assert exit.value.code == 2
    assert "invalid choice: 'trian'" in capsys.readouterr().err


def test_package_errors_are_one_line_with_status_2(tmp_path, capsys):
    missing = tmp_path / "missing.pt"
    assert cli_main.main(["test", "-m", str(missing), "-i", "x.wav"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(missing) in err and err.count("\n") == 1


@pytest.mark.parametrize("flags, task", [([], None), (["--multi-label"], "multi_label"),
                                         (["--task", "single_label"], "single_label"),
                                         (["--task", "multi_label"], "multi_label")])
@pytest.mark.parametrize("command", ["train", "transfer"])
def test_the_task_flag_is_passed_as_the_task_setting(command, flags, task, monkeypatch,
                                                     tmp_path):
    module = COMMANDS[command].load()
    calls = []

    def record(*args, **kwargs):
        calls.append(kwargs)
        raise KeyboardInterrupt  # stop before anything is read

    library_function = "train_model" if command == "train" else "transfer_learning"
    monkeypatch.setattr(module, library_function, record)
    source = ["-m", "source.pt"] if command == "transfer" else []
    argv = [command, *source, "-i", "a", "b", "-o", str(tmp_path / "m"), *flags]
    assert cli_main.main(argv) == 130
    assert calls[0].get("task") == task and "multi_label" not in calls[0]


def test_task_and_multi_label_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exit:
        cli_main.main(["train", "-i", "a", "-o", "m", "--task", "single_label",
                       "--multi-label"])
    assert exit.value.code == 2 and "not allowed with" in capsys.readouterr().err


def _small_settings() -> list[str]:
    pairs = [f"{key}={value}" for key, value in SMALL_CONFIG.items() if key != "epochs"]
    return [flag for pair in pairs for flag in ("--set", pair)] + ["--epochs", "3"]


@pytest.mark.slow
def test_train_then_test_through_deep_audio_and_the_seed_spelling(tmp_path, capsys):
    folders = write_class_folders(tmp_path / "data", files_per_class=6)
    files = [str(sorted(folder.iterdir())[0]) for folder in folders]
    model = tmp_path / "tones.pt"
    assert cli_main.main(["train", "-q", "-i", *map(str, folders), "-o", str(model),
                          *_small_settings()]) == 0
    assert "classes: low, high, noise" in capsys.readouterr().out and model.is_file()
    assert cli_main.main(["test", "-m", str(model), "-i", *files]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert rows[0][:3] == ["file", "class", "probability"]
    assert [row[0] for row in rows[1:]] == files

    # The seed's spelling, in a process of its own, writes the same kind of model.
    seed_model = tmp_path / "seed.pt"
    done = python("-m", "deep_audio.bin.basic_training", "-q", "-i", *map(str, folders),
                  "-o", str(seed_model), *_small_settings())
    assert done.returncode == 0, done.stderr
    assert "classes: low, high, noise" in done.stdout
    done = python("-m", "deep_audio.bin.basic_test", "-m", str(seed_model), "-i", *files)
    assert done.returncode == 0, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines()[1:]] == files
