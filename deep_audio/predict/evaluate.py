"""Scoring a model on folders of labelled files or a manifest: the classification report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deep_audio.data.folders import class_folders, class_names_of
from deep_audio.data.manifest import Manifest
from deep_audio.errors import DeepAudioError
from deep_audio.io.audio import printable
from deep_audio.metrics import confusion_matrix, multilabel_scores, scores
from deep_audio.predict.classify import as_predictor, classify_files
from deep_audio.predict.predictor import FileResult


@dataclass
class FolderReport:
    """File-level results on labelled folders."""

    class_names: list[str]
    confusion: np.ndarray  # (n_classes, n_classes), rows true, columns predicted
    scores: dict[str, object]
    predictions: list[tuple[FileResult, int]]  # (prediction, true class index)
    skipped: int

    def format(self) -> str:
        """A text table: per-class precision, recall, F1, support; accuracy; confusion."""
        width = max(12, *(len(name) for name in self.class_names))
        lines = [f"{'class':<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'files':>7}"]
        s = self.scores
        for i, name in enumerate(self.class_names):
            lines.append(f"{name:<{width}} {s['precision'][i]:9.3f} {s['recall'][i]:9.3f} "
                         f"{s['f1'][i]:9.3f} {s['support'][i]:7d}")
        total = int(self.confusion.sum())
        lines += ["", f"{'accuracy':<{width}} {s['accuracy']:9.3f} ({total} files)",
                  f"{'macro F1':<{width}} {s['macro_f1']:9.3f}", "",
                  "confusion matrix (rows: true, columns: predicted)"]
        cell = max(6, width)
        lines.append(" " * cell + "".join(f"{name[:cell - 1]:>{cell}}"
                                          for name in self.class_names))
        for name, row in zip(self.class_names, self.confusion):
            lines.append(f"{name[:cell - 1]:<{cell}}" + "".join(f"{v:>{cell}d}" for v in row))
        if self.skipped:
            lines.append(f"\n{self.skipped} unreadable file(s) skipped")
        return "\n".join(lines)


def evaluate_folders(model: Any, folders: Sequence[str | os.PathLike], *,
                     precision: str = "fp32") -> FolderReport:
    """Classify every file under ``folders`` (one folder per class, named as the class).

    ``model`` is any predictor, a loaded model or a model file (see
    :func:`deep_audio.predict.predictor.as_predictor`). Folder names must be class names of the
    model and distinct (:func:`~deep_audio.data.folders.class_folders`, at least one
    folder, each holding audio); a model class with no folder simply has no support.
    Unreadable files are skipped and counted.
    """
    model = as_predictor(model, precision=precision)
    names = class_names_of(folders, min_folders=1)
    for folder, name in zip(folders, names):
        if name not in model.class_names:
            raise DeepAudioError(f"folder '{printable(folder)}' is named '{name}', which is "
                                 f"not a class of this model; its classes are "
                                 f"{model.class_names}")
    names, files = class_folders(folders, min_folders=1)
    labelled = [(item.path, model.class_names.index(names[item.label])) for item in files]
    truth = {path: label for path, label in labelled}
    predictions = [(p, truth[p.path]) for p in classify_files(
        [path for path, _ in labelled], model, skip_unreadable=True)]
    if not predictions:
        raise DeepAudioError("none of the files could be read")
    matrix = confusion_matrix([t for _, t in predictions],
                              [p.class_index for p, _ in predictions], len(model.class_names))
    return FolderReport(list(model.class_names), matrix, scores(matrix), predictions,
                        skipped=len(labelled) - len(predictions))


@dataclass
class TaggingReport:
    """File-level results of a multi-label model on a manifest's clips."""

    class_names: list[str]
    targets: np.ndarray  # (n_files, n_classes), 0/1
    posteriors: np.ndarray  # (n_files, n_classes), the files' posteriors
    scores: dict[str, object]  # deep_audio.metrics.multilabel_scores at the model's thresholds
    predictions: list[FileResult]
    skipped: int

    def format(self) -> str:
        """A text table: per-class AP, precision, recall, F1 at the model's threshold."""
        width = max(12, *(len(name) for name in self.class_names))
        s = self.scores
        lines = [f"{'class':<{width}} {'AP':>7} {'threshold':>9} {'precision':>9} "
                 f"{'recall':>9} {'f1':>7} {'files':>6}"]
        for i, name in enumerate(self.class_names):
            ap = s["class_ap"][i]
            lines.append(f"{name:<{width}} {'-' if np.isnan(ap) else f'{ap:.3f}':>7} "
                         f"{s['thresholds'][i]:9.3f} {s['precision'][i]:9.3f} "
                         f"{s['recall'][i]:9.3f} {s['f1'][i]:7.3f} {s['support'][i]:6d}")
        lines += ["", f"{'mAP':<{width}} {s['map']:7.3f} ({len(self.targets)} files; "
                      f"chance {self.targets.mean():.3f})",
                  f"{'macro F1':<{width}} {s['macro_f1']:7.3f} (macro precision "
                  f"{s['macro_precision']:.3f}, recall {s['macro_recall']:.3f})",
                  f"{'micro F1':<{width}} {s['micro_f1']:7.3f}"]
        if self.skipped:
            lines.append(f"\n{self.skipped} unreadable file(s) skipped")
        return "\n".join(lines)


def evaluate_manifest(model: Any, manifest: Manifest, *, precision: str = "fp32"
                      ) -> FolderReport | TaggingReport:
    """Classify every clip of ``manifest`` and score it against its labels.

    A single-label model gives a :class:`FolderReport` (accuracy, confusion matrix); a
    multi-label one a :class:`TaggingReport` (mAP, per-class AP, F1 at the model's
    thresholds) on the files' posteriors. Every manifest label must be a class of the
    model. Unreadable files are skipped and counted.
    """
    model = as_predictor(model, precision=precision)
    unknown = sorted(set(manifest.class_names) - set(model.class_names))
    if unknown:
        raise DeepAudioError(f"manifest '{printable(manifest.path)}' has labels {unknown} "
                             f"that are not classes of this model; its classes are "
                             f"{model.class_names}")
    truth = {clip.path: clip.labels for clip in manifest.clips}
    results = list(classify_files(list(truth), model, skip_unreadable=True))
    if not results:
        raise DeepAudioError("none of the files could be read")
    skipped = len(truth) - len(results)
    names = list(model.class_names)
    if not model.task.multi_label:
        labelled = [(result, names.index(truth[result.path][0])) for result in results]
        matrix = confusion_matrix([t for _, t in labelled],
                                  [p.class_index for p, _ in labelled], len(names))
        return FolderReport(names, matrix, scores(matrix), labelled, skipped=skipped)
    targets = np.zeros((len(results), len(names)), dtype=np.float32)
    for row, result in enumerate(results):
        targets[row, [names.index(label) for label in truth[result.path]]] = 1.0
    posteriors = np.stack([result.posteriors for result in results])
    tagging = multilabel_scores(targets, posteriors, model.task.threshold_array(len(names)))
    return TaggingReport(names, targets, posteriors, tagging, results, skipped)
