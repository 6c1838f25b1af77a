"""Classify audio with an exported ONNX model and onnxruntime, without torch.

Needs only numpy, soundfile, soxr, onnxruntime (and PyYAML, through the package's
settings module); nothing here imports torch, so a deployment can install deep_audio
with ``pip install --no-deps deep_audio numpy soundfile soxr pyyaml onnxruntime``.
The ONNX file (from :func:`deep_audio.export.to_onnx`) holds the whole classifier,
front-end included, and its ``metadata_props`` give the class names, sample rate and
segment length and hop; files are decoded and cut exactly as in PyTorch inference
(:func:`deep_audio.audio.read_audio`, :mod:`deep_audio.segmenting`), and a file's
posterior is the mean of its segments' posteriors.

From the command line: ``python -m deep_audio.bin.onnx_classify -m model.onnx -i a.wav``.

>>> softmax(np.array([[0.0, 0.0], [0.0, np.log(3.0)]])).round(2).tolist()
[[0.5, 0.5], [0.25, 0.75]]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deep_audio.audio import read_audio
from deep_audio.errors import ModelFileError
from deep_audio.segmenting import cut_segments


@dataclass
class OnnxFilePrediction:
    """A file's winning class, mean posterior, and each segment's place and posterior."""

    path: Path
    class_index: int
    class_name: str
    posteriors: np.ndarray  # (n_classes,)
    starts_seconds: np.ndarray  # (n_segments,)
    ends_seconds: np.ndarray  # (n_segments,)
    segment_posteriors: np.ndarray  # (n_segments, n_classes)


class OnnxClassifier:
    """An exported deep_audio classifier run by onnxruntime.

    Parameters
    ----------
    path : str or PathLike
        An ONNX file written by :func:`deep_audio.export.to_onnx`.
    batch_size : int
        Segments per ``session.run``.
    providers : list of str, optional
        onnxruntime execution providers; default CPU.

    Attributes
    ----------
    class_names : list of str
    sample_rate : int
        Hz; files are resampled to it.
    segment_samples, hop_samples : int
        Segment length and hop in samples at ``sample_rate``.

    Raises
    ------
    ModelFileError
        The file is missing, not ONNX, or lacks deep_audio's metadata.
    """

    def __init__(self, path: str | os.PathLike, *, batch_size: int = 32,
                 providers: list[str] | None = None):
        import onnxruntime

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelFileError(f"ONNX model '{self.path}' does not exist")
        try:
            self.session = onnxruntime.InferenceSession(
                str(self.path), providers=providers or ["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise ModelFileError(f"cannot load ONNX model '{self.path}': {error}") from error
        metadata = self.session.get_modelmeta().custom_metadata_map
        try:
            self.class_names = list(json.loads(metadata["deep_audio.class_names"]))
            self.sample_rate = int(metadata["deep_audio.sample_rate"])
            self.segment_samples = int(metadata["deep_audio.segment_samples"])
            self.hop_samples = int(metadata["deep_audio.segment_hop_samples"])
        except (KeyError, ValueError) as error:
            raise ModelFileError(f"ONNX model '{self.path}' lacks deep_audio metadata "
                                 f"({error}); export it with deep_audio.export.to_onnx"
                                 ) from error
        self.config = json.loads(metadata.get("deep_audio.config", "{}"))
        self.batch_size = batch_size
        self.input_name = self.session.get_inputs()[0].name

    def posteriors(self, segments: np.ndarray) -> np.ndarray:
        """Class posteriors of waveform segments.

        Parameters
        ----------
        segments : np.ndarray, shape (n_segments, segment_samples)
            Waveform segments at ``sample_rate``.

        Returns
        -------
        np.ndarray, float32, shape (n_segments, n_classes)
        """
        segments = np.ascontiguousarray(segments, dtype=np.float32)
        rows = [softmax(self.session.run(None, {self.input_name: batch})[0])
                for batch in np.split(segments, range(self.batch_size, len(segments),
                                                      self.batch_size))]
        return np.concatenate(rows).astype(np.float32)

    def classify_file(self, path: str | os.PathLike) -> OnnxFilePrediction:
        """Classify one file, segment by segment (the mean posterior decides).

        Raises
        ------
        AudioError
            The file cannot be read.
        """
        samples, _ = read_audio(path, sample_rate=self.sample_rate)
        starts, segments = cut_segments(samples, self.segment_samples, self.hop_samples)
        rows = self.posteriors(segments)
        mean = rows.mean(axis=0)
        winner = int(np.argmax(mean))
        starts_array = np.asarray(starts)
        return OnnxFilePrediction(
            Path(path), winner, self.class_names[winner], mean,
            starts_array / self.sample_rate,
            np.minimum(starts_array + self.segment_samples, len(samples)) / self.sample_rate,
            rows)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, n_classes)`` logits, computed stably."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
