"""deep_audio.io.files (atomic writing, format header, model names) and the class-folder check
on every path that takes class folders."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deep_audio.classic import resolve_classic_model_path
from deep_audio.classic.scatter import plot_feature_space
from deep_audio.errors import DeepAudioError, ModelFileError
from deep_audio.io.files import atomic_write, check_header, resolve_model_path
from deep_audio.io.model_files import atomic_save
from deep_audio.io.model_files import resolve_model_path as models_resolve_model_path
from deep_audio.models import Classifier
from deep_audio.predict import search as search_module
from deep_audio.predict.embeddings import extract_deep_features
from deep_audio.predict.evaluate import evaluate_folders
from deep_audio.predict.search import SoundIndex
from tests.conftest import REPO, small_config


def small_index(n_files: int) -> SoundIndex:
    return SoundIndex(embeddings=np.eye(n_files, dtype=np.float32),
                      files=[f"f{i}.wav" for i in range(n_files)], layer="linear1",
                      model_path=None, signature={"layer": "linear1"})


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = atomic_write(tmp_path / "sub" / "a.bin", lambda stream: stream.write(b"old"))
    assert path.read_bytes() == b"old"

    def half_then_crash(stream):
        stream.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_crash)
    assert path.read_bytes() == b"old"
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_sound_index_save_is_atomic(tmp_path, monkeypatch):
    path = small_index(3).save(tmp_path / "sounds.npz")

    def crash(stream, **arrays):
        stream.write(b"PK\x03\x04 a cut-off zip")
        raise OSError("disk full")

    monkeypatch.setattr(search_module.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        small_index(5).save(path)
    monkeypatch.undo()
    assert SoundIndex.load(path).files == ["f0.wav", "f1.wav", "f2.wav"]
    assert list(tmp_path.iterdir()) == [path]


def test_newer_and_foreign_index_files_are_refused(tmp_path):
    newer = tmp_path / "newer.npz"
    np.savez(newer, format=np.array("deep_audio.sound_index"), format_version=np.array(2))
    with pytest.raises(ModelFileError, match="index file '.*newer.npz' has format version 2; "
                                             "this deep_audio reads up to 1: upgrade"):
        SoundIndex.load(newer)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, format=np.array("something else"))
    with pytest.raises(ModelFileError, match="not a deep_audio sound index"):
        SoundIndex.load(foreign)


def test_check_header_messages():
    check_header({"format": "f", "format_version": 1}, format="f", max_version=1,
                 path="a", what="model file", foreign="foreign")
    check_header({"format": "f"}, format="f", max_version=1, path="a", what="model file",
                 foreign="foreign")  # no version: version 0
    for payload in ({"format": "g"}, {"x": 1}, [1, 2], None):
        with pytest.raises(ModelFileError, match="^foreign$"):
            check_header(payload, format="f", max_version=1, path="a", what="model file",
                         foreign="foreign")
    with pytest.raises(ModelFileError, match="^model file 'a' has format version 3; this "
                                             "deep_audio reads up to 1: upgrade deep_audio$"):
        check_header({"format": "f", "format_version": 3}, format="f", max_version=1,
                     path="a", what="model file", foreign="foreign")


@pytest.mark.parametrize("name, suffix, expected", [
    ("cnn", ".pt", "models/cnn.pt"), ("cnn.pt", ".pt", "models/cnn.pt"),
    ("out/cnn", ".pt", "out/cnn.pt"), ("out/cnn.pt", ".pt", "out/cnn.pt"),
    ("/abs/cnn", ".pt", "/abs/cnn.pt"), ("./cnn", ".pt", "cnn.pt"),
    (".hidden", ".pt", ".hidden.pt"),  # starts with ".": used as given
    ("svm", ".skops", "models/svm.skops"), ("svm.skops", ".skops", "models/svm.skops"),
    ("svm.pt", ".skops", "models/svm.pt.skops"), ("out/svm", ".skops", "out/svm.skops"),
])
def test_model_name_resolution(name, suffix, expected):
    assert resolve_model_path(name, "models", suffix=suffix).as_posix() == expected


def test_the_model_file_modules_share_the_rules():
    assert models_resolve_model_path is resolve_model_path
    assert resolve_classic_model_path("a", "m") == Path("m/a.skops")
    assert resolve_classic_model_path("a.pt", "m") == Path("m/a.pt.skops")
    assert callable(atomic_save)


@pytest.mark.slow
def test_files_module_imports_no_torch():
    program = ("import sys, deep_audio.io.files, deep_audio.classic.model_file, "
               "deep_audio.classic.scatter; assert 'torch' not in sys.modules, 'torch imported'")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def same_named_folders(tmp_path):
    folders = [tmp_path / "a" / "dog", tmp_path / "b" / "dog"]
    for folder in folders:
        folder.mkdir(parents=True)
    return folders


def test_scatter_refuses_two_folders_with_one_name(same_named_folders, tmp_path):
    with pytest.raises(DeepAudioError, match="distinct names; repeated: \\['dog'\\]"):
        plot_feature_space(same_named_folders, tmp_path / "plot.png")


def test_deep_features_refuse_two_folders_with_one_name(same_named_folders):
    model = Classifier.seed(small_config(), ["dog", "cat"])
    with pytest.raises(DeepAudioError, match="distinct names; repeated: \\['dog'\\]"):
        extract_deep_features(model, same_named_folders, layer="linear1")
    with pytest.raises(DeepAudioError, match="at least one class folder"):
        extract_deep_features(model, [], layer="linear1")


def test_evaluation_refuses_two_folders_with_one_name(same_named_folders):
    model = Classifier.seed(small_config(), ["dog", "cat"])
    with pytest.raises(DeepAudioError, match="distinct names; repeated: \\['dog'\\]"):
        evaluate_folders(model, same_named_folders)
