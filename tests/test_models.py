from pathlib import Path

import pytest
import torch

from deep_audio.config import load_config
from deep_audio.errors import ModelFileError
from deep_audio.models import AudioClassifier, SeedCNN, load_model, resolve_model_path, save_model
from deep_audio.io import model_files as model_io
from tests.conftest import small_config


def test_seed_network_matches_the_talk():
    model = AudioClassifier(load_config(Path(__file__).resolve().parent.parent / "configs" /
                                        "seed.yaml"), [f"c{i}" for i in range(16)])
    assert model.input_shape == (1, 201, 128)
    assert model.cnn.flat_features == 24576
    assert sum(p.numel() for p in model.cnn.parameters()) == 26_510_800
    first = model.cnn.conv_layer1
    assert first(torch.zeros(2, *model.input_shape)).shape == (2, 32, 100, 64)
    assert first[0](torch.zeros(2, *model.input_shape)).shape == (2, 32, 201, 128)
    assert [type(m).__name__ for m in model.cnn.linear_layer3] == ["Linear", "LeakyReLU"]
    assert model.cnn.linear_layer1[0].p == 0.75 and model.cnn.linear_layer2[0].p == 0.5


def test_flatten_size_follows_the_input():
    cnn = SeedCNN(3, input_frames=101, n_mels=64)
    assert cnn.flat_features == 256 * (101 // 16) * (64 // 16)
    assert cnn(torch.zeros(5, 1, 101, 64)).shape == (5, 3)
    with pytest.raises(ValueError, match="too small"):
        SeedCNN(3, input_frames=10, n_mels=64)


def test_waveform_in_logits_out():
    model = AudioClassifier(small_config(), ["a", "b", "c"]).eval()
    assert model(torch.randn(4, model.segment_samples)).shape == (4, 3)


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    model = AudioClassifier(small_config(), ["a", "b"]).eval()
    model.normalize.set_statistics(torch.full((32,), -50.0), torch.full((32,), 20.0))
    path = save_model(tmp_path / "m.pt", model, metadata={"note": "x", "score": 0.5})
    loaded = load_model(path)
    x = torch.randn(3, model.segment_samples)
    torch.testing.assert_close(loaded(x), model(x))
    assert loaded.class_names == ["a", "b"] and loaded.config == model.config
    assert loaded.metadata["note"] == "x" and "torch" in loaded.metadata["versions"]
    assert not loaded.training


def test_model_file_is_plain_data_loadable_with_weights_only(tmp_path):
    path = save_model(tmp_path / "m.pt", AudioClassifier(small_config(), ["a", "b"]))
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "deep_audio.model" and payload["class_names"] == ["a", "b"]
    assert isinstance(payload["config"]["front_end"]["n_mels"], int)


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    save_model(path, AudioClassifier(small_config(), ["a", "b"]))
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(model_io.torch, "save", crash)
    with pytest.raises(OSError):
        save_model(path, AudioClassifier(small_config(), ["x", "y"]))
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_foreign_and_missing_files_are_refused_clearly(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="not a deep_audio model file .not a readable"):
        load_model(junk)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(ModelFileError, match="not a deep_audio model file"):
        load_model(other)


def test_pickled_objects_in_a_model_file_are_not_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("raise SystemExit('code ran')",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "deep_audio.model", "payload": Evil()}, path)
    with pytest.raises(ModelFileError, match="contains Python objects .pickled classes, e.g. .*"
                       "exec"):
        load_model(path)


@pytest.mark.parametrize("name, expected", [
    ("cnn", "models/cnn.pt"), ("cnn.pt", "models/cnn.pt"),
    ("out/cnn", "out/cnn.pt"), ("/abs/cnn.pt", "/abs/cnn.pt"), ("./cnn", "cnn.pt"),
])
def test_model_names_and_paths(name, expected):
    assert resolve_model_path(name, "models").as_posix() == expected
