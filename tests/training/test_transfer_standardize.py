"""Standardised head inputs while transferring: an exact, invisible reparametrisation."""

import pytest
import torch
from torch import nn

from deep_audio.io.model_files import load_model, save_model
from deep_audio.models import Classifier
from deep_audio.tasks import SingleLabel
from deep_audio.training.train import prepare_data
from deep_audio.training.transfer import (
    StandardizedLinear,
    fold_head,
    head_input_statistics,
    standardize_head,
    transfer_model,
)
from tests.conftest import small_config

CPU = torch.device("cpu")


def _large_linear(seed=0):
    """A linear layer and inputs of large, offset, uneven scale, like the source's head."""
    generator = torch.Generator().manual_seed(seed)
    linear = nn.Linear(40, 7)
    scale = 30 * torch.rand(40, generator=generator)
    x = 50 + scale * torch.randn(64, 40, generator=generator)
    return linear, x


def test_fold_unfold_round_trip_is_exact():
    linear, x = _large_linear()
    mean, std = x.mean(dim=0), x.std(dim=0)
    wrapped = StandardizedLinear(linear, mean, std)
    torch.testing.assert_close(wrapped(x), linear(x), rtol=1e-5, atol=1e-3)
    # The optimiser sees the standardised-input weights...
    torch.testing.assert_close(wrapped.weight, linear.weight * std)
    # ...the state_dict holds plain nn.Linear weights under nn.Linear's keys.
    state = wrapped.state_dict()
    assert list(state) == list(linear.state_dict()) == ["weight", "bias"]
    torch.testing.assert_close(state["weight"], linear.weight.detach())
    torch.testing.assert_close(state["bias"], linear.bias.detach(), rtol=1e-5, atol=1e-4)
    # Loading plain weights into it, and folding it back, give the same function.
    other, _ = _large_linear(seed=1)
    wrapped.load_state_dict(other.state_dict())
    torch.testing.assert_close(wrapped(x), other(x), rtol=1e-5, atol=1e-3)
    plain = wrapped.to_linear()
    assert type(plain) is nn.Linear
    torch.testing.assert_close(plain(x), other(x), rtol=1e-5, atol=1e-3)


def test_gradients_are_those_of_standardised_inputs():
    linear, x = _large_linear()
    mean, std = x.mean(dim=0), x.std(dim=0)
    wrapped = StandardizedLinear(linear, mean, std)
    wrapped(x).sum().backward()
    expected = ((x - mean) / std).sum(dim=0).expand(7, -1)
    torch.testing.assert_close(wrapped.weight.grad, expected, rtol=1e-4, atol=1e-3)


@pytest.fixture
def data(dataset):
    return prepare_data(dataset["train"][:2], small_config(), SingleLabel())


@pytest.mark.slow
def test_standardized_head_computes_the_same_and_saves_a_plain_model(trained, data,
                                                                     tmp_path):
    model = transfer_model(load_model(trained.model_path), data.class_names, layers_frozen=2,
                           head="source")
    nn.init.normal_(model.head.layers()[-1][0].weight)  # not zero: a real check
    waveform = torch.stack([data.train_set[i][0] for i in range(len(data.train_set))])
    model.eval()
    before = model(waveform)
    assert standardize_head(model, data.train_set, batch_size=8, device=CPU) == 2
    assert [type(layer[index]) for layer, index in
            ((model.head.linear_layer1, 1), (model.head.linear_layer2, 0))] == [
        StandardizedLinear, StandardizedLinear]
    torch.testing.assert_close(model(waveform), before, rtol=1e-4, atol=1e-4)

    plain = Classifier.seed(model.config, model.class_names)
    assert list(model.state_dict()) == list(plain.state_dict())
    path = save_model(tmp_path / "standardized.pt", model)
    loaded = load_model(path)
    assert all(type(layer[index]) is nn.Linear for layer, index in
               ((loaded.head.linear_layer1, 1), (loaded.head.linear_layer2, 0)))
    torch.testing.assert_close(loaded(waveform), before, rtol=1e-4, atol=1e-4)

    fold_head(model)
    assert type(model.head.linear_layer1[1]) is nn.Linear
    torch.testing.assert_close(model(waveform), before, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_statistics_standardise_the_training_segments(trained, data):
    model = transfer_model(load_model(trained.model_path), data.class_names, layers_frozen=2,
                           head="source")
    (mean, std), _ = head_input_statistics(model, data.train_set, batch_size=8, device=CPU)
    standardize_head(model, data.train_set, batch_size=8, device=CPU)
    seen = []
    model.head.linear_layer1[1].register_forward_pre_hook(lambda _, inputs: seen.append(
        (inputs[0] - mean) / std))
    model.eval()
    model(torch.stack([data.train_set[i][0] for i in range(len(data.train_set))]))
    standardised = seen[0][:, std > 1e-3 * std.max()]  # constant features stay as they are
    torch.testing.assert_close(standardised.mean(dim=0), torch.zeros(standardised.shape[1]),
                               atol=1e-3, rtol=0)
    torch.testing.assert_close(standardised.std(dim=0, unbiased=False),
                               torch.ones(standardised.shape[1]), atol=1e-3, rtol=0)


def test_frozen_linear_layers_stay_plain(trained, data):
    model = transfer_model(load_model(trained.model_path), data.class_names, layers_frozen=3,
                           head="source")
    assert standardize_head(model, data.train_set, batch_size=8, device=CPU) == 1
    assert type(model.head.linear_layer1[1]) is nn.Linear
    assert type(model.head.linear_layer2[0]) is StandardizedLinear


def test_measuring_statistics_leaves_the_global_rng_alone(trained, data):
    model = transfer_model(load_model(trained.model_path), data.class_names, layers_frozen=2,
                           head="source")
    model.train()
    state = torch.get_rng_state()
    standardize_head(model, data.train_set, batch_size=8, device=CPU)
    assert torch.equal(torch.get_rng_state(), state)
    assert model.training and not model.backbone.conv_layer1.training
