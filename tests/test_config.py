from pathlib import Path

import pytest

from deep_audio.config import Config, leaf_names, load_config, override, stored_config
from deep_audio.errors import ConfigError
from tests.conftest import REPO


def test_seed_preset_gives_the_seed_input_size():
    config = load_config(Path(__file__).resolve().parent.parent / "configs" / "seed.yaml")
    assert config.front_end.sample_rate == 16000
    assert config.front_end.hop_length == 160
    assert config.front_end.n_mels == 128
    assert config.segments.segment_seconds == 2.0
    assert config.model.conv_channels == (32, 64, 128, 256)


def test_leaf_names_are_unique_across_sections():
    values = load_config().to_dict()
    names = [name for section in values.values() for name in section]
    assert len(names) == len(set(names)), "a setting name is used by two sections"
    assert leaf_names(load_config())["epochs"] == "training"


def test_overrides_by_leaf_and_dotted_name():
    config = load_config(epochs=3, inference_batch_size=7, **{"training.batch_size": 4})
    assert (config.training.epochs, config.inference.inference_batch_size,
            config.training.batch_size) == (3, 7, 4)
    assert override(config, device=None).training.device == config.training.device


def test_yaml_file_overrides_defaults_and_keeps_the_rest(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("front_end:\n  n_mels: 40\ntraining:\n  epochs: 2\n")
    config = load_config(path)
    assert config.front_end.n_mels == 40 and config.training.epochs == 2
    assert config.front_end.sample_rate == 16000


def test_round_trip_through_plain_dict():
    config = load_config(conv_channels=[8, 16], hidden_units=[32, 16], dropout=[0.1, 0.2])
    assert Config.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("overrides, message", [
    ({"epoch": 3}, "unknown setting 'epoch'"),
    ({"training.epoch": 3}, "unknown setting 'training.epoch'"),
    ({"epochs": "many"}, "epochs='many' is not a valid int"),
    ({"hop_seconds": 0}, "hop_seconds=0.0 must be > 0"),
    ({"precision": "fp8"}, "precision='fp8' must be one of"),
    ({"f_max": 9000.0}, "f_min/f_max"),
    ({"dropout": [0.5, 0.5]}, "one value per hidden layer"),
    ({"pooling": "max"}, "pooling='max' must be one of flatten, time_mean"),
    ({"schedule": "cosine"}, "schedule='cosine' must be one of onecycle, plateau"),
    ({"classifier": "svn"}, "classifier='svn' must be one of svm, svm_rbf, knn"),
    ({"cv_folds": 1}, "cv_folds=1 must be >= 2"),
    ({"short_step_seconds": 0}, "short_step_seconds=0.0 must be > 0"),
])
def test_bad_settings_fail_with_the_name_and_value(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(**overrides)


def test_bad_yaml_file_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  epoks: 3\n")
    with pytest.raises(ConfigError, match="bad.yaml: unknown setting 'training.epoks'"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")


def test_classic_defaults_and_model_files_without_the_section():
    classic = load_config().classic
    assert (classic.mid_window_seconds, classic.mid_step_seconds, classic.short_window_seconds,
            classic.short_step_seconds, classic.classifier, classic.cv_folds) == (
                1.0, 1.0, 0.05, 0.025, "svm_rbf", 5)
    assert classic.windows["short_step_seconds"] == 0.025
    # A model file written before the classic section existed still loads.
    values = load_config(epochs=3).to_dict()
    del values["classic"]
    config = stored_config(values, source="old.pt")
    assert config.training.epochs == 3 and config.classic == classic


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    load_config(path)  # a renamed or removed setting would be an unknown one here
