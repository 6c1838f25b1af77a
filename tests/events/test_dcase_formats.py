"""DCASE task 4 formats (issue 21): DESED metadata TSVs read directly as manifests, and
``deep-audio segment`` scoring against one DCASE ground-truth file and writing one DCASE
detections file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from deep_audio.data.manifest import read_manifest
from deep_audio.errors import DeepAudioError
from deep_audio.events import read_annotation
from deep_audio.io.model_files import save_model
from deep_audio.models.classifier import Classifier
from deep_audio.tasks import make_task
from tests.events.test_frame_detection import CLASSES, RATE, event_clip, frame_config


def audio_files(folder, names, seconds=2.0):
    for index, name in enumerate(names):
        clip = event_clip([(0.5, "low")], seconds, np.random.default_rng(index))
        soundfile.write(folder / name, clip, RATE)


def test_desed_strong_and_weak_metadata_are_manifests(tmp_path):
    audio_files(tmp_path, ["Y1.wav", "Y2.wav", "Y3.wav"])
    (tmp_path / "strong.tsv").write_text(
        "filename\tonset\toffset\tevent_label\nY1.wav\t0.1\t0.9\tDog\n"
        "Y1.wav\t0.5\t1.5\tSpeech\nY2.wav\t1.0\t1.2\tDishes\n")
    strong = read_manifest(tmp_path / "strong.tsv")
    assert strong.strong and strong.class_names == ["Dishes", "Dog", "Speech"]
    assert [len(clip.events) for clip in strong.clips] == [2, 1]
    (tmp_path / "weak.tsv").write_text("filename\tevent_labels\nY1.wav\tDog,Speech\n"
                                       "Y3.wav\tBlender\n")
    weak = read_manifest(tmp_path / "weak.tsv")
    assert not weak.strong and weak.multi_label
    assert [clip.labels for clip in weak.clips] == [("Dog", "Speech"), ("Blender",)]


def test_segment_scores_one_dcase_truth_file_and_writes_dcase_detections(tmp_path, capsys):
    from deep_audio.cli import segment

    audio_files(tmp_path, ["a.wav", "b.wav"], seconds=4.0)
    model = Classifier.seed(frame_config(conv_channels=[8, 16]), list(CLASSES),
                            make_task("frame_detection"))
    model.task = model.task.with_post_processing(  # every frame on: one event per class
        event_thresholds=(0.0, 0.0), median_filter_seconds=(0.0, 0.0),
        min_gap_seconds=(0.0, 0.0))
    path = save_model(tmp_path / "detector.pt", model)
    (tmp_path / "truth.tsv").write_text("filename\tonset\toffset\tevent_label\n"
                                        "a.wav\t0.5\t0.7\tlow\nb.wav\t1.0\t1.2\thigh\n")
    detections = tmp_path / "out" / "detections.tsv"
    assert segment.main(["-m", str(path), "-i", str(tmp_path / "a.wav"),
                         str(tmp_path / "b.wav"), "-o", str(tmp_path / "out"), "--plot",
                         "none", "--truth", str(tmp_path / "truth.tsv"),
                         "--dcase", str(detections)]) == 0
    printed = capsys.readouterr().out
    assert "PSDS1" in printed and "# all 2 recordings" in printed
    found = read_annotation(detections)
    assert sorted((e.filename, e.label) for e in found) == [
        ("a.wav", "high"), ("a.wav", "low"), ("b.wav", "high"), ("b.wav", "low")]
    assert all(e.onset_seconds == 0.0 and e.offset_seconds == 4.0 for e in found)


def test_segment_truth_matches_folders_and_scores_a_recording_without_events(tmp_path, capsys):
    """Ground truth that names files with their folder (``long/a.wav``, as the soundscape
    benchmark's is) matches inputs given by any path; a recording that the truth lists no
    event for is scored without PSDS instead of stopping the run."""
    from deep_audio.cli import segment

    (tmp_path / "long").mkdir()
    (tmp_path / "other").mkdir()
    audio_files(tmp_path / "long", ["a.wav", "c.wav"], seconds=4.0)
    audio_files(tmp_path / "other", ["a.wav"], seconds=4.0)
    model = Classifier.seed(frame_config(conv_channels=[8, 16]), list(CLASSES),
                            make_task("frame_detection"))
    path = save_model(tmp_path / "detector.pt", model)
    (tmp_path / "truth.tsv").write_text("filename\tonset\toffset\tevent_label\n"
                                        "long/a.wav\t0.5\t0.7\tlow\n"
                                        "other/a.wav\t1.0\t1.2\thigh\n"
                                        "other/a.wav\t2.0\t2.2\thigh\n")
    assert segment.main(["-m", str(path), "-i", str(tmp_path / "long" / "a.wav"),
                         str(tmp_path / "long" / "c.wav"), "-o", str(tmp_path / "out"),
                         "--plot", "none", "--truth", str(tmp_path / "truth.tsv")]) == 0
    printed = capsys.readouterr().out
    first, second, summary = printed.split("sound event detection: ")[1:]
    assert first.startswith("1 reference") and "PSDS1" in first
    assert second.startswith("0 reference") and "PSDS1" not in second
    assert summary.startswith("1 reference") and "PSDS1" in summary


def test_desed_strong_and_weak_sets_in_their_own_folders_read_as_one_manifest(tmp_path):
    """DESED keeps its synthetic strong set and its weak set in separate audio folders:
    ``--manifest strong.tsv weak.tsv --audio-root STRONG WEAK`` reads them as one (a
    frame detector then trains on both at once); rows left out name their file."""
    from deep_audio.cli import common, train

    (tmp_path / "synth").mkdir()
    (tmp_path / "weak").mkdir()
    audio_files(tmp_path / "synth", ["s1.wav", "s2.wav"])
    audio_files(tmp_path / "weak", ["w1.wav", "s1.wav"])
    (tmp_path / "strong.tsv").write_text(
        "filename\tonset\toffset\tevent_label\ns1.wav\t0.1\t0.9\tDog\n"
        "s2.wav\t1.0\t1.2\tDishes\ns2.wav\t1.5\t1.2\tDishes\n")
    (tmp_path / "weak.tsv").write_text("filename\tevent_labels\nw1.wav\tDog,Speech\n"
                                       "s1.wav\tBlender\ngone.wav\tDog\n")
    args = train.build_parser().parse_args([
        "--manifest", str(tmp_path / "strong.tsv"), str(tmp_path / "weak.tsv"),
        "--audio-root", str(tmp_path / "synth"), str(tmp_path / "weak"), "-o", "x"])
    manifest = common.manifest_from_args(args)
    assert manifest.class_names == ["Blender", "Dishes", "Dog", "Speech"]
    by_name = {(clip.path.parent.name, clip.path.name): clip for clip in manifest.clips}
    assert sorted(by_name) == [("synth", "s1.wav"), ("synth", "s2.wav"), ("weak", "s1.wav"),
                               ("weak", "w1.wav")]
    assert manifest.strong and len(by_name["synth", "s2.wav"].events) == 1
    assert by_name["weak", "w1.wav"].labels == ("Dog", "Speech")
    assert not by_name["weak", "w1.wav"].events
    problems = manifest.format_problems().splitlines()
    assert problems[0].startswith(f"{tmp_path / 'strong.tsv'}:4: onset 1.5 is not before")
    assert problems[1].startswith(f"{tmp_path / 'weak.tsv'}:4: ") and "gone.wav" in problems[1]
    # one audio root for both, or one per manifest; nothing else
    args.audio_root = [str(tmp_path / "synth")]
    assert len(common.manifest_from_args(args).clips) == 2  # synth/s1, synth/s2
    args.audio_root = [str(tmp_path / "synth")] * 3
    with pytest.raises(DeepAudioError, match="one audio root, or one per manifest"):
        common.manifest_from_args(args)


def test_a_file_in_two_manifests_has_the_labels_and_events_of_both(tmp_path):
    audio_files(tmp_path, ["a.wav"])
    (tmp_path / "strong.csv").write_text("path,labels,fold,onset,offset\n"
                                         "a.wav,dog,1,0.5,1.0\n")
    (tmp_path / "more.csv").write_text("path,labels,fold,onset,offset\n"
                                       "a.wav,car,1,1.0,1.5\na.wav,bird,2,0.1,0.2\n")
    manifest = read_manifest([tmp_path / "strong.csv", tmp_path / "more.csv"])
    (clip,) = manifest.clips
    assert clip.labels == ("car", "dog")
    assert [e.label for e in clip.events] == ["dog", "car"]
    (problem,) = manifest.problems
    assert problem.file == tmp_path / "more.csv" and problem.line == 3
    assert "strong.csv" in problem.reason
