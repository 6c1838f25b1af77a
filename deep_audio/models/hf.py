"""Hugging Face audio encoders as backbones (optional: ``pip install deep_audio[hf]``).

``--backbone hf -m SOURCE`` takes a local folder holding ``config.json`` and the weights
(``model.safetensors`` or ``pytorch_model.bin``) plus ``preprocessor_config.json``, or a
hub id (``MIT/ast-finetuned-audioset-10-10-0.4593``), downloaded by ``transformers`` only
then. The network is built with ``AutoModel`` (the encoder without any classification
head) and its input made by the model's own feature extractor (``AutoFeatureExtractor``):
AST's Kaldi filter bank with its AudioSet normalisation, wav2vec2 / HuBERT's waveform
normalisation. ``trust_remote_code`` is never set.

A deep_audio model file stores the encoder's config and the feature extractor's settings
as plain data (``settings()``), so it is rebuilt offline without the original folder.

Embeddings: ``pooled`` (the model's pooler output where it has one, AST's mean of its
two classification tokens; otherwise the mean over frames) and ``mean`` (the mean of
the last hidden states over frames); frame-level features are the last hidden states.
Feature blocks for freezing: the stem (everything before the transformer layers), then
each layer (the final LayerNorm goes with the last one).

The feature extractor runs on the CPU in numpy (AST: one filter bank per segment), so
it is outside the autograd graph and outside exports: these models export to neither
TorchScript nor ONNX as a whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deep_audio.config import FrontEndConfig
from deep_audio.errors import DeepAudioError, ModelFileError
from deep_audio.io.audio import printable
from deep_audio.models.backbones import Backbone

INSTALL_HINT = 'Hugging Face backbones need transformers: pip install "deep_audio[hf]"'


def _transformers():
    try:
        import transformers
    except ImportError:
        raise DeepAudioError(INSTALL_HINT) from None
    return transformers


class HFBackbone(Backbone):
    """A ``transformers`` audio encoder and its feature extractor as a backbone.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A base encoder (``AutoModel``), e.g. ``ASTModel``, ``Wav2Vec2Model``.
    extractor : transformers.FeatureExtractionMixin
        Its feature extractor; ``extractor.sampling_rate`` is the backbone's rate.
    source : str
        The folder or hub id it came from (recorded, never read again).

    Shapes: ``(batch, samples)`` float32 in; embeddings ``(batch, hidden_size)``.
    """

    name = "hf"
    default_layer = "pooled"
    spectrogram_features = False  # its feature extractor runs in numpy, inside embed

    def __init__(self, model: nn.Module, extractor: Any, source: str):
        super().__init__()
        self.model = model
        self.extractor = extractor
        self.source = source
        self.sample_rate = int(extractor.sampling_rate)
        self.hidden_size = int(model.config.hidden_size)
        self._layers_name, layers = _find_layers(model)
        self._layers = list(layers)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> HFBackbone:
        """An untrained encoder from :meth:`settings` (its weights come from the file)."""
        transformers = _transformers()
        config_values = dict(settings["model_config"])
        config = transformers.AutoConfig.for_model(config_values.pop("model_type"),
                                                   **config_values)
        model = transformers.AutoModel.from_config(config)
        return cls(model, _extractor_from_dict(settings["feature_extractor"]),
                   str(settings.get("source", "")))

    def settings(self) -> dict[str, Any]:
        return {"source": self.source, "model_config": self.model.config.to_dict(),
                "feature_extractor": self.extractor.to_dict()}

    def front_end_config(self) -> FrontEndConfig:
        """The rate, and AST's filter-bank framing (25 ms / 10 ms, Kaldi's 512-point FFT)
        or a waveform encoder's receptive field and stride."""
        n_mels = getattr(self.extractor, "num_mel_bins", None)
        if n_mels:
            return FrontEndConfig(sample_rate=self.sample_rate, window_seconds=0.025,
                                  hop_seconds=0.010, n_fft=512, n_mels=int(n_mels),
                                  f_min=20.0, f_max=None)
        config = self.model.config
        strides = getattr(config, "conv_stride", None) or [320]
        kernels = getattr(config, "conv_kernel", None) or [400]
        hop, field = 1, 1
        for kernel, stride in zip(kernels, strides):
            field += (kernel - 1) * hop
            hop *= stride
        return FrontEndConfig(sample_rate=self.sample_rate, window_seconds=field / self.sample_rate,
                              hop_seconds=hop / self.sample_rate,
                              n_fft=1 << (field - 1).bit_length(), n_mels=1, f_min=0.0,
                              f_max=None)

    def embedding_sizes(self) -> dict[str, int]:
        return {"pooled": self.hidden_size, "mean": self.hidden_size}

    def inputs(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        """The feature extractor's tensors for a ``(batch, samples)`` waveform, on its device."""
        rows = [row for row in waveform.detach().float().cpu().numpy()]
        # float32 whatever the autocast around: the extractor's filter bank ends in numpy
        with torch.autocast("cpu", enabled=False):
            features = self.extractor(rows, sampling_rate=self.sample_rate,
                                      return_tensors="pt")
        return {key: value.to(waveform.device) for key, value in features.items()
                if key in ("input_values", "input_features", "attention_mask")}

    def _outputs(self, waveform: torch.Tensor):
        return self.model(**self.inputs(waveform))

    def embed_features(self, waveform: torch.Tensor, layer: str) -> torch.Tensor:
        """From the waveform itself: the feature extractor runs inside (in numpy)."""
        if layer not in self.embedding_sizes():
            raise DeepAudioError(f"layer={layer!r} is not one of "
                                 f"{', '.join(self.embedding_sizes())}")
        outputs = self._outputs(waveform)
        pooled = getattr(outputs, "pooler_output", None)
        if layer == "pooled" and pooled is not None:
            return pooled
        return outputs.last_hidden_state.mean(dim=1)

    def _patch_grid(self) -> tuple[int, int] | None:
        """AST's patches per frequency and time (its hidden states hold them frequency-
        major after the class tokens); ``None`` for an encoder of waveform frames."""
        if not getattr(self.extractor, "num_mel_bins", None):
            return None
        config = self.model.config
        if not all(hasattr(config, name) for name in
                   ("patch_size", "frequency_stride", "time_stride", "max_length")):
            raise DeepAudioError(f"{type(self.model).__name__} has no time axis deep_audio "
                                 "knows in its hidden states: no frame-level features")
        return ((config.num_mel_bins - config.patch_size) // config.frequency_stride + 1,
                (config.max_length - config.patch_size) // config.time_stride + 1)

    @property
    def frame_seconds(self) -> float:
        """A hidden state's hop: a waveform encoder's stride (20 ms for wav2vec2), AST's
        patch stride (``time_stride`` frames of 10 ms)."""
        stride = 1 if self._patch_grid() is None else self.model.config.time_stride
        return stride * self.front_end_config().hop_seconds

    @property
    def frame_size(self) -> int:
        return self.hidden_size

    def frames_from_features(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> the last hidden states as time frames ``(batch,
        samples // frame_samples, hidden_size)``: AST's patches averaged over frequency;
        a waveform encoder's, the last repeated where its receptive field leaves the
        final frame short."""
        hidden = self._outputs(waveform).last_hidden_state
        grid = self._patch_grid()
        if grid is not None:
            hidden = hidden[:, -grid[0] * grid[1]:].unflatten(1, grid).mean(dim=1)
        n_frames = waveform.shape[-1] // round(self.frame_seconds * self.sample_rate)
        if hidden.shape[1] < n_frames:
            hidden = torch.cat([hidden, hidden[:, -1:].expand(
                -1, n_frames - hidden.shape[1], -1)], dim=1)
        return hidden[:, :n_frames]

    def blocks(self) -> list[list[nn.Module]]:
        tail = _modules_after(self.model, self._layers_name)
        stem = _stem(self.model, self._layers_name, skip={id(m) for m in tail})
        layers = [[layer] for layer in self._layers]
        layers[-1] = layers[-1] + tail
        return [stem] + layers

    def check_segment(self, segment_samples: int) -> None:
        frames = getattr(self.extractor, "max_length", None)
        if frames and getattr(self.extractor, "num_mel_bins", None):
            longest = (int(frames) - 1) * 0.010 + 0.025
            if segment_samples / self.sample_rate > longest + 1e-9:
                raise DeepAudioError(
                    f"segments of {segment_samples / self.sample_rate:g} s are longer than "
                    f"the {longest:.2f} s this model takes ({frames} frames); its feature "
                    "extractor would cut them: use segment_seconds <= "
                    f"{longest:.2f}")


def _find_layers(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The transformer layer list (``...layers`` or ``...layer``) of an encoder."""
    found = [(name, module) for name, module in model.named_modules()
             if isinstance(module, nn.ModuleList) and name.split(".")[-1] in ("layers", "layer")]
    if not found:
        raise DeepAudioError(f"{type(model).__name__} has no list of transformer layers "
                             "(a module named 'layers' or 'layer'); not supported as a backbone")
    return max(found, key=lambda item: len(item[1]))


def _stem(model: nn.Module, layers_name: str, *, skip: set[int]) -> list[nn.Module]:
    """The largest modules that hold neither the layer list nor anything in ``skip``:
    the feature encoder, embeddings, positional convolution... (parameters registered
    directly on an ancestor of the layers, such as wav2vec2's mask embedding, are left out)."""
    stem: list[nn.Module] = []

    def visit(module: nn.Module, prefix: str) -> None:
        for name, child in module.named_children():
            full = f"{prefix}{name}"
            if full == layers_name or id(child) in skip:
                continue
            if layers_name.startswith(full + "."):
                visit(child, full + ".")
            elif any(True for _ in child.parameters()):
                stem.append(child)

    visit(model, "")
    return stem


def _modules_after(model: nn.Module, layers_name: str) -> list[nn.Module]:
    """Modules registered after the layer list in its parent (AST's final LayerNorm)."""
    parent_name, _, child = layers_name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    names = [name for name, _ in parent.named_children()]
    return [getattr(parent, name) for name in names[names.index(child) + 1:]
            if any(True for _ in getattr(parent, name).parameters())]


def _extractor_from_dict(values: Mapping[str, Any]) -> Any:
    """A feature extractor of a class ``transformers`` itself defines, from its settings."""
    transformers = _transformers()
    name = str(values.get("feature_extractor_type", ""))
    cls = getattr(transformers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, transformers.FeatureExtractionMixin)):
        raise ModelFileError(f"feature extractor {name!r} is not one of transformers' own")
    return cls.from_dict(dict(values))


def load_hf(source: str | os.PathLike) -> HFBackbone:
    """An encoder and its feature extractor from a local folder, or a hub id.

    A path that exists is read with ``local_files_only=True`` (nothing is downloaded);
    anything else is taken as a hub id and downloaded by ``transformers`` (refused when
    ``HF_HUB_OFFLINE=1``).

    Raises
    ------
    ModelFileError
        The folder or id holds no loadable model, or no feature extractor.
    """
    transformers = _transformers()
    text = str(source)
    local = Path(text).exists()
    if not local and (text.startswith((".", "/", "~")) or text.count("/") > 1
                      or text.endswith((".pt", ".pth", ".bin", ".safetensors"))):
        raise ModelFileError(f"'{printable(text)}' does not exist; expected a Hugging Face "
                             "model folder (config.json, weights, preprocessor_config.json) "
                             "or a hub id such as MIT/ast-finetuned-audioset-10-10-0.4593")
    if local and not Path(text).is_dir():
        raise ModelFileError(f"'{printable(text)}' is a file; --backbone hf expects a model "
                             "folder (config.json, weights, preprocessor_config.json)")
    options = {"local_files_only": True} if local else {}
    what = "folder" if local else "hub id"
    try:
        model = transformers.AutoModel.from_pretrained(text, trust_remote_code=False, **options)
    except (OSError, ValueError, KeyError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelFileError(f"Hugging Face {what} '{printable(text)}' holds no loadable "
                             f"model: {first}") from None
    try:
        extractor = transformers.AutoFeatureExtractor.from_pretrained(
            text, trust_remote_code=False, **options)
    except (OSError, ValueError, KeyError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelFileError(f"Hugging Face {what} '{printable(text)}' has no feature "
                             f"extractor (preprocessor_config.json): {first}") from None
    if not hasattr(extractor, "sampling_rate"):
        raise ModelFileError(f"the feature extractor of '{printable(text)}' has no sampling "
                             "rate; not an audio model")
    return HFBackbone(model, extractor, text).eval()
