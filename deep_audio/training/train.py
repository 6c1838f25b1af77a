"""``train_model``: class folders or a manifest in, a trained model file out."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset

from deep_audio.config import Config, TrainingConfig, load_config, override, seconds_to_samples
from deep_audio.data import (
    AudioCache,
    LabelledFile,
    SegmentDataset,
    class_folders,
    decode_files,
    resolve_cache_dir,
    stratified_file_split,
)
from deep_audio.data.backgrounds import load_backgrounds
from deep_audio.data.manifest import Manifest, read_manifest
from deep_audio.device import resolve_device
from deep_audio.errors import ConfigError, DeepAudioError
from deep_audio.features import band_statistics
from deep_audio.io.audio import list_audio_files, printable
from deep_audio.io.model_files import resolve_model_path
from deep_audio.models import Classifier
from deep_audio.models.seed import frame_task
from deep_audio.tasks import FrameDetection, Task, make_task
from deep_audio.training.augment import Augmentation
from deep_audio.training.callbacks import (
    Checkpoint,
    EarlyStopping,
    History,
    Report,
    SaveBest,
    TunePostProcessing,
)
from deep_audio.training.distributed import (
    Distributed,
    barrier,
    cpu_threads_per_process,
    init_process_group,
    shutdown,
)
from deep_audio.training.distributed import from_environment as distributed_from_environment
from deep_audio.training.loop import fit

logger = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    """Where the model went and how good it is."""

    model_path: Path
    history_path: Path
    class_names: list[str]
    best_epoch: int
    metrics: dict[str, Any]
    skipped_files: list[tuple[Path, str]] = field(default_factory=list)
    report_path: Path | None = None


@dataclass
class PreparedData:
    """Decoded class folders, split by file and cut into segments, ready for ``fit``."""

    class_names: list[str]
    train_set: SegmentDataset
    validation_set: SegmentDataset
    summary: dict[str, Any]
    skipped_files: list[tuple[Path, str]]


def prepare_data(folders: Sequence[str | os.PathLike] | None, config: Config, task: Task, *,
                 distributed: Distributed = Distributed(),
                 manifest: Manifest | None = None,
                 unlabelled: Sequence[str | os.PathLike] = ()) -> PreparedData:
    """Find, decode, split (stratified, by file) and segment the class folders, or the
    clips of ``manifest``; the audio files of the ``unlabelled`` folders and the
    manifest's unlabelled clips (rows without a label, outside the validation fold) join
    the training set with unknown (NaN) targets (a frame task only: they train through
    the mean teacher, :mod:`deep_audio.training.mean_teacher`).

    Unusable files are skipped and listed in ``skipped_files``; a class left with no
    usable file is an error. With ``config.training.cache_dir`` the decoded audio is
    cached on disk and the datasets read it from there (see
    :class:`~deep_audio.data.AudioCache`). Targets are the ``task``'s: for a multi-label
    task each segment's target is a 0/1 vector, its clip's labels or, from the clip's
    events (strong labels), those covering it (``segments.event_overlap_fraction``).
    """
    training = config.training
    if training.validation_fold is not None:  # checked before any decoding
        _check_validation_fold(manifest, training.validation_fold)
    unlabelled_files = (_unlabelled_files(unlabelled, task, training)
                        + _unlabelled_rows(manifest, task, training))
    if manifest is None:
        class_names, files = class_folders(folders)
    else:  # a file's "label" indexes its clip until the targets are built below
        class_names = list(manifest.class_names)
        files = [LabelledFile(clip.path, index) for index, clip in enumerate(manifest.clips)]
    cache_dir = resolve_cache_dir(training.cache_dir)
    cache = None if cache_dir is None else AudioCache(cache_dir, config.front_end.sample_rate)
    logger.info("decoding %d files of %d classes: %s%s", len(files), len(class_names),
                ", ".join(class_names), f" (cache: {cache_dir})" if cache else "")
    if cache is not None and distributed.enabled:
        # Each process decodes its share into the shared cache; then all read it whole.
        decode_files(files[distributed.rank::distributed.world_size],
                     sample_rate=cache.sample_rate, min_seconds=0.0, cache=cache)
        barrier()
    decoded = decode_files(files, sample_rate=config.front_end.sample_rate,
                           min_seconds=config.segments.min_file_seconds, cache=cache)
    extra = decode_files(unlabelled_files, sample_rate=config.front_end.sample_rate,
                         min_seconds=config.segments.min_file_seconds, cache=cache)
    events = None
    if manifest is None:
        labels = [item.label for item in decoded.files]
        strata, folds = labels, None
    else:
        clips = [manifest.clips[item.label] for item in decoded.files]
        labels = task.targets([clip.labels for clip in clips], class_names)
        events = _clip_events(clips, class_names) if task.multi_label else None
        strata = [class_names.index(clip.labels[0]) for clip in clips]
        folds = [clip.fold for clip in clips]
    _check_classes(class_names, labels)
    if training.validation_fold is None:
        train_index, validation_index = stratified_file_split(
            strata, validation_fraction=training.validation_fraction, seed=training.seed)
    else:
        train_index = [i for i, fold in enumerate(folds) if fold != training.validation_fold]
        validation_index = [i for i, fold in enumerate(folds)
                            if fold == training.validation_fold]
    if not validation_index:
        logger.warning("no class has two usable files: the best epoch is chosen on "
                       "training data, so the reported metrics are optimistic")
        validation_index = train_index

    segment_samples = seconds_to_samples(config.segments.segment_seconds,
                                         config.front_end.sample_rate)
    hop_samples = seconds_to_samples(config.segments.segment_hop_seconds,
                                     config.front_end.sample_rate)

    def subset(indices: list[int], *, with_unlabelled: bool = False) -> SegmentDataset:
        added = extra.waveforms if with_unlabelled else []
        unknown = np.full(len(class_names), np.nan, dtype=np.float32)
        return SegmentDataset([decoded.waveforms[i] for i in indices] + added,
                              [labels[i] for i in indices] + [unknown] * len(added),
                              segment_samples=segment_samples, hop_samples=hop_samples,
                              events=None if events is None
                              else [events[i] for i in indices] + [[]] * len(added),
                              sample_rate=config.front_end.sample_rate,
                              event_overlap_fraction=config.segments.event_overlap_fraction,
                              frame_seconds=getattr(task, "frame_seconds", None))

    train_set = subset(train_index, with_unlabelled=True)
    validation_set = subset(validation_index)
    inputs = ({"folders": [str(f) for f in folders]} if manifest is None
              else {"manifest": str(manifest.path)})
    if unlabelled:
        inputs["unlabelled"] = [str(f) for f in unlabelled]
    skipped = decoded.skipped + extra.skipped
    summary = {"class_names": class_names, **inputs,
               "train_files": len(train_index), "validation_files": len(validation_index),
               "unlabelled_files": len(extra.waveforms),
               "train_segments": len(train_set), "validation_segments": len(validation_set),
               "skipped_files": [[str(p), reason] for p, reason in skipped]}
    return PreparedData(class_names, train_set, validation_set, summary, skipped)


def _unlabelled_files(folders: Sequence[str | os.PathLike], task: Task,
                      training: TrainingConfig) -> list[LabelledFile]:
    """The audio files of the unlabelled folders (none: an empty list), checked before
    any decoding: they need a frame task and the mean teacher."""
    if not folders:
        return []
    if not isinstance(task, FrameDetection):
        raise DeepAudioError(f"unlabelled clips train a frame detector only (mean teacher; "
                             f"a manifest with onsets and offsets), not a {task.name} model")
    if training.mean_teacher_weight == 0:
        raise ConfigError("unlabelled clips need the mean teacher: mean_teacher_weight is 0")
    files = [LabelledFile(path, -1) for folder in folders for path in list_audio_files(folder)]
    if not files:
        raise DeepAudioError("no audio files in the unlabelled folder(s) "
                             + ", ".join(f"'{printable(f)}'" for f in folders))
    return files


def _unlabelled_rows(manifest: Manifest | None, task: Task, training: TrainingConfig
                     ) -> list[LabelledFile]:
    """The manifest's unlabelled clips that train a frame detector's mean teacher (none in
    the validation fold); other models leave them out, with a warning."""
    if manifest is None or not manifest.unlabelled:
        return []
    if not isinstance(task, FrameDetection) or training.mean_teacher_weight == 0:
        logger.warning("%d manifest row(s) without a label left out: unlabelled clips train "
                       "a frame detector's mean teacher only (mean_teacher_weight > 0)",
                       len(manifest.unlabelled))
        return []
    return [LabelledFile(clip.path, -1) for clip in manifest.unlabelled
            if training.validation_fold is None or clip.fold != training.validation_fold]


def train_model(folders: Sequence[str | os.PathLike] | None = None,
                output: str | os.PathLike | None = None, *,
                manifest: str | os.PathLike | Manifest | None = None,
                audio_root: str | os.PathLike | None = None, config: Config | None = None,
                progress: bool = True, resume: bool = False,
                unlabelled: Sequence[str | os.PathLike] = (), **overrides: Any
                ) -> TrainingResult:
    """Train the CNN on class folders or a manifest and write the best model to ``output``.

    Parameters
    ----------
    folders : sequence of paths
        One folder per class; the folder's name is the class name; audio files are
        found recursively. Or, instead:
    manifest : path, paths or Manifest
        A CSV/TSV of clips and labels (see :mod:`deep_audio.data.manifest`), or several
        read as one (a strong and a weak set; ``audio_root`` one folder per file). With the
        ``task`` setting ``auto``, events (onset/offset rows) train a frame-level
        detector (docs/frame_detection.md) and clips with several labels a multi-label
        tagger. Rows that cannot be used are reported by line and left out.
    audio_root : path, optional
        Folder the manifest's paths are relative to (default: the manifest's folder).
    output : str or PathLike
        Model name or path; a bare name goes to ``config.training.models_dir`` and
        ``.pt`` is added when missing (``"cnn"`` and ``"cnn.pt"`` are one file).
    config : Config, optional
        Settings; default :func:`deep_audio.config.load_config`.
    progress : bool
        Show tqdm progress bars.
    resume : bool
        Continue an interrupted run from ``<output>.checkpoint.pt`` (written after every
        epoch, removed when training ends).
    unlabelled : sequence of paths
        Folders of clips without labels for a frame detector: they train through a mean
        teacher (:mod:`deep_audio.training.mean_teacher`; ``mean_teacher_weight``), as
        the manifest's rows without a label do.
    **overrides
        Any setting by name, e.g. ``epochs=20, device="cpu", segment_seconds=1.0``.

    Returns
    -------
    TrainingResult
        The model path, the per-epoch log path, the best epoch's validation metrics and
        the files that were skipped because they could not be used.

    Examples
    --------
    >>> train_model(["data/classical", "data/metal"], "classical_vs_metal_cnn")  # doctest: +SKIP
    >>> train_model(manifest="meta/train.csv", audio_root="audio/",
    ...             output="tagger")  # doctest: +SKIP
    """
    if output is None or (folders is None) == (manifest is None):
        raise DeepAudioError("train_model needs an output name and either class folders "
                             "or a manifest")
    config = override(config or load_config(), **overrides)
    manifest = None if manifest is None else load_manifest(manifest, audio_root)
    task = task_for(config, manifest)
    with training_session(config.training) as (device, distributed):
        data = prepare_data(folders, config, task, distributed=distributed, manifest=manifest,
                            unlabelled=unlabelled)
        model = Classifier.seed(config, data.class_names, task).to(device)
        model.backbone.normalize.set_statistics(*band_statistics(
            model.backbone.front_end,
            DataLoader(data.train_set, batch_size=config.training.batch_size), device))
        return run_training(model, data, output, progress=progress, resume=resume,
                            distributed=distributed)


def task_for(config: Config, manifest: Manifest | None, *,
             frame_seconds: float | None = None) -> Task:
    """The task of the ``training.task`` setting; ``auto`` is multi-label when a
    manifest clip has several labels, frame detection when it has onsets. A frame task's
    frames are ``frame_seconds`` long (a pretrained backbone's own), by default those of
    the seed network ``config`` shapes."""
    several_labels = manifest is not None and manifest.multi_label
    if several_labels and config.training.task == "auto":
        logger.info("clips with several labels: training a multi-label model")
    task = make_task(config.training.task, several_labels=several_labels,
                     strong_labels=manifest is not None and manifest.strong)
    if frame_seconds is not None and isinstance(task, FrameDetection):
        return task.with_frame_seconds(frame_seconds)
    return frame_task(task, config)


@contextlib.contextmanager
def training_session(training: TrainingConfig) -> Iterator[tuple[torch.device, Distributed]]:
    """The device and, under torchrun, the process group of a training run, with the CPU
    threads and the seed set; the process group is left on exit. Shared by
    ``train_model`` and ``transfer_learning``."""
    distributed = distributed_from_environment()
    device = init_process_group(distributed, resolve_device(training.device))
    try:
        set_cpu_threads(training, distributed)
        torch.manual_seed(training.seed)
        yield device, distributed
    finally:
        shutdown()


def set_cpu_threads(training: TrainingConfig, distributed: Distributed) -> None:
    """Apply ``cpu_threads``; 0 keeps PyTorch's default, or in a distributed run gives
    each process its share of the cores."""
    if training.cpu_threads > 0:
        torch.set_num_threads(training.cpu_threads)
    elif distributed.enabled:
        torch.set_num_threads(cpu_threads_per_process(distributed))


def run_training(model: Classifier, data: PreparedData, output: str | os.PathLike, *,
                 metadata: dict[str, Any] | None = None, resume: bool = False,
                 progress: bool = True, distributed: Distributed = Distributed()
                 ) -> TrainingResult:
    """Fit ``model`` (on its device, with its config and task) on prepared data, saving
    the best epoch to ``output`` as it improves.

    Only parameters with ``requires_grad`` train. ``metadata`` is stored in the model
    file beside the data summary and the best epoch's metrics. In a distributed run only
    rank 0 writes files; every process returns the same result.
    """
    config, training = model.config, model.config.training
    device = next(model.parameters()).device
    if distributed.enabled:  # same initial weights (DDP broadcasts them), other dropout
        torch.manual_seed(training.seed + distributed.rank)
    model_path = resolve_model_path(output, training.models_dir)
    history_path = model_path.with_suffix(".history.csv")
    train_loader, validation_loader = make_loaders(data, training, device, distributed)
    started = time.time()
    report = Report(model_path, history_path, data.class_names)
    callbacks = [EarlyStopping(training)]
    if distributed.is_main:
        saved = {**data.summary, **(metadata or {}), "processes": distributed.world_size}
        callbacks = [History(history_path),
                     SaveBest(model_path, lambda: {**saved,
                                                   "training_seconds": time.time() - started}),
                     Checkpoint(model_path.with_suffix(".checkpoint.pt"), resume=resume),
                     *callbacks, report]
        if isinstance(model.task, FrameDetection) and data.validation_set.strong:
            callbacks.insert(2, TunePostProcessing(
                model_path, data.validation_set,
                lambda: {**saved, "training_seconds": time.time() - started}))
    elif resume:  # every process resumes from the one checkpoint
        callbacks.insert(0, Checkpoint(model_path.with_suffix(".checkpoint.pt"), resume=True))
    weights = None
    if training.class_weighting:
        weights = torch.tensor(model.task.loss_weights(data.train_set.segment_labels(),
                                                       len(data.class_names)),
                               dtype=torch.float32)
    mean_teacher = data.summary.get("unlabelled_files", 0) > 0
    result = fit(model, train_loader, validation_loader, training, callbacks=callbacks,
                 augment=_augmentation(config, model), loss_weights=weights,
                 mean_teacher=mean_teacher, distributed=distributed, progress=progress)
    if distributed.is_main:
        if data.skipped_files:
            logger.warning("%d file(s) skipped:\n%s", len(data.skipped_files),
                           "\n".join(f"  {reason}" for _, reason in data.skipped_files))
        logger.info("best epoch %d: %s; model: %s", result.best_epoch,
                    format_validation(result.best_metrics), model_path)
    return TrainingResult(model_path=model_path, history_path=history_path,
                          class_names=data.class_names, best_epoch=result.best_epoch,
                          metrics=result.best_metrics, skipped_files=data.skipped_files,
                          report_path=report.path)


def make_loaders(data: PreparedData, training: TrainingConfig, device: torch.device,
                 distributed: Distributed = Distributed()) -> tuple[DataLoader, DataLoader]:
    """Shuffled training and ordered validation loaders of the prepared segments.

    Distributed, each process gets a ``DistributedSampler`` share of the training set
    (reshuffled per epoch by ``fit``) and every ``world_size``-th validation segment, so
    the shares add up to the whole validation set exactly once.
    """
    workers = resolve_num_workers(training.num_workers, device, distributed)
    options = {"batch_size": training.batch_size, "num_workers": workers,
               "pin_memory": device.type == "cuda", "persistent_workers": workers > 0}
    validation_set = data.validation_set
    if distributed.enabled:
        sampler = DistributedSampler(data.train_set, num_replicas=distributed.world_size,
                                     rank=distributed.rank, shuffle=True, seed=training.seed)
        train_loader = DataLoader(data.train_set, sampler=sampler, **options)
        validation_set = Subset(validation_set, range(distributed.rank, len(validation_set),
                                                      distributed.world_size))
    else:
        train_loader = DataLoader(data.train_set, shuffle=True, **options,
                                  generator=torch.Generator().manual_seed(training.seed))
    return train_loader, DataLoader(validation_set, shuffle=False, **options)


def resolve_num_workers(num_workers: int, device: torch.device,
                        distributed: Distributed = Distributed()) -> int:
    """``num_workers`` as given, or for -1 (auto): 0 on a CPU, where reading segments is
    cheap and the model needs every core; on a GPU up to 4 per process."""
    if num_workers >= 0:
        return num_workers
    if device.type == "cpu":
        return 0
    return min(4, cpu_threads_per_process(distributed))


def _augmentation(config: Config, model: Classifier) -> Augmentation | None:
    backgrounds = (load_backgrounds(config.augmentation.background_folder,
                                    config.front_end.sample_rate)
                   if config.augmentation.background_folder else None)
    augment = Augmentation.from_config(config.augmentation, config.front_end, backgrounds)
    if not augment.enabled:
        return None
    if augment.masks_spectrogram and not model.backbone.spectrogram_features:
        raise ConfigError("time stretches, band shifts and spectrogram masks need a log-mel "
                          f"front end; the {model.backbone.name} backbone brings its own "
                          "feature extractor: "
                          "set time_stretch, spec_time_masks, spec_freq_masks and "
                          "freq_shift_bands to 0")
    if augment.time_shift_samples and model.frame_level:
        raise ConfigError(f"time_shift_seconds={config.augmentation.time_shift_seconds} "
                          "shifts the waveform but not a frame model's frame targets: set "
                          "it to 0 for frame detection (docs/frame_detection.md)")
    logger.info("augmentation: %s", augment.extra_repr())
    return augment


def format_validation(metrics: dict[str, Any]) -> str:
    """The best epoch's validation figures in words (single- or multi-label; a frame
    model's event scores at its tuned post-processing)."""
    if "val_psds1" in metrics:
        return (f"validation frame mAP {metrics['val_map']:.3f}, PSDS1 "
                f"{metrics['val_psds1']:.3f}, PSDS2 {metrics['val_psds2']:.3f}, event F1 "
                f"{metrics['val_event_f1']:.3f} (tuned post-processing)")
    if "val_map" in metrics:
        return f"validation mAP {metrics['val_map']:.3f}, macro-F1 {metrics['val_macro_f1']:.3f}"
    return (f"validation accuracy {metrics['val_accuracy']:.3f}, "
            f"macro-F1 {metrics['val_macro_f1']:.3f}")


def load_manifest(manifest: str | os.PathLike | Manifest, audio_root: str | os.PathLike | None
                  ) -> Manifest:
    """The manifest read, its left-out rows logged; a Manifest given is returned as is
    (its rows are the caller's to report)."""
    if isinstance(manifest, Manifest):
        return manifest
    manifest = read_manifest(manifest, audio_root=audio_root)
    if manifest.problems:
        logger.warning("%d manifest row(s) left out:\n%s", len(manifest.problems),
                       manifest.format_problems())
    return manifest


def _check_validation_fold(manifest: Manifest | None, validation_fold: str) -> None:
    """``validation_fold`` must leave clips of ``manifest`` on both sides of the split;
    class folders have no folds."""
    if manifest is None:
        raise ConfigError(f"validation_fold={validation_fold!r} needs a manifest with a "
                          "fold column; class folders are split by validation_fraction")
    inside = sum(clip.fold == validation_fold for clip in manifest.clips)
    if not inside or inside == len(manifest.clips):
        raise DeepAudioError(
            f"manifest '{printable(manifest.path)}': validation_fold {validation_fold!r} "
            f"leaves {len(manifest.clips) - inside} training and {inside} validation files "
            f"(its folds: {', '.join(manifest.folds) or 'none'})")


def _clip_events(clips: list, class_names: list[str]) -> list[list[tuple[float, float, int]]]:
    """Per clip, its events as ``(onset_seconds, offset_seconds, class_index)``."""
    index = {name: i for i, name in enumerate(class_names)}
    return [[(e.onset_seconds, e.offset_seconds, index[e.label]) for e in clip.events]
            for clip in clips]


def _check_classes(class_names: list[str], labels: list) -> None:
    if labels and np.ndim(labels[0]) == 1:  # multi-label: every class needs a positive
        present = set(np.flatnonzero(np.asarray(labels).sum(axis=0)).tolist())
    else:
        present = set(labels)
    empty = [name for index, name in enumerate(class_names) if index not in present]
    if empty:
        raise DeepAudioError(f"no usable audio left for class(es) {empty} "
                             "after skipping unreadable files")
