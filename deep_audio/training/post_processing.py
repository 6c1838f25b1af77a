"""A frame model's event post-processing tuned on its validation clips when training ends
(docs/frame_detection.md): per class the median filter, threshold and merge gap of
:func:`deep_audio.events.tuning.tune_post_processing`, stored in the model's task."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from deep_audio.data.segments import SegmentDataset
from deep_audio.events import SegmentScores, detect_events, evaluate_events
from deep_audio.events.detection import median_filtered
from deep_audio.events.tuning import tune_post_processing
from deep_audio.models import Classifier
from deep_audio.predict.classify import as_predictor
from deep_audio.predict.long_recordings import stitch_frames
from deep_audio.predict.predictor import Predictor
from deep_audio.tasks import FrameDetection

logger = logging.getLogger(__name__)


def validation_timelines(model: Classifier | Predictor, dataset: SegmentDataset, *,
                         sample_rate: int) -> tuple[dict, dict, dict]:
    """Each validation clip's frame posteriors (by ``model``, a frame detector or a
    predictor of one, such as an ensemble) and reference events, as long recordings.

    The segments of a clip are stitched into one timeline of frames
    (:func:`~deep_audio.predict.long_recordings.stitch_frames`), and so are its frame
    targets; the reference events are the runs of positive target frames. Clips with
    labels only (unknown frames) are left out.

    Returns
    -------
    reference : dict of clip name to list of Event
    scores : dict of clip name to SegmentScores
    durations_seconds : dict of clip name to float
    """
    frame_seconds = model.task.frame_seconds
    predictor = as_predictor(model)
    reference, scores, durations = {}, {}, {}
    names = list(model.class_names)
    for file in np.unique(dataset.file_index):
        rows = np.flatnonzero(dataset.file_index == file)
        if np.isnan(dataset.targets[rows][:, :-1]).any():
            continue  # weak labels: no frame to compare
        posteriors = predictor.posteriors(
            np.stack([dataset[int(i)][0].numpy() for i in rows]))
        starts_seconds = dataset.starts[rows] / sample_rate
        starts, ends, frames = stitch_frames(starts_seconds, posteriors, frame_seconds)
        _, _, targets = stitch_frames(starts_seconds,
                                      dataset.targets[rows][:, :posteriors.shape[1]],
                                      frame_seconds)
        name = f"clip{int(file)}"
        scores[name] = SegmentScores(starts, ends, frames)
        reference[name] = detect_events(starts, ends, targets, names, thresholds=0.5)
        durations[name] = max(float(ends[-1]), len(dataset.waveforms[file]) / sample_rate)
    return reference, scores, durations


def tune_on_validation(model: Classifier | Predictor, dataset: SegmentDataset
                       ) -> dict[str, Any]:
    """Tune ``model``'s event post-processing on ``dataset`` (its validation segments),
    set the tuned task on ``model`` (a frame detector, or a predictor of frames such as
    an :class:`~deep_audio.predict.ensemble.Ensemble`, tuned as one model) and return
    the validation scores at the tuned settings: ``val_event_f1``, ``val_psds1``,
    ``val_psds2`` (PSDS on the tuned median-filtered curves) and the untuned event F1
    ``val_event_f1_untuned``."""
    task: FrameDetection = model.task
    config = model.config
    names = list(model.class_names)
    reference, scores, durations = validation_timelines(
        model, dataset, sample_rate=config.front_end.sample_rate)
    default = task.event_settings(len(names), config.inference)
    if not any(reference.values()):
        logger.warning("no validation clip has events: post-processing left untuned")
        return {}

    def events_at(settings: dict[str, np.ndarray]) -> dict:
        return {name: detect_events(s.starts_seconds, s.ends_seconds, s.posteriors, names,
                                    **settings,
                                    min_duration_seconds=config.inference.min_region_seconds)
                for name, s in scores.items()}

    untuned = evaluate_events(reference, events_at(default), class_names=names,
                              durations_seconds=durations)
    tuned = tune_post_processing(
        reference, scores, class_names=names, durations_seconds=durations,
        default_thresholds=default["thresholds"],
        default_median_filter_seconds=config.inference.frame_median_filter_seconds,
        default_min_gap_seconds=config.inference.event_min_gap_seconds)
    model.task = task.with_post_processing(event_thresholds=tuned.thresholds,
                                           median_filter_seconds=tuned.median_filter_seconds,
                                           min_gap_seconds=tuned.min_gap_seconds)
    settings = model.task.event_settings(len(names), config.inference)
    filtered = {name: SegmentScores(s.starts_seconds, s.ends_seconds, median_filtered(
        s.starts_seconds, s.ends_seconds, s.posteriors, settings["median_filter_seconds"]))
        for name, s in scores.items()}
    result = evaluate_events(reference, events_at(settings), class_names=names,
                             durations_seconds=durations, scores=filtered)
    metrics = {"val_event_f1_untuned": untuned.event_f1, "val_event_f1": result.event_f1,
               "val_segment_f1": result.segment_f1,
               **{f"val_{k}": v for k, v in result.psds.items()}}
    logger.info("post-processing tuned on %d validation clips: event F1 %.3f (untuned %.3f), "
                "PSDS1 %.3f, PSDS2 %.3f", len(scores), result.event_f1, untuned.event_f1,
                metrics.get("val_psds1", float("nan")), metrics.get("val_psds2", float("nan")))
    return metrics
