"""Manifests: parsing, every reported problem, folds, strong-label segment targets."""

from __future__ import annotations

import numpy as np
import pytest

from deep_audio.bin import basic_training
from deep_audio.data.manifest import ManifestColumns, read_manifest
from deep_audio.data.segments import SegmentDataset, event_targets
from deep_audio.errors import DeepAudioError


@pytest.fixture
def audio_root(tmp_path):
    root = tmp_path / "audio"
    root.mkdir()
    for name in ("a.wav", "b.wav", "c.wav", "d.wav"):
        (root / name).write_bytes(b"RIFF")  # parsing does not decode
    return root


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_weak_labels_folds_and_every_reported_problem(tmp_path, audio_root):
    manifest = read_manifest(write(tmp_path / "m.csv", (
        "path,labels,fold\n"
        "a.wav,dog;car,1\n"          # 2: two labels
        "b.wav,dog,2\n"              # 3
        "missing.wav,dog,1\n"        # 4: no such file
        "c.wav, ,1\n"                # 5: no label: an unlabelled clip
        ",dog,1\n"                   # 6: empty path
        "\n"                         # 7: blank, ignored
        "d.wav,car,10\n"             # 8
        "b.wav,car,3\n")),           # 9: another fold for b.wav
        audio_root=audio_root)
    assert [clip.path.name for clip in manifest.clips] == ["a.wav", "b.wav", "d.wav"]
    assert manifest.class_names == ["car", "dog"] and manifest.multi_label
    assert manifest.clips[0].labels == ("car", "dog") and manifest.clips[0].line == 2
    assert manifest.folds == ["1", "2", "10"]  # numeric order
    lines = {p.line: p.reason for p in manifest.problems}
    assert sorted(lines) == [4, 6, 9]
    assert "missing.wav' does not exist" in lines[4]
    assert lines[6] == "empty path"
    assert [(c.path.name, c.labels, c.fold) for c in manifest.unlabelled] == [("c.wav", (), "1")]
    assert manifest.select(folds=["2"]).unlabelled == []
    assert "fold '3' differs from fold '2'" in lines[9]
    assert "m.csv:4: " in manifest.format_problems()
    np.testing.assert_array_equal(manifest.targets(), [[1, 1], [0, 1], [1, 0]])
    # folds never mix: a selection and its complement share no clip
    test, train = manifest.select(folds=["1"]), manifest.select(exclude_folds=["1"])
    assert {c.path for c in test.clips} == {audio_root / "a.wav"}
    assert not {c.path for c in test.clips} & {c.path for c in train.clips}
    assert train.class_names == manifest.class_names
    with pytest.raises(DeepAudioError, match=r"has no fold '7'; its folds are \['1', '2', '10'\]"):
        manifest.select(folds=["7"])


def test_strong_labels_renamed_columns_and_tsv(tmp_path, audio_root):
    manifest = read_manifest(write(tmp_path / "events.tsv", (
        "filename\tcategory\tstart\tend\n"
        "a.wav\tdog\t0.5\t1.5\n"
        "a.wav\tcar\t1.0\t3.0\n"
        "b.wav\tdog\t2.0\t2.0\n"      # onset == offset
        "c.wav\tdog\tx\t1\n"          # not a number
        "d.wav\tcar\t1.0\t\n")),      # offset missing
        audio_root=audio_root,
        columns=ManifestColumns("filename", "category", "fold", "start", "end"))
    (clip,) = manifest.clips
    assert clip.labels == ("car", "dog") and manifest.strong and manifest.multi_label
    assert [(e.onset_seconds, e.offset_seconds, e.label) for e in clip.events] == [
        (0.5, 1.5, "dog"), (1.0, 3.0, "car")]
    reasons = {p.line: p.reason for p in manifest.problems}
    assert "onset 2.0 is not before offset 2.0" in reasons[4]
    assert "are not numbers" in reasons[5]
    assert "must both be given" in reasons[6]


def test_manifest_errors_name_the_file(tmp_path, audio_root):
    with pytest.raises(DeepAudioError, match="cannot read manifest .*nothing.csv"):
        read_manifest(tmp_path / "nothing.csv")
    with pytest.raises(DeepAudioError, match=r"has no column 'labels' \(its columns: path, tag\)"):
        read_manifest(write(tmp_path / "m.csv", "path,tag\na.wav,dog\n"), audio_root=audio_root)
    with pytest.raises(DeepAudioError, match="no column 'split'"):
        read_manifest(write(tmp_path / "m.csv", "path,labels\na.wav,dog\n"),
                      audio_root=audio_root, columns=ManifestColumns(fold="split"))
    with pytest.raises(DeepAudioError, match="lists no usable clip:\n  line 2: 1 row.s. without "
                                             "a label: unlabelled clips need labelled ones"):
        read_manifest(write(tmp_path / "m.csv", "path,labels\na.wav,\n"), audio_root=audio_root)
    with pytest.raises(DeepAudioError, match="line 2: an event row needs a label"):
        read_manifest(write(tmp_path / "m.csv", "path,labels,onset,offset\na.wav,,1,2\n"),
                      audio_root=audio_root)


def test_event_targets_and_segment_dataset():
    # 1 s segments at 0, 0.5, 1, ..., an event of class 1 from 0.2 to 0.4 s (short: counts
    # where it lies half or more inside) and one of class 0 from 1.2 to 3.0 s
    starts = np.arange(0, 3.0, 0.5)
    targets = event_targets(starts, 1.0, [(0.2, 0.4, 1), (1.2, 3.0, 0)], 2,
                            overlap_fraction=0.5)
    assert targets[:, 1].tolist() == [1, 0, 0, 0, 0, 0]
    # class 0 covers [1.2, 3.0): segment 0.5-1.5 has 0.3 s (< 0.5), 1.0-2.0 has 0.8 s
    assert targets[:, 0].tolist() == [0, 0, 1, 1, 1, 1]
    rate = 10
    waves = [np.zeros(30, np.float32), np.zeros(20, np.float32)]
    data = SegmentDataset(waves, [np.array([1, 1], np.float32), np.array([0, 1], np.float32)],
                          segment_samples=10, hop_samples=10,
                          events=[[(1.2, 3.0, 0)], []], sample_rate=rate)
    assert data.strong and data.multi_label
    # file 0 takes its targets from its event; file 1 (no events) its weak labels
    assert data.segment_labels().tolist() == [[0, 0], [1, 0], [1, 0], [0, 1], [0, 1]]
    waveform, target = data[1]
    assert waveform.shape == (10,) and target.tolist() == [1.0, 0.0]


def test_cli_needs_folders_or_a_manifest(tmp_path, capsys):
    assert basic_training.main(["-o", str(tmp_path / "x")]) == 2
    assert "give class folders (-i) or a manifest" in capsys.readouterr().err
    assert basic_training.main(["-i", str(tmp_path), "-o", "x", "--cross-validate"]) == 2
    assert "need a manifest" in capsys.readouterr().err
