"""Transfer learning: what is frozen stays bit-identical, the rest trains."""

import math

import pytest
import soundfile as sf
import torch

from deep_audio.bin import transfer_learning as tl
from deep_audio.errors import ConfigError
from deep_audio.io.model_files import load_model, save_model
from deep_audio.predict import evaluate_folders
from deep_audio.training.transfer import frozen_layers_for, transfer_model
from tests.conftest import small_config, tone, write_class_folders


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
                                  output=tmp_path / "t0", epochs=3, min_steps=20,
                                  progress=False, models_dir=str(tmp_path), device="cpu")
    target = load_model(result.model_path)
    assert target.class_names == ["low", "noise"]
    assert target.head.hidden_units == () and target.head.output.out_features == 2
    for block in ("backbone.conv_layer1.", "backbone.conv_layer2.", "backbone.front_end.",
                  "backbone.normalize."):
        before, after = _state(source, block), _state(target, block)
        assert before.keys() == after.keys() and before
        for key in before:  # weights, biases, BatchNorm running mean/var and counters
            assert torch.equal(before[key], after[key]), key
    assert target.head.output.weight.abs().sum() > 0, "the new head did not train"
    provenance = target.metadata["transfer"]
    assert provenance["source_model"] == str(trained.model_path)
    assert provenance["strategy"] == 0 and provenance["layers_frozen"] == 2
    assert provenance["source_classes"] == ["low", "high", "noise"]


def test_strategy_1_trains_the_last_conv_block(trained, two_class_folders, tmp_path):
    source = load_model(trained.model_path)
    result = tl.transfer_learning(trained.model_path, two_class_folders, strategy=1,
                                  output=tmp_path / "t1", epochs=2, min_steps=0,
                                  progress=False)
    target = load_model(result.model_path)
    for key, value in _state(source, "backbone.conv_layer1.").items():
        assert torch.equal(value, target.state_dict()[key]), key
    last = _state(source, "backbone.conv_layer2.")
    assert not torch.equal(last["backbone.conv_layer2.0.weight"],
                           target.state_dict()["backbone.conv_layer2.0.weight"])
    assert not torch.equal(last["backbone.conv_layer2.1.running_mean"],
                           target.state_dict()["backbone.conv_layer2.1.running_mean"])


def test_freezing_in_train_mode_keeps_frozen_layers_in_eval(trained):
    model = transfer_model(load_model(trained.model_path), ["a", "b", "c", "d"], layers_frozen=3,
                           head="source")
    model.train()
    layers = [unit for units in model.layers() for unit in units]
    assert [layer.training for layer in layers] == [False, False, False, True]
    assert [all(not p.requires_grad for p in layer.parameters()) for layer in layers] == [
        True, True, True, False]
    with pytest.raises(ValueError, match="output layer always trains"):
        model.freeze(4)


def test_full_fine_tuning_uses_the_lower_learning_rate(trained, two_class_folders, tmp_path):
    result = tl.transfer_learning(trained.model_path, two_class_folders, strategy=2,
                                  output=tmp_path / "t2", epochs=1, min_steps=0,
                                  progress=False)
    provenance = load_model(result.model_path).metadata["transfer"]
    assert provenance["layers_frozen"] == 0 and provenance["learning_rate"] == 0.0002


@pytest.mark.slow
def test_feature_settings_come_from_the_source_and_cannot_drift(trained, two_class_folders,
                                                               tmp_path):
    with pytest.raises(ConfigError, match="n_mels=64 cannot be used.*has n_mels=32"):
        tl.transfer_learning(trained.model_path, two_class_folders, n_mels=64, progress=False)
    # Naming the source's own value is harmless; the default 128 bands never leak in.
    result = tl.transfer_learning(trained.model_path, two_class_folders, n_mels=32, epochs=1,
                                  min_steps=0, output=tmp_path / "same", progress=False)
    assert load_model(result.model_path).config.front_end == small_config().front_end


def test_cli_refuses_drift_in_one_line(trained, two_class_folders, capsys):
    code = tl.main(["-m", str(trained.model_path), "-i", *map(str, two_class_folders),
                    "--set", "segment_seconds=2.0"])
    assert code == 2
    assert "segment_seconds=2.0 cannot be used" in capsys.readouterr().err


def test_unknown_strategy_lists_the_known_ones():
    with pytest.raises(ConfigError, match="0 = freeze every feature block"):
        frozen_layers_for(7, 4)


@pytest.mark.parametrize("pooling, layer", [("time_max", "conv_bands_max"),
                                            ("time_mean", "conv_bands")])
