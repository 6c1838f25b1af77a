"""Multi-label tagging end to end on generated clips whose sounds overlap."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from deep_audio.bin import basic_training, classification_report, segment_recording
from deep_audio.data.manifest import read_manifest
from deep_audio.events import read_annotation
from deep_audio.io.model_files import load_model
from deep_audio.metrics import best_thresholds, multilabel_scores
from deep_audio.predict import evaluate_manifest
from deep_audio.predict.classify import classify_files
from deep_audio.tasks import SingleLabel
from deep_audio.training import cross_validate, train_model
from tests.conftest import EXPORT_PACKAGES, needs, small_config, tone

RATE = 8000
CLASSES = ("click", "high", "low")


def sound(name: str, seconds: float, rng) -> np.ndarray:
    if name == "low":
        return tone(rng.uniform(200, 400), seconds, RATE, seed=int(rng.integers(1000)))
    if name == "high":
        return tone(rng.uniform(2000, 3000), seconds, RATE, seed=int(rng.integers(1000)))
    clicks = np.zeros(int(seconds * RATE), np.float32)
    clicks[::RATE // 20] = 1.0
    return clicks


@pytest.fixture(scope="module")
def soundscapes(tmp_path_factory):
    """40 clips of 2 s, each with 1-3 of the classes at random times over faint noise;
    a weak manifest (labels joined by ';') and a strong one (one row per event), 5 folds."""
    root = tmp_path_factory.mktemp("soundscapes")
    rng = np.random.default_rng(0)
    weak, strong = ["path,labels,fold"], ["path,labels,fold,onset,offset"]
    for i in range(40):
        mix = 0.01 * rng.standard_normal(2 * RATE).astype(np.float32)
        present = [name for name in CLASSES if rng.random() < 0.5] or [CLASSES[i % 3]]
        for name in present:
            onset = rng.uniform(0, 1.0)
            offset = min(2.0, onset + rng.uniform(0.6, 1.0))
            piece = sound(name, offset - onset, rng)
            start = int(onset * RATE)
            mix[start:start + len(piece)] += piece[:len(mix) - start]
            strong.append(f"clip{i}.wav,{name},{i % 5 + 1},{onset:.3f},{offset:.3f}")
        soundfile.write(root / f"clip{i}.wav", mix, RATE)
        weak.append(f"clip{i}.wav,{';'.join(present)},{i % 5 + 1}")
    (root / "weak.csv").write_text("\n".join(weak) + "\n")
    (root / "strong.csv").write_text("\n".join(strong) + "\n")
    return root


@pytest.fixture(scope="module")
def tagger(soundscapes, tmp_path_factory):
    manifest = read_manifest(soundscapes / "weak.csv")
    models = tmp_path_factory.mktemp("models")
    return train_model(manifest=manifest.select(exclude_folds=["5"]), output=models / "tagger",
                       config=small_config(epochs=8, cache_dir="none"), progress=False)


@pytest.mark.slow
def test_a_tagger_learns_overlapping_sounds(soundscapes, tagger):
    test = read_manifest(soundscapes / "weak.csv").select(folds=["5"])
    model = load_model(tagger.model_path)
    assert model.task.multi_label  # chosen because rows have several labels
    report = evaluate_manifest(model, test)
    chance = report.targets.mean()  # the mAP of scores that know nothing
    assert report.scores["map"] >= 0.9 > chance + 0.2
    assert report.scores["macro_f1"] >= 0.8
    assert "mAP" in report.format() and "threshold" in report.format()
    # the validation-chosen thresholds are stored in the model file and used
    stored = np.asarray(model.task.thresholds)
    assert np.allclose(stored, tagger.metrics["thresholds"], atol=1e-6)
    assert not np.allclose(stored, 0.5)
    result = next(classify_files([test.clips[0].path], model))
    assert result.labels == [name for name, p, t in zip(model.class_names, result.posteriors,
                                                        stored) if p >= t]
    assert np.allclose(result.posteriors, result.segment_posteriors.max(axis=0))


@pytest.mark.slow
def test_strong_labels_give_segment_targets(soundscapes, tmp_path):
    manifest = read_manifest(soundscapes / "strong.csv")
    assert manifest.strong and manifest.multi_label
    result = train_model(manifest=manifest.select(exclude_folds=["5"]),
                         output=tmp_path / "detector",
                         config=small_config(epochs=8, cache_dir="none", task="multi_label"),
                         progress=False)
    report = evaluate_manifest(result.model_path, manifest.select(folds=["5"]))
    assert report.scores["map"] >= 0.85
    history = (tmp_path / "detector.history.csv").read_text().splitlines()[0]
    assert "val_map" in history and "val_accuracy" not in history


@needs(*EXPORT_PACKAGES)
@pytest.mark.slow
def test_onnx_export_of_a_tagger_gives_the_same_sigmoid_posteriors(soundscapes, tagger,
                                                                   tmp_path):
    from deep_audio.export import to_onnx
    from deep_audio.predict.onnx import OnnxClassifier

    model = load_model(tagger.model_path)
    path = to_onnx(model, tmp_path / "tagger.onnx")
    onnx = OnnxClassifier(path)
    assert np.allclose(onnx.task.thresholds, model.task.thresholds, atol=1e-6)
    clip = read_manifest(soundscapes / "weak.csv").clips[0].path
    torch_result = next(classify_files([clip], model))
    onnx_result = next(classify_files([clip], onnx))
    assert np.allclose(torch_result.segment_posteriors, onnx_result.segment_posteriors,
                       atol=1e-4)
    assert torch_result.labels == onnx_result.labels


@pytest.mark.slow
def test_cross_validation_trains_one_model_per_fold(soundscapes, tmp_path, capsys):
    manifest = read_manifest(soundscapes / "weak.csv")
    result = cross_validate(manifest, tmp_path / "cv", folds=["4", "5"],
                            config=small_config(epochs=3, cache_dir="none"), progress=False)
    assert [fold["fold"] for fold in result.folds] == ["4", "5"] and result.metric == "mAP"
    summary = json.loads(result.summary_path.read_text())
    assert summary["mean"] == pytest.approx(np.mean([f["score"] for f in result.folds]))
    for fold in result.folds:
        metadata = load_model(fold["model_path"]).metadata
        # trained on every clip outside the fold, tested on the fold's 8
        assert metadata["train_files"] + metadata["validation_files"] == 32
        assert fold["test_clips"] == 8
    # the CLI: one fold, single-label on a manifest of one label per clip
    single = soundscapes / "single.csv"
    single.write_text("path,labels,fold\n" + "".join(
        f"{clip.path.name},{clip.labels[0]},{clip.fold}\n" for clip in manifest.clips
        if len(clip.labels) == 1))
    code = basic_training.main(["--manifest", str(single), "--fold", "1", "-o",
                                str(tmp_path / "single"), "-q", "--set", "epochs=2",
                                "--set", "sample_rate=8000", "--set", "n_mels=32",
                                "--set", "n_fft=256", "--set", "conv_channels=[4,8]",
                                "--set", "segment_seconds=0.5", "--set", "min_epochs=1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "mean" in out and (tmp_path / "single.fold1.pt").is_file()


@pytest.mark.slow
def test_report_cli_on_a_manifest(soundscapes, tagger, tmp_path, capsys):
    code = classification_report.main(["-m", str(tagger.model_path), "--manifest",
                                       str(soundscapes / "weak.csv"), "--plot",
                                       str(tmp_path / "ap.png")])
    assert code == 0
    out = capsys.readouterr().out
    assert "mAP" in out and (tmp_path / "ap.png").stat().st_size > 0


def test_thresholds_maximise_f1():
    targets = np.array([[1], [1], [0], [0], [1]])
    scores = np.array([[0.9], [0.4], [0.35], [0.1], [0.8]])
    (threshold,) = best_thresholds(targets, scores)
    assert 0.35 < threshold <= 0.4  # accepts all three positives, no negative
    assert multilabel_scores(targets, scores, [threshold])["f1"] == [1.0]


@pytest.mark.slow
def test_segment_recording_detects_events_and_scores_them(soundscapes, tagger, tmp_path,
                                                          capsys):
    """A long recording of the test clips end to end, its annotation from the events."""
    strong = read_manifest(soundscapes / "strong.csv").select(folds=["5"])
    pieces, lines, offset = [], ["onset\toffset\tevent_label"], 0.0
    for clip in strong.clips:
        samples, _ = soundfile.read(clip.path, dtype="float32")
        lines += [f"{offset + e.onset_seconds:.3f}\t{offset + e.offset_seconds:.3f}\t{e.label}"
                  for e in clip.events]
        pieces.append(samples)
        offset += len(samples) / RATE
    soundfile.write(tmp_path / "long.wav", np.concatenate(pieces), RATE)
    (tmp_path / "long.tsv").write_text("\n".join(lines) + "\n")
    code = segment_recording.main(["-m", str(tagger.model_path), "-i", str(tmp_path / "long.wav"),
                                   "-o", str(tmp_path / "out"), "--truth",
                                   str(tmp_path / "long.tsv"), "--segment-hop-seconds", "0.25"])
    assert code == 0
    out = capsys.readouterr().out
    assert "segment-based (1.0 s): F1" in out and "PSDS1" in out
    segment_f1 = float(out.split("segment-based (1.0 s): F1")[1].split()[0])
    assert segment_f1 >= 0.6  # a weakly trained tagger locates sounds to the second
    events = read_annotation(tmp_path / "out" / "long.events.tsv")
    assert events and {e.label for e in events} <= set(CLASSES)
    assert (tmp_path / "out" / "long.timeline.png").stat().st_size > 0


@pytest.mark.slow
def test_transfer_learning_from_single_to_multi_label_and_back(soundscapes, tagger, trained,
                                                               dataset, tmp_path):
    from deep_audio.training.transfer import transfer_learning

    manifest = read_manifest(soundscapes / "weak.csv")
    to_tags = transfer_learning(trained.model_path, manifest=manifest.select(
        exclude_folds=["5"]), strategy=2, output=tmp_path / "tags", epochs=4, min_epochs=2,
        cache_dir="none", progress=False)
    model = load_model(to_tags.model_path)
    assert model.task.multi_label and model.class_names == list(CLASSES)
    assert "val_map" in to_tags.metrics and len(model.task.thresholds) == 3
    assert evaluate_manifest(model, manifest.select(folds=["5"])).scores["map"] > 0.7
    back = transfer_learning(tagger.model_path, dataset["train"], strategy=0,
                             output=tmp_path / "back", epochs=3, min_epochs=1,
                             cache_dir="none", progress=False)
    model = load_model(back.model_path)
    assert model.task == SingleLabel()
    assert model.class_names == ["low", "high", "noise"] and "val_accuracy" in back.metrics
