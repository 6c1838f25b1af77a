"""read_audio on every listed input kind, and clear errors on damaged ones."""

import numpy as np
import pytest
import soundfile

from deep_audio.errors import AudioError
from deep_audio.io.audio import list_audio_files, read_audio
from tests.conftest import tone

WAV_SUBTYPES = ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"]


def peak_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("subtype", WAV_SUBTYPES)
def test_wav_integer_and_float_depths_read_as_float32(tmp_path, subtype):
    path = tmp_path / f"tone_{subtype}.wav"
    soundfile.write(path, tone(440, 0.5, 16000), 16000, subtype=subtype)
    samples, rate = read_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1 and rate == 16000
    assert len(samples) == 8000
    assert 0.45 < np.abs(samples).max() <= 1.0
    assert abs(peak_frequency(samples, rate) - 440) < 5


@pytest.mark.parametrize("suffix, options", [
    (".flac", {}),
    (".ogg", {"format": "OGG", "subtype": "VORBIS"}),
    (".mp3", {"format": "MP3", "subtype": "MPEG_LAYER_III"}),
])
def test_compressed_formats(tmp_path, suffix, options):
    path = tmp_path / f"tone{suffix}"
    soundfile.write(path, tone(1000, 1.0, 44100), 44100, **options)
    samples, rate = read_audio(path, sample_rate=16000)
    assert rate == 16000 and samples.dtype == np.float32
    assert abs(len(samples) - 16000) < 1200  # mp3 adds encoder padding
    assert abs(peak_frequency(samples, rate) - 1000) < 10


@pytest.mark.parametrize("source_rate", [8000, 22050, 44100, 48000])
def test_resampling_keeps_pitch_and_duration(tmp_path, source_rate):
    path = tmp_path / "tone.wav"
    soundfile.write(path, tone(700, 2.0, source_rate), source_rate)
    samples, rate = read_audio(path, sample_rate=16000)
    assert rate == 16000 and len(samples) == 32000
    assert abs(peak_frequency(samples, rate) - 700) < 2
    # A good resampler keeps a sine's level (no droop or aliasing at 700 Hz).
    assert np.sqrt(np.mean(samples[2000:-2000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)


def test_channels_are_averaged_or_kept(tmp_path):
    path = tmp_path / "stereo.wav"
    left, right = tone(300, 0.5, 8000), tone(300, 0.5, 8000, amplitude=0.1)
    soundfile.write(path, np.stack([left, right], axis=1), 8000, subtype="FLOAT")
    mono, _ = read_audio(path)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-6)
    both, _ = read_audio(path, mono=False)
    assert both.shape == (2, 4000)
    six, _ = read_audio(_write_channels(tmp_path, 6), sample_rate=16000)
    assert six.ndim == 1 and len(six) == 8000


def _write_channels(tmp_path, n):
    path = tmp_path / f"{n}ch.wav"
    soundfile.write(path, np.tile(tone(500, 0.5, 8000)[:, None], (1, n)), 8000)
    return path


def test_damaged_files_name_the_file_and_the_reason(tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(AudioError, match="cannot decode '.*garbage.wav'"):
        read_audio(garbage)

    truncated = tmp_path / "truncated.flac"
    soundfile.write(truncated, tone(300, 1.0, 8000), 8000)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(AudioError, match="truncated.flac"):
        read_audio(truncated)

    with pytest.raises(AudioError, match="no such file"):
        read_audio(tmp_path / "missing.wav")


def test_empty_short_and_non_finite_files_are_refused(tmp_path):
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.float32), 8000)
    with pytest.raises(AudioError, match="empty.wav': it holds no samples"):
        read_audio(empty)

    short = tmp_path / "short.wav"
    soundfile.write(short, np.zeros(16, dtype=np.float32), 8000)  # 2 ms
    with pytest.raises(AudioError, match=r"2\.0 ms long, shorter than the minimum of 10\.0 ms"):
        read_audio(short, min_seconds=0.010)
    assert len(read_audio(short)[0]) == 16

    nan = tmp_path / "nan.wav"
    values = tone(300, 0.1, 8000)
    values[10] = np.nan
    soundfile.write(nan, values, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav': it holds NaN or infinite samples"):
        read_audio(nan)


def test_list_audio_files_is_recursive_sorted_and_skips_hidden(tmp_path):
    for relative in ["b.wav", "a.FLAC", "sub/c.mp3", "sub/.hidden.wav", ".cache/d.wav",
                     "notes.txt"]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in list_audio_files(tmp_path)]
    assert found == ["a.FLAC", "b.wav", "sub/c.mp3"]
    with pytest.raises(AudioError, match="not a directory"):
        list_audio_files(tmp_path / "nope")
