"""The training recipe: stopping rule, schedule, the seed preset and older model files."""


import pytest
import torch

from deep_audio.config import load_config
from deep_audio.io import model_files as model_io
from deep_audio.io.model_files import load_model, save_model
from deep_audio.models import Classifier
from deep_audio.training import train_model
from deep_audio.training.loop import epochs_without_gain, make_scheduler
from tests.conftest import REPO, small_config

SEED_PRESET = REPO / "configs" / "seed.yaml"


def test_a_tie_is_not_a_gain():
    history = [{"val_macro_f1": f} for f in (0.4, 0.8, 0.8, 0.8, 0.8)]
    assert epochs_without_gain(history, 0.0) == 3
    assert epochs_without_gain(history[:2], 0.0) == 0
    # A rise no larger than min_delta is no gain either.
    assert epochs_without_gain([{"val_macro_f1": f} for f in (0.5, 0.51, 0.52)], 0.02) == 2
    assert epochs_without_gain([{"val_macro_f1": f} for f in (0.5, 0.4, 0.6)], 0.0) == 0


@pytest.mark.slow
def test_training_stops_on_a_plateau_of_ties(dataset, tmp_path):
    """The tones reach a perfect validation score early; the ties after it (with a
    still falling loss) must not keep the run going."""
    patience = 2
    result = train_model(dataset["train"], "ties", progress=False, config=small_config(
        models_dir=str(tmp_path), epochs=40, min_epochs=1, early_stopping_patience=patience))
    scores = [float(line.split(",")[6]) for line in
              result.history_path.read_text().splitlines()[1:]]
    first_best = scores.index(max(scores)) + 1
    assert max(scores) == 1.0 and scores.count(1.0) > 1
    assert len(scores) == first_best + patience  # stopped exactly `patience` epochs later
    # The saved model is the best epoch by macro-F1, ties broken by validation loss.
    assert result.best_epoch >= first_best and result.metrics["val_macro_f1"] == 1.0


def test_one_cycle_warms_up_then_decays_to_nearly_zero():
    config = load_config(learning_rate=0.01, warmup_fraction=0.25, epochs=4).training
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=config.learning_rate)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch=10)
    rates = []
    for _ in range(40):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.01 / 25)
    # OneCycleLR peaks at step warmup_fraction * total_steps - 1.
    assert max(rates) == pytest.approx(0.01) and rates.index(max(rates)) == 9
    assert rates[-1] < 1e-4 and all(a >= b for a, b in zip(rates[9:], rates[10:]))


def test_plateau_schedule_is_one_setting_away():
    config = load_config(schedule="plateau", lr_factor=0.5, lr_patience=1).training
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch=10)
    for loss in (1.0, 1.0, 1.0):
        scheduler.step(loss)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_seed_preset_is_the_seed_network():
    model = Classifier.seed(load_config(SEED_PRESET), [f"c{i}" for i in range(16)])
    assert model.input_shape == (1, 201, 128)
    assert model.backbone.flat_features == 24576
    assert sum(p.numel() for p in model.parameters()) == 26_510_800
    assert [type(m).__name__ for m in model.head.linear_layer3] == ["Linear", "LeakyReLU"]
    assert load_config(SEED_PRESET).training.schedule == "plateau"


def test_default_network_pools_over_time_and_has_plain_logits():
    config = load_config()
    model = Classifier.seed(config, ["a", "b", "c"])
    assert config.model.pooling == "time_mean"
    frames, bands = model.input_shape[1:]
    # The head sees channels x remaining bands, whatever the segment length.
    assert model.backbone.flat_features == config.model.conv_channels[-1] * (bands // 16)
    assert [type(m).__name__ for m in model.head.layers()[-1]] == ["Linear"]
    longer = Classifier.seed(load_config(segment_seconds=3.0), ["a", "b", "c"])
    assert longer.backbone.flat_features == model.backbone.flat_features


def test_a_model_file_from_before_pooling_existed_keeps_its_network(tmp_path):
    """Older files lack ``pooling`` and ``output_activation``: they must load as the
    flattened head with LeakyReLU logits they were trained as, not today's defaults."""
    config = small_config(pooling="flatten", output_activation=True)
    model = Classifier.seed(config, ["a", "b"]).eval()
    path = save_model(tmp_path / "old.pt", model)
    payload = torch.load(path, weights_only=True)
    del payload["config"]["model"]["pooling"], payload["config"]["model"]["output_activation"]
    model_io.atomic_save(payload, path)
    loaded = load_model(path)
    assert loaded.config.model.pooling == "flatten" and loaded.config.model.output_activation
    waveform = torch.randn(3, model.segment_samples)
    torch.testing.assert_close(loaded(waveform), model(waveform))
