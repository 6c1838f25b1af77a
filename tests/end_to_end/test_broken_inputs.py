"""No input crashes a run or vanishes without a word (issue 12).

A battery of broken and odd inputs sits in a class folder next to good files: training
through the CLI completes, every unusable file is listed with its reason, a usable odd
one (a name that is not UTF-8, 8 channels, 192 kHz, ...) is trained on, and classifying
gives a verdict per file, never a traceback. Hostile or foreign model files are refused
with a plain message; no code in them runs, and PyTorch's advice to load them with
``weights_only=False`` is never repeated.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from deep_audio.bin import basic_test
from deep_audio.errors import ModelFileError
from deep_audio.io.audio import list_audio_files, printable
from deep_audio.io.model_files import load_checkpoint, load_model
from tests.conftest import EXPORT_PACKAGES, SMALL_CONFIG, needs, tone

RATE = 8000
ODD_NAME = os.fsdecode(b"caf\xe9.wav")  # not valid UTF-8: lone surrogate in Python
ODD_SHOWN = "caf\\xe9.wav"  # how deep_audio prints it


def _wav_bytes(samples: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> bytes:
    import io

    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def write_battery(folder: Path) -> tuple[dict[str, str], list[str]]:
    """Broken and odd inputs in ``folder``: (unusable name -> expected reason, usable names)."""
    one_second = tone(440, 1.0, RATE)
    full = _wav_bytes(one_second)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "header_only.wav").write_bytes(full[:44])
    (folder / "truncated_header.wav").write_bytes(full[:20])
    (folder / "truncated_data.wav").write_bytes(full[:len(full) // 2])
    (folder / "random.wav").write_bytes(np.random.default_rng(0).bytes(3000))
    (folder / "text.wav").write_text("this is not audio\n" * 20)
    soundfile.write(folder / "zero_samples.wav", np.zeros(0, np.float32), RATE)
    soundfile.write(folder / "one_sample.wav", np.zeros(1, np.float32), RATE)
    nan, inf = tone(300, 1.0, RATE), tone(300, 1.0, RATE)
    nan[100], inf[200] = np.nan, np.inf
    soundfile.write(folder / "nan.wav", nan, RATE, subtype="FLOAT")
    soundfile.write(folder / "inf.wav", inf, RATE, subtype="FLOAT")
    soundfile.write(folder / "5ms.wav", tone(440, 0.005, RATE), RATE)
    (folder / "folder.wav").mkdir()
    (folder / "broken_link.wav").symlink_to(folder / "nowhere.wav")
    (folder / "phone.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00"
                                       b"M4A isommp42" + bytes(64))
    unusable = {
        "empty.wav": "cannot decode", "header_only.wav": "truncated: header promises 8000",
        "truncated_header.wav": "cannot decode",
        "truncated_data.wav": "truncated: header promises 8000 samples",
        "random.wav": "cannot decode", "text.wav": "cannot decode",
        "zero_samples.wav": "holds no samples", "one_sample.wav": "shorter than the minimum",
        "nan.wav": "NaN or infinite", "inf.wav": "NaN or infinite",
        "5ms.wav": "shorter than the minimum", "folder.wav": "is a folder",
        "broken_link.wav": "broken symbolic link",
        "phone.m4a": "unsupported format .m4a: convert to wav/flac/ogg/mp3",
    }

    for subtype in ("PCM_U8", "PCM_24", "DOUBLE"):
        soundfile.write(folder / f"{subtype.lower()}.wav", tone(500, 1.0, RATE), RATE,
                        subtype=subtype)
    soundfile.write(folder / "8_channels.wav", np.tile(tone(350, 1.0, RATE)[:, None], (1, 8)),
                    RATE)
    soundfile.write(folder / "rate_8k.wav", tone(300, 1.0, 8000), 8000)
    soundfile.write(folder / "rate_192k.wav", tone(300, 1.0, 192000), 192000)
    soundfile.write(folder / "tone.mp3", tone(300, 1.0, 16000), 16000, format="MP3",
                    subtype="MPEG_LAYER_III")
    soundfile.write(folder / "tone.opus", tone(300, 1.0, 16000), 16000, format="OGG",
                    subtype="OPUS")
    soundfile.write(folder / "tone.aiff", tone(300, 1.0, RATE), RATE, format="AIFF")
    soundfile.write(folder / "silence.wav", np.zeros(RATE, np.float32), RATE)
    soundfile.write(folder / "dc.wav", np.full(RATE, 0.5, np.float32), RATE)
    soundfile.write(folder / "UPPER.WAV", tone(320, 1.0, RATE), RATE)
    soundfile.write(os.fsencode(folder / ODD_NAME), tone(330, 1.0, RATE), RATE)
    usable = ["pcm_u8.wav", "pcm_24.wav", "double.wav", "8_channels.wav", "rate_8k.wav",
              "rate_192k.wav", "tone.mp3", "tone.opus", "tone.aiff", "silence.wav", "dc.wav",
              "UPPER.WAV", ODD_NAME]

    (folder / "notes.txt").write_text("recorded on a phone")
    (folder / "labels.txt").write_text("low")
    (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(32))
    return unusable, usable


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    """Two classes of good tones; the battery in the first. Trained once, through the CLI."""
    root = tmp_path_factory.mktemp("battery")
    low, high = root / "low", root / "high"
    low.mkdir(), high.mkdir()
    for i in range(5):
        soundfile.write(low / f"good_low_{i}.wav", tone(250 + 20 * i, 1.0, RATE), RATE)
        soundfile.write(high / f"good_high_{i}.wav", tone(2500 + 100 * i, 1.0, RATE), RATE)
    unusable, usable = write_battery(low)
    settings = {**SMALL_CONFIG, "epochs": 2, "min_epochs": 1}
    model = root / "model.pt"
    env = {**os.environ, "XDG_CACHE_HOME": str(root / "cache")}  # the audio cache is on
    training = subprocess.run(
        [sys.executable, "-m", "deep_audio.bin.basic_training", "-i", str(low), str(high),
         "-o", str(model), *[arg for key, value in settings.items()
                             for arg in ("--set", f"{key}={value}")]],
        capture_output=True, env=env, timeout=300)
    return {"low": low, "high": high, "model": model, "unusable": unusable,
            "usable": usable, "training": training, "env": env}


def _text(stream: bytes) -> str:
    return stream.decode("utf-8")  # raises if a CLI wrote bytes that are not UTF-8


@pytest.mark.slow
def test_training_completes_and_lists_every_unusable_file_with_its_reason(battery):
    training = battery["training"]
    err, out = _text(training.stderr), _text(training.stdout)
    assert training.returncode == 0, err
    assert "Traceback" not in err
    for name, reason in battery["unusable"].items():
        lines = [line for line in err.splitlines() if f"{name}'" in line]
        assert any(reason in line for line in lines), (name, reason, lines)
    assert f"{len(battery['unusable'])} unusable file(s) skipped" in out
    assert "ignored 3 non-audio files (.txt x2, .jpg x1)" in err
    assert ODD_SHOWN not in err  # read and trained on, not skipped


@pytest.mark.slow
def test_the_model_file_records_the_skipped_files_and_trains_on_the_odd_ones(battery):
    payload = torch.load(battery["model"], weights_only=True)
    metadata = payload["metadata"]
    skipped = {Path(path).name: reason for path, reason in metadata["skipped_files"]}
    assert set(skipped) == set(battery["unusable"])
    for name, reason in battery["unusable"].items():
        assert reason in skipped[name]
    n_good = 10
    assert metadata["train_files"] + metadata["validation_files"] == (
        n_good + len(battery["usable"]))
    # Everything stored is printable text; the per-epoch log is valid UTF-8 CSV.
    assert all(isinstance(p, str) and p.encode("utf-8") for p, _ in metadata["skipped_files"])
    battery["model"].with_suffix(".history.csv").read_text(encoding="utf-8")
    assert load_model(battery["model"]).class_names == ["low", "high"]


@pytest.mark.slow
def test_every_file_classified_alone_gives_a_verdict_without_a_traceback(battery):
    low, model = battery["low"], str(battery["model"])
    files = [low / name for name in [*battery["usable"], *battery["unusable"]]]
    # All at once: a row per usable file, a warning naming each unusable one, status 1.
    result = subprocess.run([sys.executable, "-m", "deep_audio.bin.basic_test", "-m", model,
                             "-i", *map(str, files)], capture_output=True, env=battery["env"],
                            timeout=300)
    out, err = _text(result.stdout), _text(result.stderr)
    assert result.returncode == 1 and "Traceback" not in err
    rows = {Path(line.split("\t")[0]).name for line in out.splitlines()[1:]}
    assert rows == {printable(name) for name in battery["usable"]}
    for name, reason in battery["unusable"].items():
        assert any(f"{name}'" in line and reason in line for line in err.splitlines()), name
    assert f"{len(battery['unusable'])} file(s) could not be read" in err

    # Alone: exit 0 with a row, or exit 2 with one line naming the file.
    for name, status in [(ODD_NAME, 0), ("UPPER.WAV", 0), ("phone.m4a", 2),
                         ("folder.wav", 2), ("truncated_data.wav", 2)]:
        result = subprocess.run([sys.executable, "-m", "deep_audio.bin.basic_test", "-m",
                                 model, "-i", os.fsencode(low / name)], capture_output=True,
                                env=battery["env"], timeout=300)
        out, err = _text(result.stdout), _text(result.stderr)
        assert result.returncode == status, (name, err)
        assert "Traceback" not in err
        if status == 0:
            assert out.splitlines()[1].split("\t")[0].endswith(printable(name))
        else:
            assert err.count("\n") == 1 and err.startswith("error: ") and printable(name) in err


@pytest.mark.slow
def test_the_listing_names_the_odd_entries_and_counts_the_rest(battery, caplog):
    caplog.set_level("INFO", logger="deep_audio.io.audio")
    found = {path.name for path in list_audio_files(battery["low"])}
    assert set(battery["unusable"]) | set(battery["usable"]) <= found
    assert "notes.txt" not in found
    assert "ignored 3 non-audio files (.txt x2, .jpg x1)" in caplog.text


def _verdict(predictor, path) -> tuple[str, str]:
    """("class", name) for a file classified, ("refused", reason) for one refused;
    ("tie", "") when the two best classes are within the exports' tolerance."""
    from deep_audio.errors import AudioError
    from deep_audio.predict.classify import classify_files

    try:
        (result,) = classify_files([path], predictor)
    except AudioError as error:
        return "refused", str(error)
    best, second = np.sort(result.posteriors)[::-1][:2]
    return ("tie", "") if best - second < 1e-3 else ("class", result.class_name)


