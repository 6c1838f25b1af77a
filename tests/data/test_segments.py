import numpy as np
import pytest
import soundfile

from deep_audio.data import (LabelledFile, SegmentDataset, class_folders, decode_files,
                             segment_starts, stratified_file_split)
from deep_audio.errors import AudioError, DeepAudioError


@pytest.mark.parametrize("n, expected", [
    (100, [0, 25, 50]), (90, [0, 25, 40]), (50, [0]), (10, [0]), (0, [0]),
])
def test_segments_cover_the_whole_file(n, expected):
    assert segment_starts(n, 50, 25) == expected


def test_dataset_pads_short_files_and_labels_every_segment():
    waveforms = [np.ones(30, np.float32), np.arange(100, dtype=np.float32)]
    dataset = SegmentDataset(waveforms, [1, 0], segment_samples=50, hop_samples=25)
    assert len(dataset) == 1 + 3
    first, label = dataset[0]
    assert label == 1 and first.shape == (50,)
    assert first[:30].eq(1).all() and first[30:].eq(0).all()
    last, label = dataset[3]
    assert label == 0 and last[0] == 50 and last[-1] == 99
    assert dataset.segment_labels().tolist() == [1, 0, 0, 0]


def test_split_is_by_file_stratified_and_seeded():
    labels = [0] * 10 + [1] * 5 + [2] * 1
    train, validation = stratified_file_split(labels, validation_fraction=0.2, seed=3)
    assert not set(train) & set(validation)
    assert sorted(train + validation) == list(range(16))
    assert [labels[i] for i in validation].count(0) == 2
    assert [labels[i] for i in validation].count(1) == 1
    assert 15 in train  # a single-file class stays in training
    assert stratified_file_split(labels, validation_fraction=0.2, seed=3) == (train, validation)
    assert stratified_file_split(labels, validation_fraction=0.2, seed=4) != (train, validation)


def test_class_folders_name_classes_after_folders(tmp_path):
    for name in ["dog", "cat"]:
        (tmp_path / name / "deep").mkdir(parents=True)
        soundfile.write(tmp_path / name / "deep" / "a.wav", np.zeros(800, np.float32), 8000)
    names, files = class_folders([tmp_path / "dog", tmp_path / "cat"])
    assert names == ["dog", "cat"]
    assert [(f.path.parent.parent.name, f.label) for f in files] == [("dog", 0), ("cat", 1)]

    with pytest.raises(DeepAudioError, match="at least two class folders"):
        class_folders([tmp_path / "dog"])
    with pytest.raises(DeepAudioError, match="distinct names"):
        class_folders([tmp_path / "dog", tmp_path / "dog"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(AudioError, match="'.*empty' holds no audio files"):
        class_folders([tmp_path / "dog", tmp_path / "empty"])


def test_decode_skips_bad_files_and_says_why(tmp_path):
    good, bad = tmp_path / "good.wav", tmp_path / "bad.wav"
    soundfile.write(good, np.zeros(800, np.float32), 8000)
    bad.write_bytes(b"nonsense")
    decoded = decode_files([LabelledFile(good, 0), LabelledFile(bad, 1)], sample_rate=16000,
                           min_seconds=0.01)
    assert [f.path for f in decoded.files] == [good]
    assert len(decoded.waveforms[0]) == 1600
    assert decoded.skipped[0][0] == bad and "bad.wav" in decoded.skipped[0][1]
