"""Export a trained classifier to TorchScript and ONNX, and check the copies against PyTorch.

Both exports hold the whole classifier, front-end included (also a model on a PANNs
CNN14 backbone; not one on a Hugging Face backbone, whose feature extractor runs in
numpy outside the graph): a batch of waveform segments
``(batch, segment_samples)`` float32 at the model's sample rate in, logits
``(batch, n_classes)`` out (softmax gives the posteriors). The ONNX graph is made by
torch's dynamo exporter (opset 18), which turns the STFT of the log-mel front-end into
ONNX's ``STFT`` operator; the batch axis is dynamic.

Each export carries what inference needs besides the weights: the class names, the
sample rate, the segment length and hop, and the full config (JSON), in ONNX's
``metadata_props`` and in the TorchScript file's extra file ``deep_audio.json``.
:mod:`deep_audio.predict.onnx` classifies files with the ONNX file and onnxruntime,
without torch.

:func:`verify` runs PyTorch and the export on the same segments and fails when the logits
differ by more than ``atol`` (default :data:`LOGIT_ATOL`).
"""

from __future__ import annotations

import copy
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deep_audio.errors import ExportError
from deep_audio.io.files import atomic_write
from deep_audio.models import Classifier

logger = logging.getLogger(__name__)

ONNX_OPSET = 18
LOGIT_ATOL = 1e-2  # largest |logit difference| accepted by verify, in logit units
METADATA_FILE = "deep_audio.json"  # extra file of a TorchScript export


@dataclass
class Verification:
    """How far an export's outputs are from PyTorch's on the same segments."""

    path: Path
    n_segments: int
    max_logit_difference: float
    max_posterior_difference: float
    same_decisions: bool  # the argmax agrees on every segment
    atol: float

    def format(self) -> str:
        return (f"{self.path}: {self.n_segments} segments, max |logit difference| "
                f"{self.max_logit_difference:.2e}, max |posterior difference| "
                f"{self.max_posterior_difference:.2e}, same decisions: "
                f"{'yes' if self.same_decisions else 'NO'} (tolerance {self.atol:g})")


def export_metadata(model: Classifier) -> dict[str, str]:
    """What an exported copy needs besides weights, as string key/value pairs.

    Keys: ``deep_audio.class_names`` (JSON list), the segment plan
    (:meth:`~deep_audio.data.plan.SegmentPlan.to_metadata`: ``deep_audio.sample_rate``
    in Hz, ``deep_audio.segment_samples``, ``deep_audio.segment_hop_samples``,
    ``deep_audio.min_file_seconds``), ``deep_audio.input`` (``waveform``),
    ``deep_audio.output`` (``logits``) and ``deep_audio.config`` (JSON of the whole
    config) and ``deep_audio.task`` (JSON of :meth:`~deep_audio.tasks.Task.to_dict`: how
    logits become posteriors and decisions, a multi-label model's thresholds included).
    """
    metadata = {
        "deep_audio.class_names": json.dumps(list(model.class_names)),
        **model.plan.to_metadata(),
        "deep_audio.input": "waveform",
        "deep_audio.output": "logits",
        "deep_audio.config": json.dumps(model.config.to_dict()),
        "deep_audio.task": json.dumps(model.task.to_dict()),
    }
    return metadata


def to_torchscript(model: Classifier, path: str | os.PathLike) -> Path:
    """Trace ``model`` (front-end included) to a TorchScript file.

    Load it with ``torch.jit.load(path, _extra_files={"deep_audio.json": ""})`` to get the
    metadata of :func:`export_metadata` back as JSON.
    """
    _check_exportable(model, "TorchScript")
    path = _prepare(path)
    model = _cpu_copy(model)
    example = torch.zeros(2, model.segment_samples)
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
    extra = {METADATA_FILE: json.dumps(export_metadata(model))}
    atomic_write(path, lambda stream: torch.jit.save(traced, stream, _extra_files=extra))
    logger.info("TorchScript model written to %s", path)
    return path


