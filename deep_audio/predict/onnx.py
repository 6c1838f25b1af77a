"""Classify audio with an exported ONNX model and onnxruntime, without torch.

Needs only numpy, soundfile, soxr, onnxruntime (and PyYAML, through the package's
settings module); nothing here imports torch, so a deployment can install deep_audio
with ``pip install --no-deps deep_audio numpy soundfile soxr pyyaml onnxruntime``.
The ONNX file (from :func:`deep_audio.export.to_onnx`) holds the whole classifier,
front-end included, and its ``metadata_props`` give the class names, the segment plan
(sample rate, segment length and hop, minimum file length) and the config.

:class:`OnnxClassifier` is a predictor (:mod:`deep_audio.predict.predictor`): files are read
and cut by its :class:`~deep_audio.data.plan.SegmentPlan` exactly as in PyTorch
inference (a file too short for the model is refused on both paths), a file's posterior
is pooled from its segments' by the model's task (stored with the export), and long
recordings go through :func:`deep_audio.predict.segment_recording` as they do with a
PyTorch model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from deep_audio.config import Config, stored_config
from deep_audio.data.plan import SegmentPlan
from deep_audio.errors import ConfigError, ModelFileError
from deep_audio.predict.predictor import FileResult, batched, predict_files
from deep_audio.tasks import Task, make_task, task_from_dict

# The name of earlier releases.
OnnxFilePrediction = FileResult


class OnnxClassifier:
    """An exported deep_audio classifier run by onnxruntime, as a predictor.

    Parameters
    ----------
    path : str or PathLike
        An ONNX file written by :func:`deep_audio.export.to_onnx`.
    batch_size : int, optional
        Segments per ``session.run``; default 32.
    providers : list of str, optional
        onnxruntime execution providers; default CPU.

    Attributes
    ----------
    class_names : list of str
    plan : SegmentPlan
        How files are read and cut: the exported model's.
    config : Config
        The settings stored in the export (today's defaults when it stores none).
    sample_rate : int
        Hz; files are resampled to it.
    segment_samples, hop_samples : int
        Segment length and hop in samples at ``sample_rate``.

    Raises
    ------
    ModelFileError
        The file is missing, not ONNX, or lacks deep_audio's metadata.
    """

    def __init__(self, path: str | os.PathLike, *, batch_size: int | None = None,
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
            self.plan = SegmentPlan.from_metadata(metadata)
            self.config: Config = stored_config(json.loads(metadata["deep_audio.config"]),
                                                source=str(path))
            self.task = _task(metadata, self.config)
        except (KeyError, ValueError) as error:
            if isinstance(error, ConfigError):
                raise ModelFileError(f"ONNX model '{self.path}' stores settings this "
                                     f"deep_audio cannot read: {error}") from error
            raise ModelFileError(f"ONNX model '{self.path}' lacks deep_audio metadata "
                                 f"({error}); export it with deep_audio.export.to_onnx"
                                 ) from error
        self.sample_rate = self.plan.sample_rate
        self.segment_samples = self.plan.segment_samples
        self.hop_samples = self.plan.hop_samples
        self.batch_size = batch_size or 32
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
        return batched(segments, self.batch_size,
                       lambda batch: self.task.activation_numpy(self.session.run(
                           None, {self.input_name: batch})[0]).astype(np.float32))

    def classify_file(self, path: str | os.PathLike) -> FileResult:
        """Classify one file, segment by segment (the mean posterior decides).

        Raises
        ------
        AudioError
            The file cannot be read, or is shorter than the model's minimum.
        """
        (result,) = predict_files([path], self)
        return result


def _task(metadata: dict[str, str], config: Config) -> Task:
    """The export's task; exports made before ``deep_audio.task`` existed have their
    kind in the config and a multi-label model's thresholds on their own."""
    if "deep_audio.task" in metadata:
        return task_from_dict(json.loads(metadata["deep_audio.task"]))
    task = make_task(config.training.task)
    return task.with_thresholds(json.loads(metadata.get("deep_audio.thresholds", "null")))
