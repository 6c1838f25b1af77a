"""Deep features: a trained network's inner layer as an embedding of segments and files.

A file is cut into the model's segments exactly as for classification
(:mod:`deep_audio.predict.torch_predictor`), every segment goes through the network in eval
mode (Dropout off, BatchNorm running statistics) under ``torch.inference_mode``, and the
chosen layer's output is the segment's embedding. A file's embedding is the mean of its
segments' embeddings.

==========  ==================================================  =========================
layer       what                                                size (defaults)
==========  ==================================================  =========================
conv        last conv block's output, averaged over time and    ``conv_channels[-1]``
            frequency (global average pooling)                   (256)
linear1     first hidden linear layer, after its LeakyReLU      ``hidden_units[0]`` (1024)
linear2     second hidden linear layer, after its LeakyReLU     ``hidden_units[1]`` (256)
==========  ==================================================  =========================

A model with other ``hidden_units`` has ``linear1`` ... ``linearN``, one per hidden layer.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deep_audio.data.folders import class_folders
from deep_audio.device import autocast_dtype
from deep_audio.errors import DeepAudioError, ModelFileError
from deep_audio.io.audio import printable
from deep_audio.io.model_files import legacy_state_dict
from deep_audio.models import Classifier
from deep_audio.models.classifier import FEATURE_SECTIONS
from deep_audio.models.seed import POOLED_EMBEDDINGS
from deep_audio.predict.predictor import segmented_files, split_rows, stack_segments
from deep_audio.predict.torch_predictor import as_model, batched_outputs

logger = logging.getLogger(__name__)

DEFAULT_LAYER = "conv_bands_max"  # deep_audio's network, by default (see default_layer)


@dataclass
class FileEmbedding:
    """One file's embedding and its segments' embeddings.

    Attributes
    ----------
    path : Path
    embedding : np.ndarray, float32, shape (size,)
        Mean of ``segments`` over the segment axis.
    segments : np.ndarray, float32, shape (n_segments, size)
        One row per segment, in time order.
    starts_seconds, ends_seconds : np.ndarray, shape (n_segments,)
        Start and end of each segment in seconds (as in
        :class:`~deep_audio.predict.predictor.FileResult`).
    """

    path: Path
    embedding: np.ndarray
    segments: np.ndarray
    starts_seconds: np.ndarray
    ends_seconds: np.ndarray

    @property
    def segment_seconds(self) -> list[tuple[float, float]]:
        """``(start, end)`` of each segment in seconds."""
        return [(float(a), float(b)) for a, b in zip(self.starts_seconds, self.ends_seconds)]


def embedding_layers(model: Classifier) -> dict[str, int]:
    """Layer names a model embeds with and their sizes, e.g. ``{"conv": 256,
    "conv_bands": 2048, "conv_bands_max": 2048, "linear1": 1024, "linear2": 256}`` for
    the seed network;
    a model on a pretrained backbone has its backbone's (``conv`` and ``linear1`` of
    PANNs CNN14, ``pooled`` and ``mean`` of a Hugging Face encoder; see
    :mod:`deep_audio.models.backbones`)."""
    return model.embedding_sizes()


def default_layer(model: Classifier) -> str:
    """The layer embedded when none is named: what a new head sees in transfer learning.

    For deep_audio's network the last conv block pooled over time per channel and band
    (``conv_bands_max``; ``conv_bands`` with ``transfer.head_pooling: time_mean``): with
    the shipped general network a linear classifier on 5 clips per class separates the
    benchmark tasks better on it than on ``linear1`` (drums 0.546 vs 0.426, speakers
    0.936 vs 0.898; docs/transfer_benchmark.md). For a pretrained backbone, its head
    input (its published embedding).
    """
    if model.backbone.name == "seed_cnn":
        return POOLED_EMBEDDINGS[model.config.transfer.head_pooling]
    return model.backbone.default_layer


def embed_segments(model: Classifier, segments: np.ndarray, *,
                   layer: str | None = None, batch_size: int | None = None,
                   amp_dtype: torch.dtype | None = None) -> np.ndarray:
    """Embeddings of waveform segments, in batches on the model's device, in eval mode.

    Parameters
    ----------
    model : Classifier
        Left in eval mode.
    segments : np.ndarray, float32, shape (n_segments, segment_samples)
        Waveform segments at the model's sample rate.
    layer : str
        One of :func:`embedding_layers` (``conv``, ``linear1``, ...).
    batch_size : int, optional
        Segments per forward pass; default ``inference_batch_size`` of the model's config.
    amp_dtype : torch.dtype, optional
        Autocast dtype (see :func:`deep_audio.device.autocast_dtype`); ``None`` is fp32.

    Returns
    -------
    np.ndarray, float32, shape (n_segments, embedding_layers(model)[layer])

    Raises
    ------
    DeepAudioError
        ``layer`` is not a layer of the model; the message lists the valid ones.
    """
    layer = layer or default_layer(model)
    check_layer(model, layer)
    return batched_outputs(model, segments, lambda batch: model.embed(batch, layer),
                           batch_size=batch_size or model.config.inference.inference_batch_size,
                           amp_dtype=amp_dtype)


def embed_files(paths: Iterable[str | os.PathLike], model: Classifier | str | os.PathLike,
                *, layer: str | None = None, batch_size: int | None = None,
                precision: str = "fp32", skip_unreadable: bool = False,
                skipped: list[tuple[Path, str]] | None = None) -> Iterator[FileEmbedding]:
    """Embed many files, sharing forward passes between them; yields in input order.

    Files are cut into segments and batched as in
    :func:`~deep_audio.predict.classify_files`.

    Parameters
    ----------
    paths : iterable of str or PathLike
        Audio files in any format :func:`deep_audio.io.audio.read_audio` reads.
    model : Classifier or path
        A loaded model or a model file.
    layer : str
        ``conv``, ``linear1``, ... (see :func:`embedding_layers`).
    batch_size : int, optional
        Segments per forward pass; default ``inference_batch_size`` of the model's config.
    precision : str
        ``fp32`` (default; embeddings are then deterministic), ``bf16``, ``fp16`` or ``auto``.
    skip_unreadable : bool
        Log and skip files that cannot be decoded instead of raising their
        :class:`~deep_audio.errors.AudioError`.
    skipped : list, optional
        Skipped files are appended to it as ``(path, reason)``.

    Yields
    ------
    FileEmbedding
    """
    model = as_model(model)
    layer = layer or default_layer(model)
    check_layer(model, layer)
    batch_size = batch_size or model.config.inference.inference_batch_size
    amp_dtype = autocast_dtype(precision, next(model.parameters()).device)
    plan = model.plan
    for group in segmented_files(paths, plan, batch_size=batch_size,
                                 skip_unreadable=skip_unreadable, skipped=skipped):
        rows = embed_segments(model, stack_segments(group, plan), layer=layer,
                              batch_size=batch_size, amp_dtype=amp_dtype)
        for file, segments in zip(group, split_rows(rows, group)):
            yield FileEmbedding(file.path, segments.mean(axis=0), segments,
                                *plan.times(file.starts, len(file.samples)))


def embed_file(path: str | os.PathLike, model: Classifier | str | os.PathLike, *,
               layer: str | None = None, precision: str = "fp32") -> FileEmbedding:
    """Embed one file; see :func:`embed_files`.

    Examples
    --------
    >>> result = embed_file("dog.wav", "models/cnn.pt", layer="conv")  # doctest: +SKIP
    >>> result.embedding.shape, result.segments.shape  # doctest: +SKIP
    ((256,), (4, 256))
    """
    (result,) = embed_files([path], model, layer=layer, precision=precision)
    return result


def check_layer(model: Classifier, layer: str) -> int:
    """The size of ``layer``'s embedding, or a :class:`DeepAudioError` listing valid names."""
    sizes = embedding_layers(model)
    if layer not in sizes:
        raise DeepAudioError(f"layer={layer!r} is not one of "
                             + ", ".join(f"{name} ({size} values)"
                                         for name, size in sizes.items()))
    return sizes[layer]


