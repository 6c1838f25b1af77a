"""PANNs CNN14 backbones: parity with the reference implementation, and checkpoint errors.

The reference (``panns_inference``, with ``torchlibrosa``) is built with random weights
and saved the way the published checkpoints are (``torch.save({"model": state_dict})``);
deep_audio's network, written from the paper, loads that file and must give the same
embeddings and AudioSet outputs on the same audio. The reference's config module
downloads a labels CSV when imported: the test gives it a local stub in a temporary HOME.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import torch

from deep_audio.errors import DeepAudioError, ModelFileError
from deep_audio.models import Classifier
from deep_audio.models.registry import load_backbone_model
from deep_audio.models.panns import VARIANTS, Cnn14, load_cnn14, load_panns_checkpoint

pytestmark = pytest.mark.slow  # every test here takes more than ~2 s

# Measured on random weights (float32, CPU): embeddings and clip outputs agree to about
# 1e-6 relative; the tolerance leaves room for other BLAS/FFT kernels.
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(scope="module")
def reference_models(tmp_path_factory):
    """The reference package's ``models`` module, imported without network access."""
    for package in ("torchlibrosa", "panns_inference"):
        pytest.importorskip(package, reason=f"the reference needs {package} "
                                            "(pip install -e '.[test]')")
    home = tmp_path_factory.mktemp("home")
    labels = home / "panns_data" / "class_labels_indices.csv"
    labels.parent.mkdir(parents=True)
    labels.write_text("index,mid,display_name\n" + "".join(
        f'{i},/m/{i:05d},"class {i}"\n' for i in range(527)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        for name in [n for n in sys.modules if n.startswith("panns_inference")]:
            patch.delitem(sys.modules, name)
        yield importlib.import_module("panns_inference.models")


REFERENCE_ARGS = {"panns_cnn14": dict(sample_rate=32000, window_size=1024, hop_size=320,
                                      mel_bins=64, fmin=50, fmax=14000, classes_num=527),
                  "panns_cnn14_16k": dict(sample_rate=16000, window_size=512, hop_size=160,
                                          mel_bins=64, fmin=50, fmax=8000, classes_num=527)}


def published_checkpoint(reference_models, name, path, *, seed=0):
    """A reference CNN14 with random weights (and random BatchNorm statistics, so that
    they matter), saved as the published files are; returns the reference model."""
    torch.manual_seed(seed)
    model = reference_models.Cnn14(**REFERENCE_ARGS[name])
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    model.eval()
    torch.save({"model": model.state_dict(), "iteration": 0}, path)
    return model


def audio(sample_rate, seconds=2.0, batch=3, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tones = np.stack([0.3 * np.sin(2 * np.pi * f * t) for f in (220.0, 1000.0, 3150.0)])
    return torch.from_numpy((tones[:batch] + 0.05 * rng.standard_normal(tones[:batch].shape))
                            .astype(np.float32))


@pytest.mark.parametrize("name", ["panns_cnn14_16k", "panns_cnn14"])
def test_cnn14_equals_reference(reference_models, name, tmp_path):
    path = tmp_path / f"{name}.pth"
    reference = published_checkpoint(reference_models, name, path)
    ours = load_cnn14(path, name)
    waveform = audio(VARIANTS[name].sample_rate)
    with torch.no_grad():
        expected = reference(waveform)
        clipwise, embedding = ours(waveform)
    assert embedding.abs().max() > 0.1  # not a vacuous comparison of zeros
    torch.testing.assert_close(embedding, expected["embedding"], rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(clipwise, expected["clipwise_output"], rtol=RTOL, atol=ATOL)
    # the front end alone: log-mel of the reference's torchlibrosa layers
    with torch.no_grad():
        reference_log_mel = reference.logmel_extractor(reference.spectrogram_extractor(waveform))
        torch.testing.assert_close(ours.log_mel(waveform), reference_log_mel,
                                   rtol=RTOL, atol=1e-3)


def test_decision_level_cnn14_equals_reference(reference_models, tmp_path):
    """Cnn14_DecisionLevelMax (32 kHz): clip tags and frame tags, on 2.5 s (251 frames,
    not a multiple of 32, so the padding of the frame tags is compared too)."""
    path = tmp_path / "Cnn14_DecisionLevelMax.pth"
    torch.manual_seed(2)
    reference = reference_models.Cnn14_DecisionLevelMax(**REFERENCE_ARGS["panns_cnn14"]).eval()
    torch.save({"model": reference.state_dict()}, path)
    ours = load_cnn14(path, "panns_cnn14", decision_level=True)
    waveform = audio(32000, seconds=2.5)
    with torch.no_grad():
        expected = reference(waveform)
        clipwise, framewise = ours(waveform)
    assert framewise.shape == expected["framewise_output"].shape == (3, 251, 527)
    torch.testing.assert_close(clipwise, expected["clipwise_output"], rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(framewise, expected["framewise_output"], rtol=RTOL, atol=ATOL)


def test_backbone_embedding_and_frames(reference_models, tmp_path):
    path = tmp_path / "cnn14_16k.pth"
    reference = published_checkpoint(reference_models, "panns_cnn14_16k", path, seed=3)
    model = load_backbone_model("panns_cnn14_16k", path)
    waveform = audio(16000, seconds=1.0)
    with torch.no_grad():
        expected = reference(waveform)["embedding"]
        torch.testing.assert_close(model.embed(waveform, "linear1"), expected,
                                   rtol=RTOL, atol=ATOL)
        frames = model.backbone.frames(waveform)
    assert frames.shape == (3, 101 // 32, 2048)
    assert model.config.front_end.sample_rate == 16000
    assert model.plan.sample_rate == 16000
    with pytest.raises(DeepAudioError, match="no head"):
        model(waveform)


def test_wrong_checkpoints_get_one_line_errors(reference_models, tmp_path):
    cnn14_32k = tmp_path / "Cnn14_mAP=0.431.pth"
    published_checkpoint(reference_models, "panns_cnn14", cnn14_32k)
    with pytest.raises(ModelFileError, match=r"Cnn14_mAP=0\.431\.pth.*16000 Hz.*mel bank") as error:
        load_panns_checkpoint(cnn14_32k, "panns_cnn14_16k")
    assert "\n" not in str(error.value)

    with pytest.raises(ModelFileError, match="does not exist; expected a PANNs CNN14"):
        load_panns_checkpoint(tmp_path / "missing.pth", "panns_cnn14")

    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(cnn14_32k.read_bytes()[:100_000])
    with pytest.raises(ModelFileError, match=r"truncated\.pth' cannot be read as a PANNs"):
        load_panns_checkpoint(truncated, "panns_cnn14")

    other = tmp_path / "other.pth"
    torch.save({"model": {"conv.weight": torch.zeros(3, 3)}}, other)
    with pytest.raises(ModelFileError, match="lacks .* CNN14's weights.*another architecture"):
        load_panns_checkpoint(other, "panns_cnn14")

    bare = tmp_path / "bare.pth"
    torch.save(torch.load(cnn14_32k, weights_only=True)["model"], bare)
    with pytest.raises(ModelFileError, match="no 'model' entry"):
        load_panns_checkpoint(bare, "panns_cnn14")

    pickled = tmp_path / "pickled.pth"
    torch.save({"model": {}, "extra": ModelFileError("x")}, pickled)
    with pytest.raises(ModelFileError, match="Python objects .*ModelFileError"):
        load_panns_checkpoint(pickled, "panns_cnn14")


def test_numpy_extras_in_a_checkpoint_load_as_data(tmp_path):
    """Training-time extras (a sampler's numpy state) do not stop a weights_only load."""
    network = Cnn14(VARIANTS["panns_cnn14_16k"])
    path = tmp_path / "with_sampler.pth"
    torch.save({"model": network.state_dict(),
                "sampler": {"indexes": np.arange(5),
                            "random_state": np.random.RandomState(0).get_state()}}, path)
    backbone = load_panns_checkpoint(path, "panns_cnn14_16k")
    torch.testing.assert_close(backbone.network.fc1.weight, network.fc1.weight)


def test_short_segments_are_refused(tmp_path):
    network = Cnn14(VARIANTS["panns_cnn14_16k"])
    path = tmp_path / "c.pth"
    torch.save({"model": network.state_dict()}, path)
    from deep_audio.config import load_config

    with pytest.raises(DeepAudioError, match="needs at least 32"):
        load_backbone_model("panns_cnn14_16k", path,
                            config=load_config(segment_seconds=0.1))
    assert isinstance(load_backbone_model("panns_cnn14_16k", path), Classifier)
