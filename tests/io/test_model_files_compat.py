"""Model files written by earlier releases (tests/fixtures/models) load and compute what
they computed then."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deep_audio.io.model_files import load_model
from deep_audio.tasks import SingleLabel
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "models"
EXPECTED = np.load(FIXTURES / "expected.npz")


@pytest.mark.parametrize("name", ["seed_single_v1", "seed_multilabel_v1", "seed_flatten_v1",
                                  "hf_ast_v2"])
def test_old_model_file_predicts_as_it_did(name, monkeypatch):
    if name.startswith("hf"):
        pytest.importorskip("transformers", reason="the hf backbone needs transformers")
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = load_model(FIXTURES / f"{name}.pt")
    waveform = torch.from_numpy(EXPECTED[f"{name}/input"])
    with torch.no_grad():
        logits = model(waveform).numpy()
    np.testing.assert_allclose(logits, EXPECTED[f"{name}/logits"], rtol=1e-5, atol=1e-6)
    layers = [key.split("/")[-1] for key in EXPECTED.files if key.startswith(f"{name}/embed/")]
    assert layers
    for layer in layers:
        with torch.no_grad():
            embedding = model.embed(waveform, layer).numpy()
        np.testing.assert_allclose(embedding, EXPECTED[f"{name}/embed/{layer}"],
                                   rtol=1e-5, atol=1e-6)
    assert model.metadata["fixture"] == name
    if name == "seed_multilabel_v1":  # the thresholds buffer, float32
        assert model.task.thresholds == pytest.approx((0.3, 0.5, 0.7))
    else:
        assert model.task == SingleLabel()
