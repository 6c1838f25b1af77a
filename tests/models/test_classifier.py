from pathlib import Path

import pytest
import torch

from deep_audio.config import load_config
from deep_audio.errors import ModelFileError
from deep_audio.models import Classifier, SeedBackbone
from deep_audio.tasks import MultiLabel
from deep_audio.io.model_files import load_model, resolve_model_path, save_model
from deep_audio.io import model_files as model_io
from tests.conftest import REPO, small_config


def test_seed_network_matches_the_talk():
    model = Classifier.seed(load_config(REPO / "configs" /
                                        "seed.yaml"), [f"c{i}" for i in range(16)])
    assert model.input_shape == (1, 201, 128)
    assert model.backbone.flat_features == model.head.in_features == 24576
    assert sum(p.numel() for p in model.parameters()) == 26_510_800
    first = model.backbone.conv_layer1
    assert first(torch.zeros(2, *model.input_shape)).shape == (2, 32, 100, 64)
    assert first[0](torch.zeros(2, *model.input_shape)).shape == (2, 32, 201, 128)
    assert [type(m).__name__ for m in model.head.linear_layer3] == ["Linear", "LeakyReLU"]
    assert model.head.linear_layer1[0].p == 0.75 and model.head.linear_layer2[0].p == 0.5


def test_flatten_size_follows_the_input():
    front_end = load_config(n_mels=64).front_end  # 16 kHz, 10 ms hop: 1 s is 101 frames
    backbone = SeedBackbone(front_end, segment_samples=16000, pooling="flatten")
    assert backbone.flat_features == 256 * (101 // 16) * (64 // 16)
    assert backbone.head_input(torch.zeros(5, 1, 101, 64)).shape == (5, backbone.flat_features)
    with pytest.raises(ValueError, match="too small"):
        SeedBackbone(front_end, segment_samples=1600)  # 11 frames: 4 blocks leave none


def test_every_network_is_a_backbone_with_one_classifier(tmp_path):
    model = Classifier.seed(small_config(), ["a", "b", "c"], MultiLabel((0.2, 0.5, 0.9)))
    assert isinstance(model.backbone, SeedBackbone) and model.n_blocks == 2
    model.freeze(2)  # strategy 0: the conv blocks, not the head
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    model.train()
    assert not model.backbone.conv_layer1.training and model.head.training
    loaded = load_model(save_model(tmp_path / "m.pt", model))
    assert loaded.task == MultiLabel((0.2, 0.5, 0.9))
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    assert payload["format_version"] == 3 and payload["backbone"]["name"] == "seed_cnn"
    assert payload["task"] == {"name": "multi_label", "thresholds": [0.2, 0.5, 0.9]}


def test_waveform_in_logits_out():
    model = Classifier.seed(small_config(), ["a", "b", "c"]).eval()
    assert model(torch.randn(4, model.segment_samples)).shape == (4, 3)


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    model = Classifier.seed(small_config(), ["a", "b"]).eval()
    model.backbone.normalize.set_statistics(torch.full((32,), -50.0), torch.full((32,), 20.0))
    path = save_model(tmp_path / "m.pt", model, metadata={"note": "x", "score": 0.5})
    loaded = load_model(path)
    x = torch.randn(3, model.segment_samples)
    torch.testing.assert_close(loaded(x), model(x))
    assert loaded.class_names == ["a", "b"] and loaded.config == model.config
    assert loaded.metadata["note"] == "x" and "torch" in loaded.metadata["versions"]
    assert not loaded.training


def test_model_file_is_plain_data_loadable_with_weights_only(tmp_path):
    path = save_model(tmp_path / "m.pt", Classifier.seed(small_config(), ["a", "b"]))
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "deep_audio.model" and payload["class_names"] == ["a", "b"]
    assert isinstance(payload["config"]["front_end"]["n_mels"], int)


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    save_model(path, Classifier.seed(small_config(), ["a", "b"]))
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(model_io.torch, "save", crash)
    with pytest.raises(OSError):
        save_model(path, Classifier.seed(small_config(), ["x", "y"]))
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


def test_time_max_pooling_is_not_diluted_by_silence_around_a_short_sound(tmp_path):
    """``conv_bands_max`` of a click is the same in a short and a long segment of
    silence; ``conv_bands`` (the mean) shrinks with the silence around it."""
    config = small_config(pooling="time_max")
    model = Classifier.seed(config, ["a", "b"]).eval()
    backbone = model.backbone
    assert backbone.default_layer == "conv_bands_max"
    rate = config.front_end.sample_rate
    click = torch.zeros(1, rate)
    click[0, rate // 2:rate // 2 + 80] = torch.randn(80, generator=torch.Generator().manual_seed(0))
    longer = torch.cat([click, torch.zeros(1, 3 * rate)], dim=1)
    with torch.no_grad():
        short_max, long_max = (backbone.embed(x, "conv_bands_max") for x in (click, longer))
        short_mean, long_mean = (backbone.embed(x, "conv_bands") for x in (click, longer))
        torch.testing.assert_close(long_max, short_max, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(long_mean, short_mean, atol=1e-2)
        torch.testing.assert_close(model(click), model.head(short_max))
    loaded = load_model(save_model(tmp_path / "max.pt", model))
    assert loaded.backbone.pooling == "time_max"
    torch.testing.assert_close(loaded(click), model(click))
