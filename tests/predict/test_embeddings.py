"""Deep features: embeddings per layer, folder matrices, classifiers on deep features, CLIs."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
import torch

from deep_audio.bin import deep_feature_test, deep_feature_training, extract_features
from deep_audio.classic import classify_file, load_classic_model
from deep_audio.data import cut_segment
from deep_audio.errors import DeepAudioError, ModelFileError
from deep_audio.io.model_files import load_model, save_model
from deep_audio.models import Classifier
from deep_audio.predict import classify_files
from deep_audio.predict.deep_features import (
    DeepFeatureClassifier,
    classify_files_deep,
    deep_file_classification,
    load_deep_feature_classifier,
    train_deep_feature_classifier,
)
from deep_audio.predict.embeddings import (
    embed_file,
    embed_files,
    embed_segments,
    embedding_layers,
    extract_deep_features,
)
from deep_audio.predict.predictor import Predictor
from tests.conftest import small_config

CLASSES = ["low", "high", "noise"]


@pytest.fixture(scope="module")
def model(trained):
    return load_model(trained.model_path)


@pytest.fixture(scope="module")
def test_files(dataset):
    return [path for folder in dataset["test"] for path in sorted(folder.iterdir())]


def test_layers_have_the_documented_sizes(model, dataset):
    # small_config: conv_channels [4, 8] (two poolings of 32 mel bands), hidden_units [32]
    assert embedding_layers(model) == {"conv": 8, "conv_bands": 8 * 32 // 4,
                                       "conv_bands_max": 8 * 32 // 4, "linear1": 32}
    path = sorted(dataset["test"][0].iterdir())[0]
    (prediction,) = classify_files([path], model)
    for layer, size in embedding_layers(model).items():
        result = embed_file(path, model, layer=layer)
        assert result.embedding.shape == (size,) and result.embedding.dtype == np.float32
        assert result.segments.shape == (len(prediction.segments), size)
        assert result.segment_seconds == [(s.start_seconds, s.end_seconds)
                                          for s in prediction.segments]


def test_seed_network_sizes():
    classifier = Classifier.seed(small_config(conv_channels=[32, 64, 128, 256],
                                              hidden_units=[1024, 256], dropout=[0.75, 0.5],
                                              n_mels=64, segment_seconds=1.0), CLASSES)
    assert embedding_layers(classifier) == {"conv": 256, "conv_bands": 256 * 64 // 16,
                                            "conv_bands_max": 256 * 64 // 16,
                                            "linear1": 1024, "linear2": 256}
    segments = np.zeros((3, classifier.segment_samples), np.float32)
    assert embed_segments(classifier, segments, layer="linear2").shape == (3, 256)


def test_embeddings_are_deterministic_in_eval_mode(model, test_files):
    model.train()  # dropout on: embedding must switch it off
    first = [e.embedding for e in embed_files(test_files[:4], model, layer="linear1")]
    assert not model.training
    model.train()
    second = [e.embedding for e in embed_files(test_files[:4], model, layer="linear1")]
    assert not model.training and not model.backbone.training
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_file_embedding_is_the_mean_of_its_segments(model, test_files):
    result = embed_file(test_files[0], model, layer="conv")
    np.testing.assert_allclose(result.embedding, result.segments.mean(axis=0), rtol=1e-6)
    assert len(result.segments) > 1
    # the segments are the model's segments of the decoded file
    from deep_audio.io.audio import read_audio

    samples, _ = read_audio(test_files[0], sample_rate=model.config.front_end.sample_rate)
    rate = model.config.front_end.sample_rate
    segments = np.stack([cut_segment(samples, round(start * rate), model.segment_samples)
                         for start, _ in result.segment_seconds])
    np.testing.assert_allclose(embed_segments(model, segments, layer="conv"), result.segments,
                               rtol=1e-5, atol=1e-6)


def test_embed_matches_the_forward_pass(model):
    """linear1 feeds the output layer: running that layer on it gives the logits."""
    waveform = torch.randn(2, model.segment_samples)
    with torch.inference_mode():
        hidden = model.embed(waveform, "linear1")
        logits = model.head.layers()[-1](hidden)
        torch.testing.assert_close(logits, model(waveform))


def test_conv_bands_averaged_over_bands_is_conv(model, test_files):
    bands = embed_file(test_files[0], model, layer="conv_bands").segments
    pooled = embed_file(test_files[0], model, layer="conv").segments
    np.testing.assert_allclose(bands.reshape(len(bands), 8, -1).mean(axis=2), pooled,
                               rtol=1e-5, atol=1e-6)  # channel-major: (channel, band)


def test_unknown_layer_lists_the_valid_ones(model, test_files):
    with pytest.raises(DeepAudioError, match=r"'linear2' is not one of conv \(8 values\), "
                                             r"conv_bands \(64 values\), conv_bands_max "
                                             r"\(64 values\), linear1 \(32 values\)"):
        embed_file(test_files[0], model, layer="linear2")


def test_folder_matrix_has_labels_and_names(model, dataset, tmp_path):
    folders = [tmp_path / name for name in CLASSES]
    for source, target in zip(dataset["test"], folders):
        shutil.copytree(source, target)
    (folders[0] / "broken.wav").write_bytes(b"RIFF not really audio")
    deep = extract_deep_features(model, folders, layer="linear1")
    assert deep.features.shape == (18, 32) and deep.names[:2] == ["linear1_0", "linear1_1"]
    assert deep.class_names == CLASSES and deep.labels == ["low"] * 6 + ["high"] * 6 + ["noise"] * 6
    assert deep.label_indices.tolist() == [0] * 6 + [1] * 6 + [2] * 6
    assert [p for p, _ in deep.skipped] == [str(folders[0] / "broken.wav")]
    assert deep.model_path == str(model.path.resolve())
    first = embed_file(deep.files[0], model, layer="linear1").embedding
    np.testing.assert_allclose(deep.features[0], first, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def deep_svm(trained, dataset, tmp_path_factory):
    models_dir = tmp_path_factory.mktemp("deep_models")
    result = train_deep_feature_classifier(trained.model_path, dataset["train"], "deep_svm",
                                           layer="linear1", classifier_type="svm",
                                           models_dir=models_dir)
    return result


def accuracy(predictions, files) -> float:
    truth = {path: path.parent.name for path in files}
    return float(np.mean([p.class_name == truth[p.path] for p in predictions]))


@pytest.mark.slow
def test_svm_on_deep_features_classifies_held_out_files(deep_svm, test_files, trained):
    assert deep_svm.model_path.suffix == ".skops" and deep_svm.class_names == CLASSES
    stored = load_classic_model(deep_svm.model_path)
    assert stored["deep_features"]["layer"] == "linear1"
    assert stored["deep_features"]["combine_classic"] is False
    assert stored["feature_names"][0] == "linear1_0" and len(stored["feature_names"]) == 32
    classifier = load_deep_feature_classifier(deep_svm.model_path)
    predictions = list(classify_files_deep(test_files, classifier))
    assert len(predictions) == 18
    assert accuracy(predictions, test_files) >= 0.8  # chance: 1/3
    assert all(p.posteriors.sum() == pytest.approx(1.0) for p in predictions)
    index, probabilities, names = deep_file_classification(test_files[0], deep_svm.model_path)
    assert names == CLASSES and probabilities.shape == (3,)
    assert index == int(np.argmax(probabilities))


@pytest.mark.slow
def test_deep_plus_classic_features(trained, dataset, test_files, tmp_path):
    result = train_deep_feature_classifier(trained.model_path, dataset["train"],
                                           tmp_path / "combined", layer="conv",
                                           classifier_type="svm_rbf", combine_classic=True)
    stored = load_classic_model(result.model_path)
    assert stored["pipeline"].n_features_in_ == 8 + 136
    assert stored["feature_names"][8] == "zcr_mean" and stored["windows"]["mid_window_seconds"] > 0
    classifier = load_deep_feature_classifier(result.model_path)
    assert classifier.combine_classic
    assert accuracy(list(classify_files_deep(test_files, classifier)), test_files) >= 0.8
    # the hand-crafted statistics are those of whole files: no segment posteriors
    with pytest.raises(DeepAudioError, match="whole files"):
        classifier.posteriors(np.zeros((1, classifier.plan.segment_samples), np.float32))


@pytest.mark.slow
def test_per_segment_logistic_regression_averages_segment_probabilities(
        trained, dataset, test_files, tmp_path):
    result = train_deep_feature_classifier(trained.model_path, dataset["train"],
                                           tmp_path / "probe", layer="conv",
                                           classifier_type="logistic", per_segment=True)
    stored = load_classic_model(result.model_path)
    assert stored["deep_features"]["per_segment"] is True
    # Out-of-fold figures over segments: 36 files of 1.2 s give 4 segments each.
    assert result.confusion_matrix.sum() == 36 * 4
    classifier = load_deep_feature_classifier(result.model_path)
    predictions = list(classify_files_deep(test_files, classifier))
    assert accuracy(predictions, test_files) >= 0.8
    first = predictions[0]
    segments = embed_file(first.path, trained.model_path, layer="conv").segments
    np.testing.assert_allclose(first.posteriors,
                               classifier.pipeline.predict_proba(segments).mean(axis=0),
                               rtol=1e-4)  # one file alone vs batched with others: float32
    with pytest.raises(DeepAudioError, match="one or the other"):
        train_deep_feature_classifier(trained.model_path, dataset["train"], tmp_path / "x",
                                      per_segment=True, combine_classic=True)


@pytest.mark.slow
def test_a_per_segment_classifier_is_a_predictor(trained, dataset, test_files, tmp_path):
    result = train_deep_feature_classifier(trained.model_path, dataset["train"],
                                           tmp_path / "probe", layer="conv",
                                           classifier_type="logistic", per_segment=True)
    classifier = DeepFeatureClassifier.load(result.model_path)
    assert isinstance(classifier, Predictor) and classifier.plan == load_model(
        trained.model_path).plan
    old = list(classify_files_deep(test_files, classifier))
    new = list(classify_files(test_files, classifier))
    assert [r.path for r in new] == [r.path for r in old]
    assert [r.class_name for r in new] == [r.class_name for r in old]
    np.testing.assert_allclose(np.stack([r.posteriors for r in new]),
                               np.stack([r.posteriors for r in old]), rtol=1e-4, atol=1e-6)
    assert all(len(r.segments) == 4 for r in new)  # 1.2 s files: 4 segments each
    segments = embed_file(test_files[0], trained.model_path, layer="conv").segments
    np.testing.assert_allclose(new[0].segment_posteriors,
                               classifier.predict_proba(segments), rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_a_per_file_classifier_classifies_segments(deep_svm, test_files):
    classifier = DeepFeatureClassifier.load(deep_svm.model_path)
    assert isinstance(classifier, Predictor) and not classifier.per_segment
    old = list(classify_files_deep(test_files, classifier))
    new = list(classify_files(test_files, classifier))
    # a file's posterior is the mean of its segments' here, of its mean embedding there
    agree = np.mean([a.class_index == b.class_index for a, b in zip(old, new)])
    assert agree >= 0.8 and accuracy(new, test_files) >= 0.8
    assert all(r.segment_posteriors.shape == (len(r.segments), 3) for r in new)


@pytest.mark.slow
def test_deep_feature_classifier_save_and_load_round_trip(deep_svm, test_files, tmp_path):
    classifier = DeepFeatureClassifier.load(deep_svm.model_path)
    assert classifier.path == deep_svm.model_path and classifier.layer == "linear1"
    assert classifier.classifier_type == "svm" and len(classifier.feature_names) == 32
    assert classifier.cnn_path == str(classifier.cnn.path.resolve())
    assert classifier.training["cv_macro_f1"] == pytest.approx(deep_svm.macro_f1)
    assert classifier.training["parameter"]["name"] == "C"
    copy_path = classifier.save(tmp_path / "copy.skops")
    assert classifier.path == copy_path
    original, copied = load_classic_model(deep_svm.model_path), load_classic_model(copy_path)
    assert set(copied) == set(original)
    assert copied["deep_features"] == original["deep_features"]
    again = DeepFeatureClassifier.load(copy_path)
    for name in ("class_names", "layer", "combine_classic", "windows", "per_segment",
                 "classifier_type", "feature_names", "cnn_path", "signature", "training"):
        assert getattr(again, name) == getattr(classifier, name), name
    features = np.stack([embed_file(path, classifier.cnn, layer="linear1").embedding
                         for path in test_files[:4]])
    np.testing.assert_array_equal(again.predict_proba(features),
                                  classifier.predict_proba(features))
    assert [p.posteriors.tolist() for p in classify_files_deep(test_files[:4], again)] == [
        p.posteriors.tolist() for p in classify_files_deep(test_files[:4], classifier)]


def test_grouped_folds_keep_each_files_segments_together(monkeypatch):
    from deep_audio.classic import training

    seen = []
    real_split = training.StratifiedGroupKFold.split

    def recording_split(self, features, labels, groups):
        for train, test in real_split(self, features, labels, groups):
            seen.append((set(groups[train]), set(groups[test])))
            yield train, test

    monkeypatch.setattr(training.StratifiedGroupKFold, "split", recording_split)
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 5)  # 12 files of 5 segments
    labels = groups % 2
    features = rng.standard_normal((60, 3)) + labels[:, None]
    training.train_classifier(features, labels, ["a", "b"], "logistic", folds=3, seed=0,
                              groups=groups)
    assert seen and all(not (train & test) for train, test in seen)


@pytest.mark.slow
def test_a_cnn_that_embeds_differently_is_refused(deep_svm, model, test_files, tmp_path):
    changed = load_model(model.path)
    with torch.no_grad():
        changed.head.linear_layer1[1].weight.mul_(1.01)
    save_model(tmp_path / "retrained.pt", changed)
    with pytest.raises(ModelFileError, match="other weights"):
        load_deep_feature_classifier(deep_svm.model_path, cnn_model=tmp_path / "retrained.pt")
    with pytest.raises(ModelFileError, match="other weights"):
        DeepFeatureClassifier.load(deep_svm.model_path, cnn_model=tmp_path / "retrained.pt")
    other = Classifier.seed(small_config(n_mels=16), CLASSES)
    save_model(tmp_path / "other.pt", other)
    with pytest.raises(ModelFileError, match=r"front_end.n_mels is 16, was 32"):
        load_deep_feature_classifier(deep_svm.model_path, cnn_model=tmp_path / "other.pt")
    # the classic path refuses a deep-feature model instead of computing the wrong features
    with pytest.raises(ModelFileError, match="deep features"):
        classify_file(test_files[0], load_classic_model(deep_svm.model_path))


def test_extract_features_cli_writes_npz_and_csv(trained, dataset, tmp_path, capsys):
    npz, table = tmp_path / "features.npz", tmp_path / "features.csv"
    code = extract_features.main(["-m", str(trained.model_path), "-i",
                                  *map(str, dataset["test"]), "-o", str(npz), "--csv",
                                  str(table), "--layer", "conv", "--device", "cpu"])
    assert code == 0
    assert "18 files x 8 conv features" in capsys.readouterr().out
    with np.load(npz, allow_pickle=False) as data:
        assert data["features"].shape == (18, 8) and data["names"][0] == "conv_0"
        assert sorted(set(data["labels"])) == sorted(CLASSES) and str(data["layer"]) == "conv"
        assert str(data["model"]) == str(trained.model_path.resolve())
        assert len(data["files"]) == 18 and data["skipped"].shape == (0, 2)
    with open(table, newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0][:3] == ["file", "label", "conv_0"] and len(rows) == 19 and len(rows[1]) == 10


@pytest.mark.slow
def test_training_and_test_clis(trained, dataset, tmp_path, capsys):
    model_path = tmp_path / "cli_deep.skops"
    assert deep_feature_training.main([
        "-q", "-m", str(trained.model_path), "-i", *map(str, dataset["train"]), "-o",
        str(model_path), "--classifier", "svm", "--layer", "linear1"]) == 0
    out = capsys.readouterr().out
    assert "svm: C = " in out and f"saved {model_path}" in out
    files = sorted(dataset["test"][1].iterdir())[:2]
    assert deep_feature_test.main(["-m", str(model_path), "-i", *map(str, files)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("file\tclass\tprobability")
    assert [line.split("\t")[1] for line in lines[1:]] == ["high", "high"]
    # --segments: the classifier on each segment, the same rows as the predictor gives
    assert deep_feature_test.main(["-m", str(model_path), "-i", str(files[0]),
                                   "--segments", "--precision", "fp32"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"# {files[0]}: ") and lines[1].startswith("start_seconds")
    expected = next(classify_files([files[0]], DeepFeatureClassifier.load(model_path)))
    rows = [line.split("\t") for line in lines[2:]]
    assert len(rows) == len(expected.starts_seconds) >= 1
    assert np.allclose([[float(v) for v in row[4:]] for row in rows],
                       expected.segment_posteriors, atol=2e-3)


def test_cli_errors_are_one_line(trained, dataset, tmp_path, capsys):
    model = str(trained.model_path)
    assert extract_features.main(["-m", model, "-i", str(dataset["test"][0]), "-o",
                                  str(tmp_path / "x.npz"), "--layer", "linear9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: layer='linear9' is not one of conv") and err.count("\n") == 1
    assert extract_features.main(["-m", model, "-i", str(tmp_path / "missing"), "-o",
                                  str(tmp_path / "x.npz")]) == 2
    assert "missing" in capsys.readouterr().err
    assert extract_features.main(["-m", model, "-i", str(dataset["test"][0]), "-o",
                                  str(tmp_path / "x.txt")]) == 2
    assert "must end in .npz or .csv" in capsys.readouterr().err
    assert deep_feature_test.main(["-m", str(tmp_path / "none.skops"), "-i", "a.wav"]) == 2
    assert "does not exist" in capsys.readouterr().err