def feature_names(layer: str, size: int) -> list[str]:
    """Column names of a layer's embedding.

    >>> feature_names("linear1", 3)
    ['linear1_0', 'linear1_1', 'linear1_2']
    """
    return [f"{layer}_{i}" for i in range(size)]


@dataclass
class DeepFeatures:
    """File embeddings of labelled folders: a feature matrix.

    Attributes
    ----------
    features : np.ndarray, float32, shape (n_files, size)
        One file embedding per row.
    files : list of str
        Path of each row.
    labels : list of str
        Class (the folder's name) of each row.
    class_names : list of str
        The folders' names, in the order given.
    names : list of str
        Column names, ``<layer>_0`` ... ``<layer>_<size-1>``.
    layer : str
    model_path : str or None
        The model file, when the model was loaded from one.
    skipped : list of (str, str)
        Files that could not be read, with the reason.
    """

    features: np.ndarray
    files: list[str]
    labels: list[str]
    class_names: list[str]
    names: list[str]
    layer: str
    model_path: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def label_indices(self) -> np.ndarray:
        """``labels`` as indices into ``class_names``, shape ``(n_files,)``."""
        return np.array([self.class_names.index(label) for label in self.labels], dtype=int)


def extract_deep_features(model: Classifier | str | os.PathLike,
                          folders: Sequence[str | os.PathLike], *, layer: str | None = None,
                          precision: str = "fp32", batch_size: int | None = None
                          ) -> DeepFeatures:
    """File embeddings of every audio file under ``folders``, labelled by folder name.

    Audio files are found recursively (sorted); files that cannot be read are skipped,
    logged and listed in ``skipped``.

    Parameters
    ----------
    model : Classifier or path
    folders : sequence of str or PathLike
        One or more folders; each one's name is the label of its files.
    layer, precision, batch_size
        See :func:`embed_files`.

    Returns
    -------
    DeepFeatures
        ``features`` has shape ``(n_files, embedding_layers(model)[layer])``.

    Raises
    ------
    DeepAudioError
        A folder is missing or holds no audio, no file could be read, or ``layer`` is
        unknown.

    Examples
    --------
    >>> deep = extract_deep_features("models/cnn.pt", ["test/dog", "test/cat"],
    ...                              layer="linear1")  # doctest: +SKIP
    >>> deep.features.shape, deep.names[0], deep.labels[0]  # doctest: +SKIP
    ((40, 1024), 'linear1_0', 'dog')
    """
    model = as_model(model)
    layer = layer or default_layer(model)
    size = check_layer(model, layer)
    class_names, labelled = class_folders(folders, min_folders=1)
    labels = {item.path: class_names[item.label] for item in labelled}
    features, files, skipped = embedding_matrix(
        model, [item.path for item in labelled], layer=layer, precision=precision,
        batch_size=batch_size, source=f"{[printable(f) for f in folders]}")
    return DeepFeatures(
        features=features, files=[str(path) for path in files],
        labels=[labels[path] for path in files], class_names=class_names,
        names=feature_names(layer, size), layer=layer, model_path=model_path_of(model),
        skipped=skipped)