def to_onnx(model: Classifier, path: str | os.PathLike, *,
            opset_version: int = ONNX_OPSET) -> Path:
    """Export ``model`` (front-end included) to one ONNX file with a dynamic batch axis.

    Input ``waveform`` ``(batch, segment_samples)``, output ``logits`` ``(batch,
    n_classes)``; :func:`export_metadata` goes into the file's ``metadata_props``.
    Needs the ``onnx`` and ``onnxscript`` packages (``pip install deep_audio[export]``).

    Raises
    ------
    ExportError
        The packages are missing or the exporter fails.
    """
    try:
        import onnx
    except ImportError as error:
        raise ExportError("ONNX export needs the onnx and onnxscript packages: "
                          "pip install 'deep_audio[export]'") from error
    _check_exportable(model, "ONNX")
    path = _prepare(path)
    model = _cpu_copy(model)
    example = torch.zeros(2, model.segment_samples)
    try:
        program = torch.onnx.export(
            model, (example,), dynamo=True, opset_version=opset_version,
            input_names=["waveform"], output_names=["logits"],
            # DYNAMIC, not a named Dim: a GRU (the CRNN head) adds a batch != 1 guard
            # that a named Dim's range rejects; the graph still runs at batch 1.
            dynamic_shapes=({0: torch.export.Dim.DYNAMIC},), verbose=False)
        exported = program.model_proto  # weights included: one file, no external data
    except Exception as error:  # the exporter raises many types
        raise ExportError(f"cannot export to ONNX '{path}': {error}") from error
    for key, value in export_metadata(model).items():
        entry = exported.metadata_props.add()
        entry.key, entry.value = key, value
    atomic_write(path, lambda stream: onnx.save(exported, stream))
    logger.info("ONNX model (opset %d) written to %s", opset_version, path)
    return path


def verify(model: Classifier, path: str | os.PathLike, *,
           waveforms: np.ndarray | None = None, atol: float = LOGIT_ATOL,
           seed: int = 0) -> Verification:
    """Compare an export (``.onnx`` or TorchScript ``.pt``) with ``model`` on the CPU.

    Parameters
    ----------
    model : Classifier
        The model that was exported.
    path : str or PathLike
        The exported file; ``.onnx`` runs with onnxruntime, anything else with
        ``torch.jit.load``.
    waveforms : np.ndarray, float32, shape (n_segments, segment_samples), optional
        Segments to compare on; default 8 segments of noise, tones and silence.
    atol : float
        Largest accepted absolute difference of any logit.
    seed : int
        Seed of the default segments.

    Returns
    -------
    Verification

    Raises
    ------
    ExportError
        A logit differs by more than ``atol``, or the file cannot be run.
    """
    path = Path(path)
    model = _cpu_copy(model)
    if waveforms is None:
        waveforms = probe_segments(model.segment_samples, model.config.front_end.sample_rate,
                                   seed)
    waveforms = np.ascontiguousarray(waveforms, dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(waveforms)).numpy()
    try:
        if path.suffix.lower() == ".onnx":
            import onnxruntime

            session = onnxruntime.InferenceSession(str(path),
                                                   providers=["CPUExecutionProvider"])
            actual = session.run(None, {session.get_inputs()[0].name: waveforms})[0]
        else:
            with torch.no_grad():
                actual = torch.jit.load(str(path)).eval()(torch.from_numpy(waveforms)).numpy()
    except Exception as error:
        raise ExportError(f"cannot run exported model '{path}': {error}") from error
    posteriors = model.task.activation_numpy(actual)
    expected_posteriors = model.task.activation_numpy(expected)
    result = Verification(
        path=path, n_segments=len(waveforms),
        max_logit_difference=float(np.abs(actual - expected).max()),
        max_posterior_difference=float(np.abs(posteriors - expected_posteriors).max()),
        same_decisions=bool(np.array_equal(model.task.decide(posteriors),
                                           model.task.decide(expected_posteriors))),
        atol=atol)
    if not result.max_logit_difference <= atol:
        raise ExportError(f"exported model '{path}' differs from PyTorch: {result.format()}")
    return result


def _check_exportable(model: Classifier, kind: str) -> None:
    """Refuse a model whose input is made outside the graph (a Hugging Face feature
    extractor runs in numpy, so a trace would freeze one batch's features)."""
    if model.backbone.name == "hf":
        raise ExportError(f"{kind} export needs the whole model in PyTorch, but a Hugging "
                          "Face backbone's feature extractor runs in numpy; export the "
                          "encoder with transformers' own tools (optimum) instead")


def _prepare(path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _cpu_copy(model: Classifier) -> Classifier:
    """A copy of the model in eval mode on the CPU, contiguous (not channels_last)."""
    return copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).eval()


def probe_segments(segment_samples: int, sample_rate: int, seed: int) -> np.ndarray:
    """Eight segments to compare exports on: 4 of white noise (random levels), 3 tones, silence.

    Shape ``(8, segment_samples)``, float32.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(segment_samples) / sample_rate
    rows = [rng.uniform(0.01, 0.5) * rng.standard_normal(segment_samples) for _ in range(4)]
    rows += [0.5 * np.sin(2 * np.pi * rng.uniform(100, sample_rate / 3) * t) for _ in range(3)]
    rows.append(np.zeros(segment_samples))
    return np.stack(rows).astype(np.float32)


def read_torchscript_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The :func:`export_metadata` stored in a TorchScript file by :func:`to_torchscript`."""
    extra = {METADATA_FILE: ""}
    torch.jit.load(str(path), _extra_files=extra)
    return json.loads(extra[METADATA_FILE])
