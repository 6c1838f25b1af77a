"""Cross-validation on a manifest's predefined folds (the ESC-50 / UrbanSound8K protocol).

Each fold in turn is the test set; a model is trained on the other folds (its
validation split taken from them) and scored on the held-out fold. Folds are used as
the manifest defines them, never reshuffled, so results compare with published ones.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deep_audio.config import Config, load_config, override
from deep_audio.data.manifest import Manifest
from deep_audio.errors import DeepAudioError
from deep_audio.io.files import atomic_write, resolve_model_path
from deep_audio.predict.evaluate import TaggingReport, evaluate_manifest
from deep_audio.training.train import load_manifest, task_for, train_model

logger = logging.getLogger(__name__)


@dataclass
class CrossValidationResult:
    """Each fold's test score, their mean and standard deviation, and where it all went.

    ``metric`` is ``accuracy`` (single-label) or ``mAP`` (multi-label); each entry of
    ``folds`` holds ``fold``, ``model_path``, ``score``, ``macro_f1``, ``train_clips``
    and ``test_clips``.
    """

    metric: str
    folds: list[dict[str, Any]] = field(default_factory=list)
    summary_path: Path | None = None

    @property
    def mean(self) -> float:
        return float(np.mean([fold["score"] for fold in self.folds]))

    @property
    def std(self) -> float:
        """Population standard deviation over the folds (0 for one fold)."""
        return float(np.std([fold["score"] for fold in self.folds]))

    def format(self) -> str:
        lines = [f"{'fold':>6} {self.metric:>9} {'macro-F1':>9} {'train':>6} {'test':>6}"]
        for fold in self.folds:
            lines.append(f"{fold['fold']:>6} {fold['score']:9.3f} {fold['macro_f1']:9.3f} "
                         f"{fold['train_clips']:6d} {fold['test_clips']:6d}")
        lines.append(f"{'mean':>6} {self.mean:9.3f} +- {self.std:.3f} (standard deviation "
                     f"over {len(self.folds)} fold(s))")
        return "\n".join(lines)


def cross_validate(manifest: str | os.PathLike | Manifest, output: str | os.PathLike, *,
                   audio_root: str | os.PathLike | None = None,
                   folds: Sequence[str | int] | None = None, config: Config | None = None,
                   progress: bool = True, **overrides: Any) -> CrossValidationResult:
    """Train and test one model per fold of the manifest's fold column.

    Parameters
    ----------
    manifest : path or Manifest
        With a fold column (see :mod:`deep_audio.data.manifest`).
    output : str or PathLike
        Model name; fold ``K``'s model is ``<output>.fold<K>.pt`` and the summary
        ``<output>.cv.json``, beside each other (a bare name goes to ``models_dir``).
    folds : sequence, optional
        The folds to test (``--fold K`` is ``folds=[K]``); default all of them.
    config, **overrides
        Settings, as for :func:`~deep_audio.training.train_model`.

    Raises
    ------
    DeepAudioError
        The manifest has no folds, or a fold it does not have is asked for.
    """
    config = override(config or load_config(), **overrides)
    manifest = load_manifest(manifest, audio_root)
    task = task_for(config, manifest)  # one task for every fold, decided on all clips
    config = override(config, task=task.name)
    if not manifest.folds:
        raise DeepAudioError(f"manifest '{manifest.path}' gives no fold for any clip; "
                             "cross-validation needs a fold column")
    chosen = manifest.folds if folds is None else [str(fold) for fold in folds]
    manifest.select(folds=chosen)  # refuses a fold the manifest does not have
    base = resolve_model_path(output, config.training.models_dir)
    stem = base.with_suffix("")
    result = CrossValidationResult("mAP" if task.multi_label else "accuracy")
    for fold in chosen:
        test, train = manifest.select(folds=[fold]), manifest.select(exclude_folds=[fold])
        logger.info("fold %s: training on %d clips, testing on %d", fold, len(train.clips),
                    len(test.clips))
        trained = train_model(manifest=train, output=f"{stem}.fold{fold}", config=config,
                              progress=progress)
        report = evaluate_manifest(trained.model_path, test,
                                   precision=config.training.precision)
        tagging = isinstance(report, TaggingReport)
        result.folds.append({
            "fold": fold, "model_path": str(trained.model_path),
            "score": report.scores["map"] if tagging else report.scores["accuracy"],
            "macro_f1": report.scores["macro_f1"], "train_clips": len(train.clips),
            "test_clips": len(test.clips) - report.skipped,
            "best_epoch": trained.best_epoch})
        logger.info("fold %s: %s %.3f", fold, result.metric, result.folds[-1]["score"])
    summary = {"manifest": str(manifest.path), "metric": result.metric, "mean": result.mean,
               "std": result.std, "folds": result.folds, "class_names": manifest.class_names}
    result.summary_path = atomic_write(
        Path(f"{stem}.cv.json"),
        lambda stream: stream.write(json.dumps(summary, indent=2).encode("utf-8")))
    return result
