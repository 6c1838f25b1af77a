"""The on-disk audio cache: decode once, invalidate what changed, share safely."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from deep_audio.io.audio import read_audio
from deep_audio.data import (AudioCache, CachedAudio, LabelledFile, SegmentDataset,
                             decode_files, resolve_cache_dir)
from deep_audio.data import cache as cache_module
from deep_audio.errors import AudioError, ConfigError
from deep_audio.io.model_files import load_model
from deep_audio.training import train_model

from tests.conftest import small_config, tone


@pytest.fixture
def files(tmp_path) -> list[LabelledFile]:
    paths = []
    for i, rate in enumerate([8000, 16000, 44100]):
        path = tmp_path / "audio" / f"tone_{i}.flac"
        path.parent.mkdir(exist_ok=True)
        soundfile.write(path, tone(300 + 100 * i, 0.7, rate, noise=0.05, seed=i), rate)
        paths.append(LabelledFile(path, i % 2))
    return paths


@pytest.fixture
def decode_calls(monkeypatch) -> list[Path]:
    """Paths the cache decodes (its calls of read_audio)."""
    calls = []

    def counting(path, **kwargs):
        calls.append(Path(path))
        return read_audio(path, **kwargs)

    monkeypatch.setattr(cache_module, "read_audio", counting)
    return calls


def test_second_pass_decodes_nothing_and_equals_direct_decoding(files, tmp_path, decode_calls):
    cache = AudioCache(tmp_path / "cache", 16000)
    first = decode_files(files, sample_rate=16000, min_seconds=0.1, cache=cache)
    assert len(decode_calls) == 3
    second = decode_files(files, sample_rate=16000, min_seconds=0.1, cache=cache)
    assert len(decode_calls) == 3  # all three read from the cache
    for item, cached in zip(files, second.waveforms):
        assert isinstance(cached, CachedAudio)
        direct, _ = read_audio(item.path, sample_rate=16000)
        np.testing.assert_array_equal(cached[:], direct)
        assert len(cached) == len(direct)
    assert [f.path for f in first.files] == [f.path for f in second.files]


def test_a_changed_file_or_rate_gets_a_new_entry_and_others_are_kept(files, tmp_path,
                                                                     decode_calls):
    cache = AudioCache(tmp_path / "cache", 16000)
    decode_files(files, sample_rate=16000, min_seconds=0.0, cache=cache)
    changed = files[1].path
    soundfile.write(changed, tone(1234, 1.1, 16000), 16000)
    os.utime(changed, ns=(1, 2))  # a different mtime even on a coarse-clock file system
    decode_calls.clear()
    again = decode_files(files, sample_rate=16000, min_seconds=0.0, cache=cache)
    assert decode_calls == [changed]
    np.testing.assert_array_equal(again.waveforms[1][:], read_audio(changed, sample_rate=16000)[0])
    assert len(again.waveforms[1]) == 17600

    decode_calls.clear()
    at_8k = decode_files(files, sample_rate=8000, min_seconds=0.0,
                         cache=AudioCache(tmp_path / "cache", 8000))
    assert len(decode_calls) == 3 and len(at_8k.waveforms[1]) == 8800


def test_a_damaged_file_is_skipped_with_its_reason_and_not_decoded_again(files, tmp_path,
                                                                         decode_calls):
    bad = files[0].path.parent / "damaged.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    items = files + [LabelledFile(bad, 0)]
    cache = AudioCache(tmp_path / "cache", 16000)
    for _ in range(2):
        result = decode_files(items, sample_rate=16000, min_seconds=0.0, cache=cache)
        assert [path for path, _ in result.skipped] == [bad]
        assert "damaged.wav" in result.skipped[0][1]
    assert decode_calls.count(bad) == 1
    # min_file_seconds is checked on every use, not stored: it is a setting, not a fact
    short = decode_files(items, sample_rate=16000, min_seconds=1.0, cache=cache)
    assert len(short.skipped) == 4 and "shorter than the minimum" in short.skipped[0][1]


def test_a_damaged_entry_is_decoded_again(files, tmp_path):
    cache = AudioCache(tmp_path / "cache", 16000)
    entry = cache.entry(files[0].path)
    entry.path.write_bytes(b"\x93NUMPY broken")
    again = cache.entry(files[0].path)
    np.testing.assert_array_equal(again[:], read_audio(files[0].path, sample_rate=16000)[0])


def _decode_into(args):
    directory, paths = args
    cache = AudioCache(directory, 16000)
    return [float(np.asarray(cache.entry(path)).sum()) for path in paths]


def test_processes_sharing_a_cache_never_corrupt_it(tmp_path):
    paths = []
    for i in range(12):
        path = tmp_path / f"noise_{i}.wav"
        soundfile.write(path, np.random.default_rng(i).uniform(-0.5, 0.5, 22050)
                        .astype(np.float32), 22050)
        paths.append(path)
    directory = tmp_path / "cache"
    with ProcessPoolExecutor(4) as pool:  # four processes race for the same twelve entries
        sums = list(pool.map(_decode_into, [(directory, paths)] * 4))
    expected = [float(read_audio(p, sample_rate=16000)[0].sum()) for p in paths]
    assert all(result == pytest.approx(expected, rel=1e-6) for result in sums)
    entries = list(directory.rglob("*"))
    assert not [p for p in entries if p.name.endswith(".partial")]
    assert len([p for p in entries if p.suffix == ".npy"]) == 12


def test_segments_from_the_cache_equal_segments_from_memory(files, tmp_path):
    cache = AudioCache(tmp_path / "cache", 16000)
    cached = decode_files(files, sample_rate=16000, min_seconds=0.0, cache=cache)
    in_memory = decode_files(files, sample_rate=16000, min_seconds=0.0)
    options = {"segment_samples": 4000, "hop_samples": 3000}
    a = SegmentDataset(cached.waveforms, [f.label for f in cached.files], **options)
    b = SegmentDataset(in_memory.waveforms, [f.label for f in in_memory.files], **options)
    assert len(a) == len(b) > 3
    for i in range(len(a)):
        assert torch.equal(a[i][0], b[i][0]) and a[i][1] == b[i][1]


@pytest.mark.slow
def test_training_with_and_without_the_cache_gives_the_same_model(dataset, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    options = {"models_dir": str(tmp_path), "epochs": 2, "min_epochs": 1}
    memory = train_model(dataset["train"], "memory", progress=False,
                         config=small_config(cache_dir="none", **options))
    assert not (tmp_path / "xdg" / "deep_audio").exists()  # nothing cached
    cached = train_model(dataset["train"], "cached", progress=False,
                         config=small_config(cache_dir="auto", **options))
    assert len(list((tmp_path / "xdg" / "deep_audio").rglob("*.npy"))) == 36
    results = [memory, cached]
    a, b = (load_model(result.model_path) for result in results)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key


def test_cache_dir_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert resolve_cache_dir("auto") == tmp_path / "deep_audio"
    assert resolve_cache_dir(None) is None and resolve_cache_dir("none") is None
    assert resolve_cache_dir("~/x") == Path.home() / "x"


def test_an_unwritable_cache_is_a_clear_error(files, tmp_path):
    blocker = tmp_path / "file_not_folder"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write to the audio cache"):
        AudioCache(blocker, 16000).entry(files[0].path)


def test_a_missing_file_is_an_audio_error(tmp_path):
    with pytest.raises(AudioError, match="no_such.wav"):
        AudioCache(tmp_path, 16000).entry(tmp_path / "no_such.wav")
