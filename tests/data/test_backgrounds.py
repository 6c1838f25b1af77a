"""The background bank: every readable recording of a folder, at the model's rate."""

import logging

import numpy as np
import pytest
import soundfile

from deep_audio.data.backgrounds import load_backgrounds
from deep_audio.errors import ConfigError


def test_every_readable_recording_is_resampled_and_placed_end_to_end(tmp_path, caplog):
    soundfile.write(tmp_path / "hum.wav", np.full(8000, 0.1, np.float32), 8000)  # 1 s
    (tmp_path / "rain").mkdir()
    soundfile.write(tmp_path / "rain" / "a.wav", np.full(24000, -0.2, np.float32), 16000)
    (tmp_path / "broken.wav").write_bytes(b"RIFF....not audio")
    soundfile.write(tmp_path / "silence.wav", np.zeros(800, np.float32), 8000)
    with caplog.at_level(logging.WARNING):
        bank = load_backgrounds(tmp_path, 16000)
    assert bank.lengths.tolist() == [16000, 24000] and bank.starts.tolist() == [0, 16000]
    assert bank.samples.shape == (40000,)
    assert abs(float(bank.samples[8000]) - 0.1) < 1e-3  # hum.wav, away from its edges
    assert float(bank.samples[30000]) == pytest.approx(-0.2, abs=1e-4)  # 16-bit WAV
    skipped = " ".join(caplog.messages)
    assert "broken.wav" in skipped and "silence.wav" in skipped and "silent" in skipped


def test_a_folder_without_usable_audio_is_a_config_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(ConfigError, match="holds no readable"):
        load_backgrounds(tmp_path, 16000)
    with pytest.raises(ConfigError, match="background_folder.*not a directory"):
        load_backgrounds(tmp_path / "missing", 16000)
