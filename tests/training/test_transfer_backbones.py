"""The toolkit on a pretrained backbone: transfer learning, model files, classification,
embeddings, deep-feature classifiers and the command-line flags, with a CNN14 of random
weights saved as the published checkpoints are (the real files cannot be downloaded here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deep_audio.bin import deep_feature_training, extract_features
from deep_audio.bin import transfer_learning as tl
from deep_audio.errors import ConfigError
from deep_audio.io.model_files import load_model
from deep_audio.models import Classifier
from deep_audio.models.panns import VARIANTS, Cnn14
from deep_audio.predict import classify_files
from deep_audio.predict.deep_features import DeepFeatureClassifier
from deep_audio.predict.embeddings import embed_file
from tests.conftest import write_class_folders

pytestmark = pytest.mark.slow  # every test here takes more than ~2 s

# min_steps=0: one epoch, not the few-shot schedule's 300 steps of CNN14 (these tests
# check the wiring, not what a head learns).
SETTINGS = dict(segment_seconds=1.0, segment_hop_seconds=1.0, epochs=1, min_epochs=1,
                min_steps=0, batch_size=4, device="cpu", precision="fp32", cache_dir="none")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A CNN14 (16 kHz) with random weights, saved as ``{"model": state_dict}``."""
    torch.manual_seed(0)
    network = Cnn14(VARIANTS["panns_cnn14_16k"])
    path = tmp_path_factory.mktemp("ckpt") / "Cnn14_16k_random.pth"
    torch.save({"model": network.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    low, high, _ = write_class_folders(tmp_path_factory.mktemp("task"), files_per_class=4,
                                       seconds=1.2)
    return [low, high]


@pytest.fixture(scope="module")
def transferred(checkpoint, folders, tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    return tl.transfer_learning(str(checkpoint), folders, strategy=0,
                                backbone="panns_cnn14_16k", output=models / "cnn14_task",
                                progress=False, models_dir=str(models), **SETTINGS)


def test_strategy_0_keeps_the_conv_blocks_and_trains_the_head(checkpoint, transferred):
    source = torch.load(checkpoint, weights_only=True)["model"]
    model = load_model(transferred.model_path)
    assert isinstance(model, Classifier)
    assert model.class_names == ["low", "high"] and model.head.output.out_features == 2
    state = model.state_dict()
    for key in source:
        if key.startswith(("conv_block", "bn0.")):  # weights and BatchNorm statistics
            assert torch.equal(state[f"backbone.network.{key}"], source[key]), key
    assert not torch.equal(state["backbone.network.fc1.weight"], source["fc1.weight"])
    assert "backbone.network.fc_audioset.weight" not in state
    provenance = model.metadata["transfer"]
    assert provenance["backbone"] == "panns_cnn14_16k" and provenance["layers_frozen"] == 6
    assert model.config.front_end.sample_rate == 16000 and model.config.front_end.f_min == 50


def test_transferred_model_classifies_files_and_segments(transferred, folders):
    files = sorted(folders[0].iterdir())[:2]
    results = list(classify_files(files, transferred.model_path))
    assert [r.path for r in results] == files
    for result in results:
        assert result.segment_posteriors.shape == (2, 2)  # 1.2 s: segments at 0 and 0.2 s
        np.testing.assert_allclose(result.segment_posteriors.sum(axis=1), 1.0, rtol=1e-5)


def test_layers_frozen_counts_blocks_then_fc1(checkpoint, folders, tmp_path):
    result = tl.transfer_learning(checkpoint, folders, layers_frozen=7,
                                  backbone="panns_cnn14_16k", output=tmp_path / "probe",
                                  progress=False, **SETTINGS)
    model = load_model(result.model_path)
    source = torch.load(checkpoint, weights_only=True)["model"]
    assert torch.equal(model.state_dict()["backbone.network.fc1.weight"], source["fc1.weight"])
    assert model.metadata["transfer"]["trainable_parameters"] == 2048 * 2 + 2


def test_front_end_settings_of_a_backbone_cannot_be_changed(checkpoint, folders, tmp_path):
    with pytest.raises(ConfigError, match="n_mels=128 cannot be used.*panns_cnn14_16k.*64"):
        tl.transfer_learning(checkpoint, folders, backbone="panns_cnn14_16k", n_mels=128,
                             output=tmp_path / "x", progress=False, **SETTINGS)


def test_extract_features_cli_with_backbone(checkpoint, folders, tmp_path, capsys):
    output = tmp_path / "emb.npz"
    status = extract_features.main(["-m", str(checkpoint), "--backbone", "panns_cnn14_16k",
                                    "-i", *map(str, folders), "-o", str(output),
                                    "--precision", "fp32",
                                    "--set", "segment_seconds=1.0",
                                    "--set", "segment_hop_seconds=1.0"])
    assert status == 0
    data = np.load(output, allow_pickle=False)
    assert data["features"].shape == (8, 2048) and str(data["layer"]) == "linear1"
    # the same numbers as embedding one file directly
    model = load_model(checkpoint, backbone="panns_cnn14_16k")
    first = embed_file(data["files"][0], model, layer="linear1")
    np.testing.assert_allclose(data["features"][0], first.embedding, rtol=1e-5, atol=1e-6)


def test_deep_feature_classifier_on_a_backbone_reloads_it(checkpoint, folders, tmp_path):
    status = deep_feature_training.main([
        "-m", str(checkpoint), "--backbone", "panns_cnn14_16k", "-i", *map(str, folders),
        "-o", str(tmp_path / "probe.skops"), "--classifier", "logistic", "--cv-folds", "2",
        "--precision", "fp32",
        "--set", "segment_seconds=1.0", "--set", "segment_hop_seconds=1.0"])
    assert status == 0
    classifier = DeepFeatureClassifier.load(tmp_path / "probe.skops")
    assert isinstance(classifier.cnn, Classifier)
    assert classifier.layer == "linear1" and classifier.plan.sample_rate == 16000
    (result,) = classify_files([sorted(folders[1].iterdir())[0]], classifier)
    assert result.posteriors.shape == (2,)


def test_unknown_backbone_is_refused(checkpoint, folders):
    with pytest.raises(Exception, match="backbone='vggish' is not one of seed_cnn"):
        tl.transfer_learning(checkpoint, folders, backbone="vggish")


def test_long_recording_on_a_backbone_model_matches_classify_files(transferred, folders,
                                                                   tmp_path):
    """A recording read in blocks gives the segment posteriors of classify_files."""
    import soundfile

    from deep_audio.predict import segment_recording

    parts = [soundfile.read(path, dtype="float32") for path in sorted(folders[0].iterdir())[:3]]
    rate = 16000
    import soxr

    waveform = np.concatenate([soxr.resample(x, r, rate) for x, r in parts])
    recording = tmp_path / "long.wav"
    soundfile.write(recording, waveform, rate)
    segmentation = segment_recording(recording, transferred.model_path,
                                     read_block_seconds=1.5, smoothing_segments=1)
    (whole,) = classify_files([recording], transferred.model_path)
    assert segmentation.class_names == ["low", "high"]
    np.testing.assert_allclose(segmentation.posteriors, whole.segment_posteriors,
                               rtol=1e-4, atol=1e-5)


def test_torchscript_export_of_a_cnn14_model(transferred, tmp_path):
    """The whole model, CNN14 front end included, traces; the copy computes the same."""
    from deep_audio import export

    model = load_model(transferred.model_path)
    path = export.to_torchscript(model, tmp_path / "cnn14_task.ts")
    check = export.verify(model, path)
    assert check.same_decisions and check.max_logit_difference < 1e-4
    assert export.read_torchscript_metadata(path)["deep_audio.sample_rate"] == "16000"


def test_frame_detection_by_transfer_from_cnn14(checkpoint, tmp_path):
    """A strong manifest on a CNN14 source: a frame detector on its decision-level frames
    (320 ms), conv blocks frozen, whose model file gives frames on a recording."""
    import soundfile

    from deep_audio.models.heads import FrameHead
    from deep_audio.predict import segment_recording
    from deep_audio.tasks import FrameDetection

    rate, rng = 16000, np.random.default_rng(0)
    rows = ["path,labels,onset,offset"]
    for i in range(6):
        clip = 0.05 * rng.standard_normal(int(3.2 * rate)).astype(np.float32)
        onset = 0.32 * (1 + i % 4)
        time = np.arange(int(0.64 * rate)) / rate
        clip[int(onset * rate):int(onset * rate) + len(time)] += 0.5 * np.sin(
            2 * np.pi * (600 if i % 2 else 2000) * time)
        soundfile.write(tmp_path / f"clip{i}.wav", clip, rate)
        rows.append(f"clip{i}.wav,{'low' if i % 2 else 'high'},{onset:.2f},{onset + 0.64:.2f}")
    (tmp_path / "events.csv").write_text("\n".join(rows) + "\n")
    result = tl.transfer_learning(
        str(checkpoint), manifest=tmp_path / "events.csv", strategy=0,
        backbone="panns_cnn14_16k", output=tmp_path / "frames", progress=False,
        models_dir=str(tmp_path), **{**SETTINGS, "segment_seconds": 3.2,
                                     "segment_hop_seconds": 3.2, "min_steps": 2})
    model = load_model(result.model_path)
    assert isinstance(model.task, FrameDetection) and model.task.frame_seconds == 0.32
    assert isinstance(model.head, FrameHead) and model.head.in_features == 2048
    source = torch.load(checkpoint, weights_only=True)["model"]
    state = model.state_dict()
    for key in source:
        if key.startswith(("conv_block", "bn0.")):  # frozen: weights and BatchNorm
            assert torch.equal(state[f"backbone.network.{key}"], source[key]), key
    with torch.no_grad():
        assert model(torch.zeros(2, int(3.2 * rate))).shape == (2, 10, 2)
    found = segment_recording(tmp_path / "clip0.wav", result.model_path)
    assert found.posteriors.shape == (10, 2)  # frames of the 3.2 s clip
    np.testing.assert_allclose(np.diff(found.starts_seconds), 0.32)
