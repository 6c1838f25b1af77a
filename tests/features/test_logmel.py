
import numpy as np
import pytest
import torch

from deep_audio.config import load_config
from deep_audio.features import LogMel, Normalize, band_statistics
from tests.conftest import REPO, tone

SEED_PRESET = REPO / "configs" / "seed.yaml"


def test_segments_give_the_seed_and_default_input_sizes():
    seed = LogMel.from_config(load_config(SEED_PRESET).front_end)
    assert seed(torch.zeros(3, 32000)).shape == (3, 128, 201)  # 2.0 s, the seed's input
    assert seed.n_frames(32000) == 201
    default = LogMel.from_config(load_config().front_end)
    assert default(torch.zeros(3, 16000)).shape == (3, 64, 101)  # 1.0 s


def test_silence_is_finite_and_at_the_floor():
    out = LogMel.from_config(load_config().front_end)(torch.zeros(1, 16000))
    assert torch.isfinite(out).all()
    assert out.max().item() == pytest.approx(-100.0)


def test_a_tone_lights_the_band_that_holds_its_frequency():
    config = load_config().front_end
    front_end = LogMel.from_config(config)
    out = front_end(torch.from_numpy(tone(1000, 1.0, 16000)))  # (n_mels, frames)
    loudest_band = int(out.mean(dim=1).argmax())
    fb = front_end.mel.mel_scale.fb  # (n_freqs, n_mels)
    freqs = torch.linspace(0, 8000, fb.shape[0])
    centre = float((fb[:, loudest_band] * freqs).sum() / fb[:, loudest_band].sum())
    assert abs(centre - 1000) < 60


def test_leading_axes_and_autocast_keep_float32():
    front_end = LogMel.from_config(load_config().front_end)
    x = torch.randn(2, 3, 8000)
    assert front_end(x).shape == (2, 3, 64, 51)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert front_end(x).dtype == torch.float32


def test_band_statistics_match_a_direct_computation():
    front_end = LogMel.from_config(load_config(n_mels=16).front_end)
    batches = [torch.randn(4, 8000) * s for s in (0.1, 1.0)]
    mean, std = band_statistics(front_end, batches)
    everything = torch.cat([front_end(b) for b in batches])  # (8, 16, frames)
    flat = everything.transpose(0, 1).reshape(16, -1)
    torch.testing.assert_close(mean, flat.mean(dim=1), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(std, flat.std(dim=1, unbiased=False), rtol=1e-4, atol=1e-4)

    normalize = Normalize(16)
    normalize.set_statistics(mean, std)
    out = normalize(everything).transpose(0, 1).reshape(16, -1)
    np.testing.assert_allclose(out.mean(dim=1), 0, atol=1e-3)
    np.testing.assert_allclose(out.std(dim=1, unbiased=False), 1, atol=1e-3)
    assert set(dict(normalize.named_buffers())) == {"mean", "std"}
