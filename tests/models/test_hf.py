"""Hugging Face backbones, offline: tiny randomly initialised AST and wav2vec2 models saved
to a temporary folder with ``save_pretrained``; deep_audio's embeddings must equal what
the ``transformers`` model itself gives for the same input."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers reads it

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers",
                                   reason="needs transformers (pip install -e '.[hf]')")

from deep_audio.config import load_config  # noqa: E402
from deep_audio.errors import DeepAudioError, ModelFileError  # noqa: E402
from deep_audio.io.model_files import load_model, save_model  # noqa: E402
from deep_audio.models import Classifier, Head  # noqa: E402
from deep_audio.models.registry import load_backbone_model  # noqa: E402

AST_FRAMES = 110  # 1.1 s of 10 ms frames


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny_ast(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_ast")
    torch.manual_seed(0)
    config = transformers.ASTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=64, max_length=AST_FRAMES,
                                    num_mel_bins=128)
    transformers.ASTModel(config).save_pretrained(folder)
    transformers.ASTFeatureExtractor(max_length=AST_FRAMES).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_wav2vec2")
    torch.manual_seed(0)
    config = transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    transformers.Wav2Vec2Model(config).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True
                                          ).save_pretrained(folder)
    return folder


def waveforms(seconds=1.0, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy((0.1 * rng.standard_normal((batch, int(16000 * seconds))))
                            .astype(np.float32))


def reference_outputs(folder, waveform):
    model = transformers.AutoModel.from_pretrained(folder).eval()
    extractor = transformers.AutoFeatureExtractor.from_pretrained(folder)
    inputs = extractor(list(waveform.numpy()), sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        return model(**inputs)


def test_ast_embedding_equals_transformers(tiny_ast):
    model = load_backbone_model("hf", tiny_ast, config=load_config(segment_seconds=1.0))
    waveform = waveforms()
    expected = reference_outputs(tiny_ast, waveform)
    with torch.no_grad():
        pooled = model.embed(waveform, "pooled")
        mean = model.embed(waveform, "mean")
        frames = model.backbone.frames(waveform)
    assert model.config.front_end.sample_rate == 16000 and model.config.front_end.n_mels == 128
    torch.testing.assert_close(pooled, expected.pooler_output, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(mean, expected.last_hidden_state.mean(dim=1),
                               rtol=1e-5, atol=1e-6)
    # frames: the 12 x 10 patches (after the 2 class tokens) averaged over frequency,
    # one per 100 ms (time_stride 10 frames)
    patches = expected.last_hidden_state[:, 2:].reshape(3, 12, 10, 32)
    torch.testing.assert_close(frames, patches.mean(dim=1), rtol=1e-5, atol=1e-6)
    assert model.backbone.frame_seconds == pytest.approx(0.1)
    assert pooled.std() > 0.01


def test_wav2vec2_embedding_equals_transformers(tiny_wav2vec2):
    model = load_backbone_model("hf", tiny_wav2vec2, config=load_config(segment_seconds=1.0))
    waveform = waveforms()
    expected = reference_outputs(tiny_wav2vec2, waveform)
    with torch.no_grad():
        torch.testing.assert_close(model.embed(waveform, "pooled"),
                                   expected.last_hidden_state.mean(dim=1),
                                   rtol=1e-5, atol=1e-6)
        frames = model.backbone.frames(waveform)
    assert [len(block) for block in model.backbone.blocks()][1:] == [1, 1]
    # a hidden state per 20 samples (strides 5 x 4); the receptive field leaves 798 of
    # the 800 frames of 1 s, the last is repeated
    assert model.backbone.frame_seconds == pytest.approx(20 / 16000)
    assert expected.last_hidden_state.shape[1] == 798 and frames.shape == (3, 800, 32)
    torch.testing.assert_close(frames[:, :798], expected.last_hidden_state, rtol=1e-5,
                               atol=1e-6)
    assert torch.equal(frames[:, 798], frames[:, 797])


def test_model_file_rebuilds_without_the_folder(tiny_ast, tmp_path):
    source = load_backbone_model("hf", tiny_ast, config=load_config(segment_seconds=1.0))
    model = Classifier(source.config, ["a", "b"], source.backbone,
                       Head(source.backbone.head_input_size, 2))
    torch.nn.init.normal_(model.head.output.weight)
    path = save_model(tmp_path / "ast_head.pt", model)
    for file in tiny_ast.iterdir():  # the folder is not needed any more
        os.rename(file, tmp_path / file.name)
    try:
        loaded = load_model(path)
    finally:
        for file in tmp_path.iterdir():
            if file.suffix in (".json", ".safetensors"):
                os.rename(file, tiny_ast / file.name)
    waveform = waveforms(seed=5)
    with torch.no_grad():
        torch.testing.assert_close(loaded(waveform), model.eval()(waveform))
    assert loaded.backbone.settings()["model_config"]["hidden_size"] == 32


def test_strategies_freeze_the_same_units(tiny_ast):
    from deep_audio.training.transfer import frozen_layers_for, transfer_model

    source = load_backbone_model("hf", tiny_ast, config=load_config(segment_seconds=1.0))
    assert source.n_blocks == 3  # stem, two transformer layers

    def trainable(strategy):
        model = transfer_model(source, ["a", "b"],
                               layers_frozen=frozen_layers_for(strategy, 3))
        # "backbone.model.layers.1.mlp.fc1.weight" -> "1"; "backbone.model.layernorm.bias"
        # -> "layernorm"; "head.linear_layer1.0.weight" -> "head"
        parts = [name.split(".") for name, p in model.named_parameters() if p.requires_grad]
        return {p[0] if p[0] == "head" else p[3] if p[2] == "layers" else p[2] for p in parts}

    assert trainable(0) == {"head"}
    assert trainable(1) == {"1", "layernorm", "head"}  # the last layer and the final norm
    assert trainable(2) == {"embeddings", "0", "1", "layernorm", "head"}


def test_segments_longer_than_the_model_takes_are_refused(tiny_ast):
    with pytest.raises(DeepAudioError, match=r"longer than the 1\.11 s"):
        load_backbone_model("hf", tiny_ast, config=load_config(segment_seconds=2.0))


def test_missing_or_wrong_sources(tmp_path, tiny_ast):
    with pytest.raises(ModelFileError, match="'./no_such_model' does not exist"):
        load_backbone_model("hf", "./no_such_model")
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"x")
    with pytest.raises(ModelFileError, match="is a file; --backbone hf expects a model folder"):
        load_backbone_model("hf", weights)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFileError, match="folder '.*empty' holds no loadable model"):
        load_backbone_model("hf", empty)
    no_extractor = tmp_path / "no_extractor"
    no_extractor.mkdir()
    for name in ("config.json", "model.safetensors"):
        (no_extractor / name).write_bytes((tiny_ast / name).read_bytes())
    with pytest.raises(ModelFileError, match="has no feature extractor"):
        load_backbone_model("hf", no_extractor)


def test_transfer_learning_on_a_hugging_face_folder(tiny_ast, tmp_path):
    from deep_audio.bin import transfer_learning as tl
    from tests.conftest import write_class_folders

    low, high, _ = write_class_folders(tmp_path / "task", files_per_class=3, seconds=1.2)
    result = tl.transfer_learning(str(tiny_ast), [low, high], strategy=1, backbone="hf",
                                  output=tmp_path / "ast_task", progress=False,
                                  segment_seconds=1.0, segment_hop_seconds=1.0, epochs=2,
                                  min_epochs=1, batch_size=4, device="cpu", precision="fp32",
                                  cache_dir="none")
    model = load_model(result.model_path)
    source = transformers.AutoModel.from_pretrained(tiny_ast).state_dict()
    state = model.state_dict()
    for key, value in source.items():
        unchanged = torch.equal(state[f"backbone.model.{key}"], value)
        if key.startswith(("embeddings.", "layers.0.")):
            assert unchanged, f"{key} is frozen by strategy 1 but changed"
    assert not torch.equal(state["backbone.model.layers.1.mlp.fc1.weight"],
                           source["layers.1.mlp.fc1.weight"])
    assert model.metadata["transfer"]["layers_frozen"] == 2
    from deep_audio.predict import classify_files

    (prediction,) = classify_files([sorted(high.iterdir())[0]], model)
    assert prediction.posteriors.shape == (2,)


def test_frame_detection_by_transfer_on_a_hugging_face_folder(tiny_ast, tmp_path):
    import soundfile

    from deep_audio.bin import transfer_learning as tl
    from deep_audio.models.heads import FrameHead
    from deep_audio.tasks import FrameDetection

    rng = np.random.default_rng(0)
    rows = ["path,labels,onset,offset"]
    for i in range(6):
        clip = 0.05 * rng.standard_normal(16000).astype(np.float32)
        clip[3200:6400] += 0.5 * np.sin(2 * np.pi * (600 if i % 2 else 2000)
                                        * np.arange(3200) / 16000)
        soundfile.write(tmp_path / f"clip{i}.wav", clip, 16000)
        rows.append(f"clip{i}.wav,{'low' if i % 2 else 'high'},0.2,0.4")
    (tmp_path / "events.csv").write_text("\n".join(rows) + "\n")
    result = tl.transfer_learning(str(tiny_ast), manifest=tmp_path / "events.csv",
                                  strategy=0, backbone="hf", output=tmp_path / "ast_frames",
                                  progress=False, segment_seconds=1.0, segment_hop_seconds=1.0,
                                  epochs=2, min_epochs=1, min_steps=2, batch_size=4,
                                  device="cpu", precision="fp32", cache_dir="none")
    model = load_model(result.model_path)
    assert isinstance(model.task, FrameDetection)
    assert model.task.frame_seconds == pytest.approx(0.1)
    assert isinstance(model.head, FrameHead) and model.head.in_features == 32
    with torch.no_grad():
        assert model(waveforms()).shape == (3, 10, 2)


def test_export_refuses_a_hugging_face_backbone(tiny_ast, tmp_path):
    from deep_audio import export
    from deep_audio.errors import ExportError

    source = load_backbone_model("hf", tiny_ast, config=load_config(segment_seconds=1.0))
    model = Classifier(source.config, ["a", "b"], source.backbone,
                       Head(source.backbone.head_input_size, 2))
    with pytest.raises(ExportError, match="feature extractor runs in numpy"):
        export.to_torchscript(model, tmp_path / "m.ts")
    assert not (tmp_path / "m.ts").exists()


def test_ast_embeds_under_bf16_autocast(tiny_ast):
    """precision=auto picks bf16 on CPUs that have it; the feature extractor stays float32."""
    model = load_backbone_model("hf", tiny_ast, config=load_config(segment_seconds=1.0))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        pooled = model.embed(waveforms(), "pooled")
    expected = reference_outputs(tiny_ast, waveforms()).pooler_output
    torch.testing.assert_close(pooled.float(), expected, rtol=0.05, atol=0.05)