@needs(*EXPORT_PACKAGES)
@pytest.mark.slow
def test_the_torch_and_onnx_predictors_give_the_same_verdict_per_file(battery, tmp_path):
    """Every path reads files the same way: the battery through PyTorch and through
    onnxruntime gets the same refusals (same reason) and the same classes."""
    from deep_audio.export import to_onnx
    from deep_audio.predict.classify import as_predictor
    from deep_audio.predict.onnx import OnnxClassifier

    model = load_model(battery["model"])
    predictors = [as_predictor(model), OnnxClassifier(to_onnx(model, tmp_path / "m.onnx"))]
    low = battery["low"]
    for name in [*battery["usable"], *battery["unusable"]]:
        torch_verdict, onnx_verdict = (_verdict(p, low / name) for p in predictors)
        assert torch_verdict == onnx_verdict, (name, torch_verdict, onnx_verdict)
        expected = {"refused"} if name in battery["unusable"] else {"class", "tie"}
        assert torch_verdict[0] in expected, (name, torch_verdict)


# Hostile and foreign model files.

class MakesMarker:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def hostile_files(folder: Path, marker: Path, good_model: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, expected words of the refusal)."""
    files = {}
    raw = folder / "raw_pickle.pt"
    raw.write_bytes(pickle.dumps({"format": "deep_audio.model", "x": MakesMarker(marker)}))
    files["raw pickle"] = (raw, "contains Python objects (pickled classes")
    zipped = folder / "torch_pickle.pt"
    torch.save({"format": "deep_audio.model", "x": MakesMarker(marker)}, zipped)
    files["torch.save of an object"] = (zipped, "contains Python objects (pickled classes")
    truncated = folder / "truncated.pt"
    truncated.write_bytes(good_model.read_bytes()[:len(good_model.read_bytes()) // 2])
    files["truncated"] = (truncated, "not a readable PyTorch archive")
    random = folder / "random.pt"
    random.write_bytes(np.random.default_rng(1).bytes(5000))
    files["random bytes"] = (random, "not a readable PyTorch archive")
    empty = folder / "empty.pt"
    empty.write_bytes(b"")
    files["empty"] = (empty, "not a readable PyTorch archive")
    state_dict = folder / "other_tool.pt"
    torch.save(torch.nn.Linear(4, 2).state_dict(), state_dict)
    files["another tool's state_dict"] = (state_dict, "holds a state_dict without deep_audio's")
    return files


@pytest.fixture
def hostile(tmp_path, trained):
    marker = tmp_path / "code_ran"
    return marker, hostile_files(tmp_path, marker, trained.model_path)


def test_hostile_and_foreign_model_files_are_refused_plainly(hostile, capsys, tmp_path):
    marker, files = hostile
    wav = tmp_path / "x.wav"
    soundfile.write(wav, tone(300, 1.0, RATE), RATE)
    for kind, (path, expected) in files.items():
        with pytest.raises(ModelFileError) as refused:
            load_model(path)
        message = str(refused.value)
        assert expected in message and f"'{path}'" in message, (kind, message)
        assert "weights_only" not in message and refused.value.__cause__ is None, kind
        assert "train a model with deep_audio" in message or "not a deep_audio" in message

        # The command line says the same in one line.
        assert basic_test.main(["-m", str(path), "-i", str(wav)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and expected in err, kind
        assert "weights_only" not in err and "Traceback" not in err

        if kind != "another tool's state_dict":  # a bare dict is a fine checkpoint format
            with pytest.raises(ModelFileError) as refused:
                load_checkpoint(path)
            assert "training checkpoint" in str(refused.value)
            assert "weights_only" not in str(refused.value)
    assert not marker.exists()


class Gadget:
    """A type a tampered classic model asks for; deep_audio does not trust it."""

    def __init__(self, marker: Path | None = None):
        if marker is not None:
            Path(marker).touch()

    def __setstate__(self, state):
        Path(state["marker"]).touch()


def test_a_tampered_classic_model_file_is_refused_plainly(tmp_path):
    import skops.io

    from deep_audio.classic.model_file import load_classic_model

    marker = tmp_path / "code_ran"
    gadget = Gadget()
    gadget.marker = str(marker)
    path = tmp_path / "tampered.skops"
    skops.io.dump({"format": "deep_audio.classic", "format_version": 1, "pipeline": gadget},
                  path)
    with pytest.raises(ModelFileError) as refused:
        load_classic_model(path)
    message = str(refused.value)
    assert "does not trust" in message and "Gadget" in message and "could run code" in message
    assert "trusted=" not in message and not marker.exists()

    damaged = tmp_path / "damaged.skops"
    damaged.write_bytes(np.random.default_rng(2).bytes(400))
    with pytest.raises(ModelFileError, match="not a readable classic model file"):
        load_classic_model(damaged)
