"""Self-contained HTML reports (plotly): look, click, listen, offline.

One module per report, all built from :mod:`deep_audio.reports.html`:

- :mod:`~deep_audio.reports.evaluation`: scores, clickable confusion matrix, files with
  audio, spectrograms and segment posteriors (``classification_report --html``);
- :mod:`~deep_audio.reports.multilabel`: per-class AP and precision-recall curves from
  binary targets and scores;
- :mod:`~deep_audio.reports.training`: curves per epoch and the validation confusion
  matrix (``models/NAME.report.html``);
- :mod:`~deep_audio.reports.timeline`: a long recording's posteriors, regions and
  annotation, playable from any point (``segment_recording --html``);
- :mod:`~deep_audio.reports.features`: the seed's spectrogram and 2-feature scatter
  (``feature_plots ... --html``).

Names are imported on first use, so importing the package does not import plotly.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "evaluation_report": "deep_audio.reports.evaluation",
    "evaluation_page": "deep_audio.reports.evaluation",
    "MultiLabelScores": "deep_audio.reports.multilabel",
    "multilabel_scores": "deep_audio.reports.multilabel",
    "add_multilabel_section": "deep_audio.reports.multilabel",
    "multilabel_report": "deep_audio.reports.multilabel",
    "training_report": "deep_audio.reports.training",
    "timeline_report": "deep_audio.reports.timeline",
    "segmentation_report": "deep_audio.reports.timeline",
    "spectrogram_report": "deep_audio.reports.features",
    "feature_space_report": "deep_audio.reports.features",
    "Page": "deep_audio.reports.html",
    "AudioClips": "deep_audio.reports.html",
    "read_page_data": "deep_audio.reports.html",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'deep_audio.reports' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