def test_strategy_0_puts_a_linear_head_on_conv_bands_of_a_flattening_source(
        tmp_path, pooling, layer):
    """A seed network that flattens its last block for its own head gets a new linear head
    on ``conv_bands_max`` or ``conv_bands`` (``transfer.head_pooling``: the same conv
    weights, pooled over time), frozen below it."""
    from deep_audio.models import Classifier
    from deep_audio.training.transfer import transfer_model

    settings = small_config(pooling="flatten", hidden_units=[16, 8], dropout=[0.1, 0.1],
                            head_pooling=pooling)
    source = Classifier.seed(settings, ["a", "b", "c"]).eval()
    model = transfer_model(source, ["x", "y"], layers_frozen=source.n_blocks).eval()
    size = source.backbone.embedding_sizes()[layer]
    assert source.backbone.head_input_size != size  # the source's head saw every value
    assert model.head.hidden_units == () and model.head.in_features == size
    assert model.config.model.pooling == pooling and model.config.model.hidden_units == ()
    assert model.backbone.default_layer == layer
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    for key, value in source.backbone.state_dict().items():
        assert torch.equal(value, model.backbone.state_dict()[key]), key
    waveform = torch.randn(3, model.segment_samples)
    with torch.no_grad():
        model.head.output.weight.normal_()
        expected = model.head(source.backbone.embed(waveform, layer))
        torch.testing.assert_close(model(waveform), expected)
        save_model(tmp_path / "new.pt", model)
        torch.testing.assert_close(load_model(tmp_path / "new.pt")(waveform), expected)


def test_few_shot_schedule_takes_the_minimum_steps_on_two_clips_per_class(trained, tmp_path):
    folders = write_class_folders(tmp_path / "data", files_per_class=2, seed=5)
    result = tl.transfer_learning(trained.model_path, folders, strategy=0, epochs=2,
                                  min_steps=30, batch_size=4, output=tmp_path / "few",
                                  progress=False)
    model = load_model(result.model_path)
    segments = model.metadata["train_segments"]
    epochs_run = len(result.history_path.read_text().strip().splitlines()) - 1
    assert epochs_run * math.ceil(segments / 4) >= 30
    # No file is held out: validation on one file per class would pick epochs by noise.
    assert model.metadata["train_files"] == 6 and model.metadata["validation_files"] == 0
    assert model.metadata["transfer"]["few_shot"] is True


def test_a_few_clips_of_a_new_separable_task_transfer_far_above_chance(trained, tmp_path):
    """Tones at 500 Hz and at 1500 Hz (classes the source never saw), 3 clips each."""
    rate = 8000
    folders, tests = [], []
    for name, frequency in (("mid", 500.0), ("upper", 1500.0)):
        for kind, count, offset in (("train", 3, 0), ("test", 8, 50)):
            folder = tmp_path / kind / name
            folder.mkdir(parents=True)
            for i in range(count):
                sf.write(folder / f"{i}.wav", tone(frequency * (1 + 0.04 * (i % 3)), 1.0, rate,
                                                   noise=0.05, seed=offset + i), rate)
            (folders if kind == "train" else tests).append(folder)
    result = tl.transfer_learning(trained.model_path, folders, strategy=0, min_steps=60,
                                  output=tmp_path / "tones", progress=False)
    assert evaluate_folders(result.model_path, tests).scores["accuracy"] >= 0.9  # chance 0.5


def test_a_frozen_backbone_computes_each_segment_once(trained, tmp_path, monkeypatch):
    """Strategy 0 runs many short epochs; the frozen conv blocks must see each distinct
    segment once (the head input cache), not once per epoch and pass."""
    from deep_audio.models.seed import SeedBackbone

    rows = []
    original = SeedBackbone.feature_maps

    def counting(self, features):
        rows.append(len(features))
        return original(self, features)

    monkeypatch.setattr(SeedBackbone, "feature_maps", counting)
    folders = write_class_folders(tmp_path / "data", files_per_class=2, seed=5)
    result = tl.transfer_learning(trained.model_path, folders, strategy=0, epochs=2,
                                  min_steps=40, batch_size=4, output=tmp_path / "cached",
                                  progress=False)
    segments = load_model(result.model_path).metadata["train_segments"]
    epochs_run = len(result.history_path.read_text().strip().splitlines()) - 1
    assert epochs_run >= 5
    # the statistics pass, the first epoch and the first validation pass; the cached
    # rows after that cost nothing (without the cache: 2 x epochs x segments)
    assert sum(rows) <= 3 * segments
