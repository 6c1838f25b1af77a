"""Labelled time spans: one type, one file reader and writer, timelines made into spans,
and their scores.

- :mod:`~deep_audio.events.spans`: :class:`Event` (``Region`` is the same type), the one
  labelled span;
- :mod:`~deep_audio.events.annotations`: :func:`read_annotation` and
  :func:`write_annotation` (DCASE TSV, Audacity labels, CSV; one set of rules);
- :mod:`~deep_audio.events.detection`: posteriors over time to regions
  (:func:`make_regions`, single-label) or events (:func:`detect_events`, multi-label),
  with one segment-ownership rule (:func:`owned_bounds`);
- :mod:`~deep_audio.events.scoring`: sed_eval and PSDS (:func:`evaluate_events`).

Importing this package imports numpy only; scipy, sed_eval and sed_scores_eval are
imported on use.
"""

from deep_audio.events.annotations import read_annotation, write_annotation
from deep_audio.events.detection import (
                                         detect_events,
                                         make_regions,
                                         median_filter_posteriors,
                                         moving_average,
                                         owned_bounds,
)
from deep_audio.events.scoring import (
                                         PSDS_SCENARIOS,
                                         DetectionScores,
                                         SegmentScores,
                                         evaluate_events,
                                         psds_scores,
)
from deep_audio.events.spans import Event, Region, as_events, events_by_filename, label_indices

__all__ = ["PSDS_SCENARIOS", "DetectionScores", "Event", "Region", "SegmentScores",
           "as_events", "detect_events", "evaluate_events", "events_by_filename",
           "label_indices", "make_regions", "median_filter_posteriors", "moving_average",
           "owned_bounds", "psds_scores", "read_annotation", "write_annotation"]
