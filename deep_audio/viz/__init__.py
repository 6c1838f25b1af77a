"""Pictures of results, one module per picture, each as an image (matplotlib) and as a
self-contained HTML page (plotly): look, click, listen, offline.

- :mod:`~deep_audio.viz.evaluation`: the confusion matrix (``plot_confusion_matrix``) and
  the evaluation page: scores, clickable confusion matrix, files with audio, spectrograms
  and segment posteriors (``deep-audio report --html``);
- :mod:`~deep_audio.viz.multilabel`: per-class scores as bars (``plot_class_scores``), and
  per-class AP and precision-recall curves from binary targets and scores (computed by
  :mod:`deep_audio.metrics`);
- :mod:`~deep_audio.viz.training`: curves per epoch and the validation confusion matrix
  (``models/NAME.report.png`` and ``.html``);
- :mod:`~deep_audio.viz.timeline`: a long recording's posteriors, regions and annotation
  (``plot_timeline``), the lane-per-class picture of sound events
  (``plot_event_timeline``), and the page playable from any point;
- :mod:`~deep_audio.viz.features`: the seed's spectrogram and 2-feature scatter over the
  decision regions.

Building blocks: :mod:`~deep_audio.viz.html` (the page, audio clips) and
:mod:`~deep_audio.viz.figures` (headless matplotlib, atomic save).

Names are imported on first use, and each picture imports matplotlib or plotly only when
it is drawn, so importing the package imports neither.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "plot_confusion_matrix": "deep_audio.viz.evaluation",
    "evaluation_report": "deep_audio.viz.evaluation",
    "evaluation_page": "deep_audio.viz.evaluation",
    "plot_class_scores": "deep_audio.viz.multilabel",
    "add_multilabel_section": "deep_audio.viz.multilabel",
    "multilabel_report": "deep_audio.viz.multilabel",
    "plot_training_report": "deep_audio.viz.training",
    "training_report": "deep_audio.viz.training",
    "plot_timeline": "deep_audio.viz.timeline",
    "plot_event_timeline": "deep_audio.viz.timeline",
    "timeline_report": "deep_audio.viz.timeline",
    "segmentation_report": "deep_audio.viz.timeline",
    "plot_spectrogram": "deep_audio.viz.features",
    "plot_decision_surface": "deep_audio.viz.features",
    "spectrogram_report": "deep_audio.viz.features",
    "feature_space_report": "deep_audio.viz.features",
    "Page": "deep_audio.viz.html",
    "AudioClips": "deep_audio.viz.html",
    "read_page_data": "deep_audio.viz.html",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'deep_audio.viz' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
