"""Transfer learning: what is frozen stays bit-identical, the rest trains."""

import pytest
import torch

from deep_audio.bin import transfer_learning as tl
from deep_audio.errors import ConfigError
from deep_audio.io.model_files import load_model
from deep_audio.training.transfer import frozen_layers_for, transfer_model
from tests.conftest import small_config


def _state(model, prefix):
    return {k: v.clone() for k, v in model.state_dict().items() if k.startswith(prefix)}


@pytest.fixture
def two_class_folders(dataset):
    """A new task with a different class count: the 'low' and 'noise' folders."""
    return [dataset["train"][0], dataset["train"][2]]


@pytest.mark.slow
def test_strategy_0_keeps_conv_weights_and_batchnorm_statistics(trained, two_class_folders,
                                                                tmp_path):
    source = load_model(trained.model_path)
    result = tl.transfer_learning(str(trained.model_path), two_class_folders, strategy=0,
                                  output=tmp_path / "t0", epochs=3, progress=False,
                                  models_dir=str(tmp_path), device="cpu")
    target = load_model(result.model_path)
    assert target.class_names == ["low", "noise"]
    assert target.head.linear_layer2[0].out_features == 2
    for block in ("backbone.conv_layer1.", "backbone.conv_layer2.", "backbone.front_end.", "backbone.normalize."):
        before, after = _state(source, block), _state(target, block)
        assert before.keys() == after.keys() and before
        for key in before:  # weights, biases, BatchNorm running mean/var and counters
            assert torch.equal(before[key], after[key]), key
    changed = [k for k, v in _state(source, "head.linear_layer1.").items()
               if not torch.equal(v, target.state_dict()[k])]
    assert changed, "the linear head did not train"
    provenance = target.metadata["transfer"]
    assert provenance["source_model"] == str(trained.model_path)
    assert provenance["strategy"] == 0 and provenance["layers_frozen"] == 2
    assert provenance["source_classes"] == ["low", "high", "noise"]


def test_strategy_1_trains_the_last_conv_block(trained, two_class_folders, tmp_path):
    source = load_model(trained.model_path)
    result = tl.transfer_learning(trained.model_path, two_class_folders, strategy=1,
                                  output=tmp_path / "t1", epochs=2, progress=False)
    target = load_model(result.model_path)
    for key, value in _state(source, "backbone.conv_layer1.").items():
        assert torch.equal(value, target.state_dict()[key]), key
    last = _state(source, "backbone.conv_layer2.")
    assert not torch.equal(last["backbone.conv_layer2.0.weight"],
                           target.state_dict()["backbone.conv_layer2.0.weight"])
    assert not torch.equal(last["backbone.conv_layer2.1.running_mean"],
                           target.state_dict()["backbone.conv_layer2.1.running_mean"])


def test_freezing_in_train_mode_keeps_frozen_layers_in_eval(trained):
    model = transfer_model(load_model(trained.model_path), ["a", "b", "c", "d"], layers_frozen=3)
    model.train()
    layers = [unit for units in model.layers() for unit in units]
    assert [layer.training for layer in layers] == [False, False, False, True]
    assert [all(not p.requires_grad for p in layer.parameters()) for layer in layers] == [
        True, True, True, False]
    with pytest.raises(ValueError, match="output layer always trains"):
        model.freeze(4)


def test_full_fine_tuning_uses_the_lower_learning_rate(trained, two_class_folders, tmp_path):
    result = tl.transfer_learning(trained.model_path, two_class_folders, strategy=2,
                                  output=tmp_path / "t2", epochs=1, progress=False)
    provenance = load_model(result.model_path).metadata["transfer"]
    assert provenance["layers_frozen"] == 0 and provenance["learning_rate"] == 0.0002


@pytest.mark.slow
def test_feature_settings_come_from_the_source_and_cannot_drift(trained, two_class_folders,
                                                               tmp_path):
    with pytest.raises(ConfigError, match="n_mels=64 cannot be used.*has n_mels=32"):
        tl.transfer_learning(trained.model_path, two_class_folders, n_mels=64, progress=False)
    # Naming the source's own value is harmless; the default 128 bands never leak in.
    result = tl.transfer_learning(trained.model_path, two_class_folders, n_mels=32, epochs=1,
                                  output=tmp_path / "same", progress=False)
    assert load_model(result.model_path).config.front_end == small_config().front_end


def test_cli_refuses_drift_in_one_line(trained, two_class_folders, capsys):
    code = tl.main(["-m", str(trained.model_path), "-i", *map(str, two_class_folders),
                    "--set", "segment_seconds=2.0"])
    assert code == 2
    assert "segment_seconds=2.0 cannot be used" in capsys.readouterr().err


def test_unknown_strategy_lists_the_known_ones():
    with pytest.raises(ConfigError, match="0 = freeze every feature block"):
        frozen_layers_for(7, 4)