def embedding_matrix(model: Classifier, paths: Sequence[Path], *, layer: str,
                     precision: str = "fp32", batch_size: int | None = None,
                     source: str = "the input") -> tuple[np.ndarray, list[Path],
                                                         list[tuple[str, str]]]:
    """File embeddings of ``paths``; unreadable files are skipped, logged and listed.

    Returns
    -------
    features : np.ndarray, float32, shape (n_used, embedding_layers(model)[layer])
    used : list of Path
        The file of each row.
    skipped : list of (str, str)
        Files that could not be read, with the reason.

    Raises
    ------
    DeepAudioError
        No file could be read (``source`` names where they came from).
    """
    skipped: list[tuple[Path, str]] = []
    embeddings = list(embed_files(paths, model, layer=layer, batch_size=batch_size,
                                  precision=precision, skip_unreadable=True, skipped=skipped))
    if not embeddings:
        raise DeepAudioError(f"none of the {len(paths)} audio files in {source} could be read")
    if skipped:
        logger.warning("skipped %d of %d audio files", len(skipped), len(paths))
    return (np.stack([e.embedding for e in embeddings]).astype(np.float32),
            [e.path for e in embeddings], [(str(path), reason) for path, reason in skipped])


def model_path_of(model: Classifier) -> str | None:
    """The resolved file a model was loaded from (``None`` for a model built in memory)."""
    path = getattr(model, "path", None)
    return None if path is None else str(Path(path).resolve())


def feature_signature(model: Classifier, layer: str) -> dict[str, Any]:
    """What decides a layer's embedding: the settings, the layer and a hash of the weights.

    Stored with anything built from embeddings (deep-feature classifiers, search
    indexes) so that :func:`check_signature` can refuse a model that embeds differently.
    Plain data: ``{"layer", "size", "settings": {section: {name: value}},
    "weights_sha256"}``.
    """
    settings = model.config.to_dict()
    sections = {section: settings[section] for section in FEATURE_SECTIONS}
    if model.backbone.name != "seed_cnn":  # a pretrained backbone: its own front end
        sections["backbone"] = {"name": model.backbone.name,
                                "settings": model.backbone.settings()}
    return {"layer": layer, "size": check_layer(model, layer),
            "settings": sections,
            "weights_sha256": weights_digest(model)}


def check_signature(stored: Mapping[str, Any], model: Classifier, *, what: str) -> None:
    """Refuse ``model`` when it embeds differently from the model ``stored`` came from.

    Parameters
    ----------
    stored : mapping
        A :func:`feature_signature` saved with ``what``.
    model : Classifier
    what : str
        Names the thing being used in the message, e.g. ``"index 'sounds.npz'"``.

    Raises
    ------
    ModelFileError
        The settings (front end, segments, network shape) or the weights differ.
    """
    source = model_path_of(model) or "given"
    current = feature_signature(model, stored["layer"])
    differences = [
        f"{section}.{name} is {current['settings'][section].get(name)!r}, was {value!r}"
        for section, values in stored["settings"].items() for name, value in values.items()
        if current["settings"].get(section, {}).get(name) != value]
    if differences:
        raise ModelFileError(f"{what} was built with other feature settings than model "
                             f"'{source}': " + "; ".join(differences))
    if current["weights_sha256"] != stored["weights_sha256"]:
        raise ModelFileError(f"{what} was built with other weights than model '{source}' "
                             "has (retrained or replaced?); rebuild it with this model")


def weights_digest(model: Classifier) -> str:
    """SHA-256 of a model's weights (names and raw bytes, as earlier releases' model files
    named them: :func:`~deep_audio.io.model_files.legacy_state_dict`), as hex."""
    digest = hashlib.sha256()
    for name, tensor in sorted(legacy_state_dict(model).items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()
