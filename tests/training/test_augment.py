"""Augmentation: each kind changes the input as specified, and nothing happens in eval."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from deep_audio.data.backgrounds import BackgroundBank
from deep_audio.errors import ConfigError
from deep_audio.models import Classifier
from deep_audio.training import train_one_epoch
from deep_audio.training.augment import Augmentation, stretch_time
from deep_audio.training.loop import Optimisation, TrainingStep
from deep_audio.training.train import _augmentation
from tests.conftest import small_config


def test_everything_is_off_by_default_and_in_eval():
    config = small_config()
    assert not Augmentation.from_config(config.augmentation, config.front_end).enabled
    augment = Augmentation(gain_db=6, time_shift_samples=100, spec_time_masks=2,
                           spec_time_mask_frames=5, spec_freq_masks=2, spec_freq_mask_bands=4,
                           mixup_alpha=0.4).eval()
    waveform, features = torch.randn(4, 800), torch.randn(4, 1, 20, 16)
    assert torch.equal(augment.waveform(waveform), waveform)
    assert torch.equal(augment.spectrogram(features), features)
    mixed, soft = augment.mixup(features, torch.tensor([0, 1, 2, 1]), 3)
    assert torch.equal(mixed, features)
    assert soft.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0]]


def test_settings_in_seconds_become_samples_and_frames():
    config = small_config(time_shift_seconds=0.25, spec_time_masks=1,
                          spec_time_mask_seconds=0.1, gain_db=3.0)
    augment = Augmentation.from_config(config.augmentation, config.front_end)
    assert augment.enabled and augment.time_shift_samples == 2000  # 8 kHz
    assert augment.time_masking.mask_param == 10  # 10 ms hop


def test_gain_scales_each_segment_within_the_range():
    torch.manual_seed(0)
    waveform = torch.randn(64, 100)
    out = Augmentation(gain_db=6.0).train().waveform(waveform)
    ratio = out / waveform
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), rtol=1e-4)  # one gain a row
    decibels = 20 * torch.log10(ratio[:, 0])
    assert decibels.abs().max() <= 6.0 + 1e-4 and decibels.std() > 1.0


def test_time_shift_rolls_each_segment():
    torch.manual_seed(0)
    waveform = torch.arange(50.0).repeat(16, 1)
    out = Augmentation(time_shift_samples=10).train().waveform(waveform)
    shifts = []
    for row in out:
        shift = int((-row[0].item()) % 50)
        assert torch.equal(row, torch.roll(torch.arange(50.0), shift))
        shifts.append(shift if shift <= 25 else shift - 50)
    assert max(abs(s) for s in shifts) <= 10 and len(set(shifts)) > 3


def test_spec_augment_masks_whole_frames_and_bands():
    torch.manual_seed(0)
    features = torch.randn(8, 1, 50, 32) + 10  # never 0 unless masked
    out = Augmentation(spec_time_masks=2, spec_time_mask_frames=6, spec_freq_masks=1,
                       spec_freq_mask_bands=5).train().spectrogram(features)
    assert out.shape == features.shape
    zero = out == 0
    assert torch.equal(out[~zero], features[~zero])
    for row in zero[:, 0]:
        frames = row.all(dim=1)  # frames masked across every band
        bands = row.all(dim=0)
        assert frames.sum() <= 12 and bands.sum() <= 5
        assert torch.equal(row, frames[:, None] | bands[None, :])  # nothing else masked
    assert zero.any()


def test_mixup_mixes_features_and_targets_alike():
    torch.manual_seed(0)
    features = torch.randn(6, 1, 4, 3)
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    mixed, soft = Augmentation(mixup_alpha=0.4).train().mixup(features, targets, 3)
    assert torch.allclose(soft.sum(dim=1), torch.ones(6))
    weight = soft.max(dim=1).values.min()  # lambda or 1 - lambda
    assert 0 < weight < 1
    for i in range(6):  # each row is weight * itself + (1 - weight) * some partner
        assert any(torch.allclose(mixed[i], w * features[i] + (1 - w) * features[j], atol=1e-5)
                   for j in range(6) for w in (weight, 1 - weight))


def test_training_step_applies_augmentation_on_features(monkeypatch):
    torch.manual_seed(0)
    config = small_config()
    model = Classifier.seed(config, ["a", "b", "c"])
    augment = Augmentation(gain_db=6, time_shift_samples=400, spec_time_masks=1,
                           spec_time_mask_frames=5, spec_freq_masks=1, spec_freq_mask_bands=4,
                           mixup_alpha=0.4)
    calls = []
    for name in ("waveform", "spectrogram", "mixup"):
        original = getattr(augment, name)
        monkeypatch.setattr(augment, name, lambda *a, _f=original, _n=name: (
            calls.append(_n), _f(*a))[1])
    data = TensorDataset(torch.randn(16, model.segment_samples) * 0.1,
                         torch.randint(0, 3, (16,)))
    before = model.head.linear_layer2[0].weight.detach().clone()
    augment.eval()
    optimisation = Optimisation(torch.optim.AdamW(model.parameters()), None,
                                torch.nn.CrossEntropyLoss(),
                                torch.amp.GradScaler("cpu", enabled=False), None)
    result = train_one_epoch(TrainingStep(model, augment), DataLoader(data, batch_size=8),
                             optimisation, model.task, device=torch.device("cpu"),
                             progress=False)
    assert calls == ["waveform", "spectrogram", "mixup"] * 2
    assert np.isfinite(result["loss"]) and 0 <= result["macro_f1"] <= 1
    assert not torch.equal(before, model.head.linear_layer2[0].weight)
    assert augment.training


def test_random_filter_weights_each_segments_spectrum_within_the_range():
    torch.manual_seed(0)
    waveform = torch.randn(16, 4000, dtype=torch.float64)
    augment = Augmentation(filter_db=6.0, filter_bands=4, sample_rate=8000).train()
    torch.manual_seed(1)
    out = augment.waveform(waveform)
    assert out.shape == waveform.shape and out.dtype == waveform.dtype
    gains_db = 20 * torch.log10(torch.fft.rfft(out).abs() / torch.fft.rfft(waveform).abs())
    assert gains_db.abs().max() <= 6.0 + 1e-6
    # every bin is weighted by the segment's curve, and the curves differ between segments
    torch.manual_seed(1)
    expected = augment.filter_gains_db(16, gains_db.shape[1]).double()
    assert torch.allclose(gains_db, expected, atol=1e-3)
    assert gains_db.std(dim=0).mean() > 1.0
    # low and high bands are weighted differently within a segment
    assert (gains_db[:, :200].mean(dim=1) - gains_db[:, -200:].mean(dim=1)).abs().max() > 2
    assert torch.equal(augment.eval().waveform(waveform), waveform)


def test_random_filter_curve_is_linear_between_knots_on_the_mel_scale():
    torch.manual_seed(1)
    augment = Augmentation(filter_db=10.0, filter_bands=1, sample_rate=16000)
    curve = augment.filter_gains_db(3, 801)
    # one band: a straight line on the mel axis from the 0 Hz gain to the Nyquist gain
    hz = torch.linspace(0, 8000, 801)
    mel = 2595 * torch.log10(1 + hz / 700)
    position = mel / mel[-1]
    expected = curve[:, :1] + position * (curve[:, -1:] - curve[:, :1])
    assert torch.allclose(curve, expected, atol=1e-4)
    assert curve.abs().max() <= 10.0


def test_filter_settings_come_from_the_config():
    config = small_config(filter_db=4.0, filter_bands=3)
    augment = Augmentation.from_config(config.augmentation, config.front_end)
    assert augment.enabled and augment.filter_db == 4.0 and augment.filter_bands == 3
    assert augment.sample_rate == config.front_end.sample_rate


def test_band_shift_moves_each_segment_along_the_mel_axis():
    torch.manual_seed(0)
    features = (torch.arange(32.0) + 1).expand(16, 1, 5, 32).clone()  # band b holds b + 1
    out = Augmentation(freq_shift_bands=3).train().spectrogram(features)
    shifts = set()
    for row in out[:, 0, 0]:
        shift = int(row[row > 0][0].item()) - 1 - int((row > 0).nonzero()[0])  # source - target
        shifts.add(-shift)
        inside = row > 0
        assert torch.equal(row[inside], torch.arange(32.0)[inside] + 1 - (-shift))
        assert int((~inside).sum()) == abs(shift)  # bands shifted in are 0
    assert shifts <= set(range(-3, 4)) and len(shifts) > 3
    assert torch.equal(out[:, :, :1].expand_as(out), out)  # one shift for every frame


def test_time_stretch_moves_features_and_frame_targets_together():
    features = torch.arange(16.0)[:, None].expand(2, 1, 16, 8).clone()  # frame i holds i
    target = torch.zeros(2, 5, 2)  # 4 target frames of 4 feature frames each, then the clip
    target[:, 1, 0] = 1.0  # class 0 in target frame 1
    target[:, -1] = torch.tensor([1.0, 0.0])
    out, stretched = stretch_time(features, target, torch.tensor([2.0, 0.5]))
    longer, shorter = out[0, 0, :, 0], out[1, 0, :, 0]
    assert torch.allclose(longer, torch.arange(16.0) / 2)  # frame i is frame i / 2
    assert torch.allclose(shorter[:8], torch.arange(8.0) * 2)  # frame i is frame 2 i ...
    assert torch.allclose(shorter[8:], torch.zeros(8), atol=1e-4)  # ... past the end, 0
    assert stretched[0, :4, 0].tolist() == [0, 0, 1, 1]  # frame 1 now covers frames 2-3
    assert stretched[1, :4, 0].tolist() == [1, 0, 0, 0]  # frames 0-1 are in frame 0 ...
    assert torch.equal(stretched[:, -1], target[:, -1])  # the clip row is kept
    weak = torch.full((1, 5, 2), float("nan"))
    weak[:, -1] = 1.0
    _, weak_out = stretch_time(features[:1], weak, torch.tensor([0.5]))
    assert weak_out[0, :4].isnan().all() and torch.equal(weak_out[0, -1], weak[0, -1])
    labels = torch.tensor([1, 0])
    assert stretch_time(features, labels, torch.tensor([2.0, 0.5]))[1] is labels


def test_time_stretch_draws_a_factor_per_segment_within_the_range():
    torch.manual_seed(0)
    features = torch.arange(1.0, 101.0)[:, None].expand(32, 1, 100, 4).clone()
    augment = Augmentation(time_stretch=0.25).train()
    out, _ = augment.stretch(features, torch.zeros(32, dtype=torch.long))
    factors = 10.0 / (out[:, 0, 10, 0] - 1)  # frame 10 holds frame 10 / factor, 1 + that
    assert factors.min() >= 1 / 1.25 - 1e-4 and factors.max() <= 1.25 + 1e-4
    assert factors.std() > 0.05
    assert torch.equal(augment.eval().stretch(features, features)[0], features)
    config = small_config(time_stretch=0.2)
    wired = Augmentation.from_config(config.augmentation, config.front_end)
    assert wired.time_stretch == 0.2 and wired.enabled and wired.masks_spectrogram


def test_a_frame_model_trains_on_stretched_segments():
    from deep_audio.tasks import make_task
    from tests.events.test_frame_detection import CLASSES, RATE, frame_config

    torch.manual_seed(0)
    config = frame_config(conv_channels=[4, 8], time_stretch=0.3)
    model = Classifier.seed(config, list(CLASSES), make_task("frame_detection")).train()
    augment = Augmentation.from_config(config.augmentation, config.front_end).train()
    waveform = torch.randn(4, 2 * RATE)
    target = torch.zeros(4, 51, 2)  # 2 s: 50 frames of 40 ms, then the clip row
    target[:, 10:15, 0] = 1.0
    target[:, -1] = float("nan")
    logits, stretched = TrainingStep(model, augment)(waveform, target)
    assert logits.shape == stretched.shape == target.shape
    onsets = [int(row[:, 0].nonzero()[0]) for row in stretched[:, :-1]]
    assert len(set(onsets)) > 1 and all(7 <= onset <= 13 for onset in onsets)


def _bank(*recordings):
    samples = [torch.as_tensor(r, dtype=torch.float32) for r in recordings]
    lengths = torch.tensor([len(s) for s in samples])
    return BackgroundBank(torch.cat(samples), torch.cumsum(lengths, 0) - lengths, lengths)


def test_background_is_mixed_at_an_snr_within_the_range():
    torch.manual_seed(0)
    bank = _bank(torch.randn(3000), torch.sin(torch.arange(500.0)))
    augment = Augmentation(backgrounds=bank, background_snr_db=(3.0, 12.0),
                           background_probability=1.0).train()
    waveform = torch.randn(64, 1000) * torch.rand(64, 1)  # every segment its own level
    added = augment.waveform(waveform) - waveform
    snr_db = 10 * torch.log10(waveform.pow(2).mean(1) / added.pow(2).mean(1))
    assert snr_db.min() >= 3.0 - 1e-3 and snr_db.max() <= 12.0 + 1e-3 and snr_db.std() > 1.5
    assert torch.equal(augment.eval().waveform(waveform), waveform)


def test_each_excerpt_comes_from_one_recording_repeated_when_short():
    torch.manual_seed(0)
    # a short ramp and a longer constant: an excerpt never mixes the two
    bank = _bank(torch.arange(1.0, 11.0), torch.full((90,), -1.0))
    augment = Augmentation(backgrounds=bank, background_snr_db=(0.0, 0.0),
                           background_probability=1.0).train()
    added = augment.waveform(torch.ones(400, 100)) - 1.0
    ramps = added[:, 0] > 0
    assert 20 < int(ramps.sum()) < 70  # drawn in proportion to length: 10 vs 90 samples
    for row in added[ramps]:
        steps = row / row.min()  # the ramp 1..10 from a random start, repeated
        assert torch.allclose(steps[10:], steps[:-10], atol=1e-4)
        assert sorted(round(float(v)) for v in steps[:10]) == list(range(1, 11))
    constant = added[~ramps]
    assert torch.allclose(constant, constant[:, :1].expand_as(constant)) and (constant < 0).all()


def test_background_probability_leaves_the_other_segments_alone():
    torch.manual_seed(0)
    augment = Augmentation(backgrounds=_bank(torch.randn(4000)), background_probability=0.3
                           ).train()
    waveform = torch.randn(400, 100)
    changed = (augment.waveform(waveform) != waveform).any(1).float().mean()
    assert 0.2 < float(changed) < 0.4


def test_background_settings_come_from_the_config(tmp_path):
    config = small_config(background_snr_db=[0.0, 6.0], background_probability=0.25)
    assert not Augmentation.from_config(config.augmentation, config.front_end).enabled
    wired = Augmentation.from_config(config.augmentation, config.front_end, _bank([1.0, 2.0]))
    assert wired.enabled and wired.background_snr_db == (0.0, 6.0)
    assert wired.background_probability == 0.25
    with pytest.raises(ConfigError, match="background_snr_db"):
        small_config(background_snr_db=[10.0, 5.0])
    with pytest.raises(ConfigError, match="background_probability"):
        small_config(background_probability=1.5)
    empty = small_config(background_folder=str(tmp_path))
    with pytest.raises(ConfigError, match="background_folder"):
        _augmentation(empty, Classifier.seed(empty, ["a", "b"]))
