"""Self-contained HTML reports (plotly): look, click, listen, offline.

One module per report, all built from :mod:`deep_audio.viz.html`:

- :mod:`~deep_audio.viz.evaluation`: scores, clickable confusion matrix, files with
  audio, spectrograms and segment posteriors (``classification_report --html``);
- :mod:`~deep_audio.viz.multilabel`: per-class AP and precision-recall curves from
  binary targets and scores (computed by :mod:`deep_audio.metrics`);
- :mod:`~deep_audio.viz.training`: curves per epoch and the validation confusion
  matrix (``models/NAME.report.html``);
- :mod:`~deep_audio.viz.timeline`: a long recording's posteriors, regions and
  annotation, playable from any point (``segment_recording --html``);
- :mod:`~deep_audio.viz.features`: the seed's spectrogram and 2-feature scatter
  (``feature_plots ... --html``).

Names are imported on first use, so importing the package does not import plotly.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "evaluation_report": "deep_audio.viz.evaluation",
    "evaluation_page": "deep_audio.viz.evaluation",
    "add_multilabel_section": "deep_audio.viz.multilabel",
    "multilabel_report": "deep_audio.viz.multilabel",
    "training_report": "deep_audio.viz.training",
    "timeline_report": "deep_audio.viz.timeline",
    "segmentation_report": "deep_audio.viz.timeline",
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
