"""Hand-crafted features: definitions on signals with known answers, shapes, odd inputs."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile

from deep_audio.errors import DeepAudioError
from deep_audio.features import handcrafted
from deep_audio.features.handcrafted import (
    MID_TERM_NAMES,
    SHORT_TERM_NAMES,
    directory_feature_extraction,
    file_features,
    folder_features,
    mid_term_features,
    mid_term_statistics,
    short_term_features,
)
from tests.conftest import tone

RATE = 16000
WINDOWS = {"window_seconds": 0.050, "step_seconds": 0.025}
MID = {"mid_window_seconds": 1.0, "mid_step_seconds": 1.0,
       "short_window_seconds": 0.050, "short_step_seconds": 0.025}


def feature(features: np.ndarray, name: str) -> np.ndarray:
    return features[SHORT_TERM_NAMES.index(name)]


def test_names_follow_pyaudioanalysis():
    assert len(SHORT_TERM_NAMES) == 68 and len(MID_TERM_NAMES) == 136
    assert SHORT_TERM_NAMES[:8] == ["zcr", "energy", "energy_entropy", "spectral_centroid",
                                    "spectral_spread", "spectral_entropy", "spectral_flux",
                                    "spectral_rolloff"]
    assert SHORT_TERM_NAMES[8] == "mfcc_1" and SHORT_TERM_NAMES[20] == "mfcc_13"
    assert SHORT_TERM_NAMES[21] == "chroma_1" and SHORT_TERM_NAMES[33] == "chroma_std"
    assert SHORT_TERM_NAMES[34] == "delta zcr" and SHORT_TERM_NAMES[67] == "delta chroma_std"
    assert MID_TERM_NAMES[3] == "spectral_centroid_mean"
    assert MID_TERM_NAMES[68 + 2] == "energy_entropy_std"


def test_frame_count_and_shapes():
    samples = tone(440, 1.0, RATE)
    features, names = short_term_features(samples, RATE, **WINDOWS)
    assert features.shape == (68, 1 + (RATE - 800) // 400) and names == SHORT_TERM_NAMES
    assert features.dtype == np.float64 and np.isfinite(features).all()


def test_pure_tone_centroid_spread_rolloff_and_zcr():
    # 1000 Hz lies on bin 50 of a 50 ms window (20 Hz bins): no leakage.
    samples = np.sin(2 * np.pi * 1000 * np.arange(RATE) / RATE)
    features, _ = short_term_features(samples, RATE, **WINDOWS)
    nyquist = RATE / 2
    # pyAudioAnalysis places bin k at (k + 1) * fs / N: one bin (20 Hz) above the tone.
    np.testing.assert_allclose(feature(features, "spectral_centroid") * nyquist, 1020, atol=1e-3)
    np.testing.assert_allclose(feature(features, "spectral_spread") * nyquist, 0, atol=0.1)
    np.testing.assert_allclose(feature(features, "spectral_rolloff") * nyquist, 1000)
    # 2 crossings per period: 2000 per second, (N - 1) sample pairs per frame.
    np.testing.assert_allclose(feature(features, "zcr"), 100 / 799, atol=2 / 799)
    np.testing.assert_allclose(feature(features, "energy"), 0.5, rtol=1e-3)
    # The tone's energy is even over the 10 sub-frames: entropy log2(10).
    np.testing.assert_allclose(feature(features, "energy_entropy"), np.log2(10), atol=1e-2)
    np.testing.assert_allclose(feature(features, "spectral_flux")[1:], 0, atol=1e-12)


def test_tone_below_another_has_lower_centroid_and_mfccs_differ():
    low, _ = short_term_features(tone(300, 0.5, RATE), RATE, **WINDOWS)
    high, _ = short_term_features(tone(3000, 0.5, RATE), RATE, **WINDOWS)
    assert feature(low, "spectral_centroid").mean() < feature(high, "spectral_centroid").mean()
    assert np.abs(low[8:21].mean(1) - high[8:21].mean(1)).max() > 1


def test_white_noise_is_flat():
    samples = np.random.default_rng(0).standard_normal(RATE)
    features, _ = short_term_features(samples, RATE, **WINDOWS)
    # Equal energy in the 10 sub-bands and 10 sub-frames: entropy close to log2(10).
    assert abs(feature(features, "spectral_entropy").mean() - np.log2(10)) < 0.05
    assert abs(feature(features, "energy_entropy").mean() - np.log2(10)) < 0.05
    assert abs(feature(features, "zcr").mean() - 0.5) < 0.02
    assert abs(feature(features, "spectral_centroid").mean() - 0.5) < 0.02
    assert abs(feature(features, "spectral_rolloff").mean() - 0.9) < 0.02


def test_chroma_is_a_share_of_the_spectral_energy():
    features, _ = short_term_features(tone(440, 0.5, RATE, noise=0.1), RATE, **WINDOWS)
    chroma = features[21:33]
    assert (chroma >= 0).all() and (chroma.sum(axis=0) <= 1 + 1e-12).all()
    np.testing.assert_allclose(feature(features, "chroma_std"), chroma.std(axis=0))


def test_deltas_are_differences_to_the_previous_frame():
    features, _ = short_term_features(tone(440, 0.5, RATE, noise=0.2), RATE, **WINDOWS)
    np.testing.assert_array_equal(features[34:, 0], 0)
    np.testing.assert_allclose(features[34:, 1:], np.diff(features[:34], axis=1))


@pytest.mark.parametrize("samples", [np.zeros(RATE), np.full(RATE, 0.3)], ids=["silence", "dc"])
def test_silence_and_dc_give_finite_features_and_no_energy(samples):
    features, _ = short_term_features(samples, RATE, **WINDOWS)
    assert np.isfinite(features).all()
    assert np.abs(feature(features, "energy")).max() < 1e-9
    assert np.isfinite(mid_term_features(samples, RATE, **MID)[0]).all()


def test_silence_has_zero_time_and_spectral_features():
    features, _ = short_term_features(np.zeros(4000), RATE, **WINDOWS)
    for name in ("zcr", "energy", "energy_entropy", "spectral_centroid", "spectral_spread",
                 "spectral_entropy", "spectral_flux", "spectral_rolloff", "chroma_1"):
        np.testing.assert_array_equal(feature(features, name), 0, err_msg=name)


def test_matches_a_per_frame_loop():
    samples = np.random.default_rng(1).standard_normal(3000) * np.linspace(0, 1, 3000)
    features, _ = short_term_features(samples, 8000, window_seconds=0.030, step_seconds=0.010)
    signal = samples - samples.mean()
    signal /= np.abs(signal).max() + 1e-10
    win, hop = 240, 80
    for i, start in enumerate(range(0, len(signal) - win + 1, hop)):
        frame = signal[start:start + win]
        spectrum = np.abs(np.fft.fft(frame))[:win // 2] / (win // 2)
        bins = np.arange(1, win // 2 + 1) * 8000 / win
        centroid = (bins * spectrum).sum() / spectrum.sum()
        crossings = np.abs(np.diff(np.sign(frame))).sum() / 2
        assert features[0, i] == pytest.approx(crossings / (win - 1))
        assert features[1, i] == pytest.approx((frame ** 2).mean())
        assert features[3, i] == pytest.approx(centroid / 4000, rel=1e-9)


def test_chunked_processing_equals_one_block(monkeypatch):
    samples = tone(440, 3.0, 8000, noise=0.3)
    chunked, _ = short_term_features(samples, 8000, window_seconds=0.020, step_seconds=0.005)
    assert chunked.shape[1] > 2 * handcrafted.CHUNK_FRAMES
    monkeypatch.setattr(handcrafted, "CHUNK_FRAMES", 10 ** 6)
    whole, _ = short_term_features(samples, 8000, window_seconds=0.020, step_seconds=0.005)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("rate, window_seconds", [(6000, 0.05), (8000, 0.020), (8000, 0.0025)])
def test_rates_and_windows_where_pyaudioanalysis_fails(rate, window_seconds):
    # Under 6.9 kHz its MFCC filter bank overruns the spectrum; windows of 12 ms or less
    # break its chroma. Here they give finite features.
    samples = tone(440, 0.5, rate, noise=0.1)
    features, _ = short_term_features(samples, rate, window_seconds=window_seconds,
                                      step_seconds=window_seconds / 2)
    assert features.shape[0] == 68 and np.isfinite(features).all()
    assert (features[21:33] >= 0).all() and (features[21:33].sum(axis=0) <= 1 + 1e-12).all()


def test_one_frame_signal():
    features, _ = short_term_features(tone(440, 0.050, RATE), RATE, **WINDOWS)
    assert features.shape == (68, 1)
    mid, names = mid_term_features(tone(440, 0.050, RATE), RATE, **MID)
    assert mid.shape == (136, 1) and len(names) == 136
    np.testing.assert_array_equal(mid[68:], 0)      # one frame: no spread


def test_short_and_bad_inputs_raise_clear_errors():
    with pytest.raises(DeepAudioError, match=r"shorter than one window of 800 samples \(50 ms\)"):
        short_term_features(np.zeros(799), RATE, **WINDOWS)
    with pytest.raises(DeepAudioError, match="mono"):
        short_term_features(np.zeros((2, RATE)), RATE, **WINDOWS)
    with pytest.raises(DeepAudioError, match="NaN"):
        short_term_features(np.full(RATE, np.nan), RATE, **WINDOWS)
    with pytest.raises(DeepAudioError, match="window_seconds=0"):
        short_term_features(np.zeros(RATE), RATE, window_seconds=0, step_seconds=0.01)
    with pytest.raises(DeepAudioError, match="step_seconds=-1"):
        short_term_features(np.zeros(RATE), RATE, window_seconds=0.05, step_seconds=-1)
    with pytest.raises(DeepAudioError, match="need at least 20"):
        short_term_features(np.zeros(RATE), RATE, window_seconds=0.001, step_seconds=0.001)
    with pytest.raises(DeepAudioError, match="mid-term window"):
        mid_term_features(np.zeros(RATE), RATE, **{**MID, "mid_window_seconds": 0.01})


def test_mid_term_statistics_of_a_known_sequence():
    short = np.arange(10, dtype=float)[None, :]
    stats = mid_term_statistics(short, window_frames=4, step_frames=4)
    np.testing.assert_allclose(stats[0], [1.5, 5.5, 8.5])
    np.testing.assert_allclose(stats[1], [np.std([0, 1, 2, 3]), np.std([4, 5, 6, 7]),
                                          np.std([8, 9])])
    overlapping = mid_term_statistics(short, window_frames=4, step_frames=2)
    np.testing.assert_allclose(overlapping[0], [1.5, 3.5, 5.5, 7.5, 8.5])


def test_mid_term_window_counts_like_pyaudioanalysis():
    # 1 s windows of 0.1 s frames every 0.05 s: round((1 - 0.05) / 0.05) = 19 frames,
    # windows every 20 frames; 3 s give 59 frames, so windows at frames 0, 20 and 40.
    mid, _ = mid_term_features(tone(440, 3.0, RATE), RATE, mid_window_seconds=1.0,
                               mid_step_seconds=1.0, short_window_seconds=0.1,
                               short_step_seconds=0.05)
    assert mid.shape == (136, 3)


def write(path, samples, rate, **options):
    soundfile.write(path, samples, rate, **options)
    return path


def test_file_features_stereo_and_8khz(tmp_path):
    mono = tone(440, 1.0, 8000, noise=0.05)
    write(tmp_path / "mono.wav", mono, 8000, subtype="FLOAT")
    write(tmp_path / "stereo.wav", np.stack([mono, mono], axis=1), 8000, subtype="FLOAT")
    vector, names = file_features(tmp_path / "mono.wav", **MID)
    stereo, _ = file_features(tmp_path / "stereo.wav", **MID)
    assert vector.shape == (136,) and names == MID_TERM_NAMES and np.isfinite(vector).all()
    np.testing.assert_allclose(stereo, vector, rtol=1e-6, atol=1e-9)


def test_directory_extraction_skips_bad_files_and_says_why(tmp_path, caplog):
    folder = tmp_path / "classical"
    folder.mkdir()
    for i in range(3):
        write(folder / f"good_{i}.wav", tone(300 + 100 * i, 1.2, RATE), RATE)
    write(folder / "sub_8k.flac", tone(500, 1.0, 8000), 8000)
    write(folder / "short.wav", tone(500, 0.01, RATE), RATE)
    (folder / "damaged.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (folder / "empty.wav").write_bytes(b"")

    with caplog.at_level(logging.WARNING, logger="deep_audio.features.handcrafted"):
        features, files, names = directory_feature_extraction(folder, 1.0, 1.0, 0.1, 0.05)
    assert features.shape == (4, 136) and names == MID_TERM_NAMES
    assert [f.rsplit("/", 1)[1] for f in files] == ["good_0.wav", "good_1.wav", "good_2.wav",
                                                    "sub_8k.flac"]
    assert all(isinstance(f, str) for f in files)
    centroid = features[:, names.index("spectral_centroid_mean")]
    assert centroid[0] < centroid[1] < centroid[2]
    for name in ("short.wav", "damaged.wav", "empty.wav"):
        assert any(name in record.getMessage() for record in caplog.records), name
    assert "skipped 3 of 7" in caplog.text

    result = folder_features(folder, **{**MID, "short_window_seconds": 0.1,
                                        "short_step_seconds": 0.05})
    assert {p.rsplit("/", 1)[1] for p, _ in result.skipped} == {"short.wav", "damaged.wav",
                                                                 "empty.wav"}
    assert any("shorter than one window" in reason for _, reason in result.skipped)


def test_directory_extraction_errors(tmp_path):
    with pytest.raises(DeepAudioError, match="not a directory"):
        directory_feature_extraction(tmp_path / "missing", 1.0, 1.0, 0.05, 0.025)
    with pytest.raises(DeepAudioError, match="short_window_seconds|window_seconds"):
        directory_feature_extraction(tmp_path, 1.0, 1.0, 0.0, 0.025)
    features, files, names = directory_feature_extraction(tmp_path, 1.0, 1.0, 0.05, 0.025)
    assert features.shape == (0, 136) and files == [] and len(names) == 136
