"""A timeline picture of sound event detection: a lane per class.

Each class gets one horizontal lane: its posterior over time as a heat strip (each segment
drawn over the time it owns, :func:`deep_audio.events.detection.owned_bounds`), the
detected events as bars under it and, when given, the annotated events as a second bar
row. Overlapping events of different classes stay readable, which a single bar row of
argmax regions (:func:`deep_audio.viz.png.plot_timeline`) cannot show.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from deep_audio.errors import DeepAudioError
from deep_audio.events.detection import owned_bounds
from deep_audio.events.spans import Event, as_events
from deep_audio.viz.png import _pyplot, _save


def plot_event_timeline(
    starts_seconds: np.ndarray, ends_seconds: np.ndarray, posteriors: np.ndarray,
    class_names: Sequence[str], path: str | os.PathLike, *,
    events: Sequence[Event] = (),
    truth: Sequence[Event | tuple[float, float, str]] | None = None,
    thresholds: Sequence[float] | float | None = None, title: str = "",
) -> Path:
    """Save a lane-per-class timeline of posteriors, detected and annotated events.

    Parameters
    ----------
    starts_seconds, ends_seconds : np.ndarray, shape (n_segments,)
        Where each segment lies, in time order.
    posteriors : np.ndarray, shape (n_segments, n_classes)
        Per-class probabilities in [0, 1]; drawn as a heat strip (white 0, dark 1).
    class_names : sequence of str, length n_classes
        One lane each, top to bottom in this order.
    path : str or PathLike
        Output file; ``.png``, ``.svg``, ``.pdf`` or ``.html`` (a page holding the SVG).
    events : sequence of Event
        Detected events, drawn as bars in their class's lane (labels outside
        ``class_names`` are an error).
    truth : sequence of Event or (onset_seconds, offset_seconds, label), optional
        Annotated events, drawn as a second bar row in each lane.
    thresholds : float or sequence of n_classes floats, optional
        Written next to each lane's name.
    title : str

    Returns
    -------
    Path
        ``path``.
    """
    plt = _pyplot()
    from matplotlib.patches import Patch

    posteriors = np.asarray(posteriors, dtype=float)
    truth = None if truth is None else as_events(truth, "truth")
    bounds = owned_bounds(starts_seconds, ends_seconds)
    n_classes = len(class_names)
    if posteriors.shape != (len(bounds) - 1, n_classes):
        raise DeepAudioError(f"posteriors {posteriors.shape} must be "
                             f"({len(bounds) - 1}, {n_classes})")
    lane = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({e.label for e in [*events, *(truth or [])]} - set(lane))
    if unknown:
        raise DeepAudioError(f"event labels {unknown} are not among the classes "
                             f"{list(class_names)}")
    if thresholds is not None:
        thresholds = np.broadcast_to(np.asarray(thresholds, dtype=float), (n_classes,))

    # lane i spans y in [i, i + 1] (y grows downwards, first class on top): the heat
    # strip, under it the detected events, under those the annotated ones
    strip = (0.05, 0.55) if truth is not None else (0.05, 0.65)
    detected_row = (0.58, 0.75) if truth is not None else (0.7, 0.95)
    truth_row = (0.78, 0.95)
    end_seconds = float(bounds[-1])
    fig, ax = plt.subplots(figsize=(12, 1.0 + 0.55 * n_classes))
    image = None
    for i in range(n_classes):
        y = np.array([i + strip[0], i + strip[1]])
        image = ax.pcolormesh(bounds, y, posteriors[None, :, i], cmap="Greys", vmin=0.0,
                              vmax=1.0, shading="flat")
    colours = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(class_names)}
    for row, spans, hatch in ((detected_row, events, None), (truth_row, truth or [], "")):
        for e in spans:
            ax.broken_barh([(e.onset_seconds, e.duration_seconds)],
                           (lane[e.label] + row[0], row[1] - row[0]),
                           facecolor=colours[e.label] if hatch is None else "none",
                           edgecolor=colours[e.label], linewidth=1.0)
    for i in range(1, n_classes):
        ax.axhline(i, color="lightgrey", linewidth=0.6)
    names = [name if thresholds is None else f"{name} (t={thresholds[i]:.2f})"
             for i, name in enumerate(class_names)]
    ax.set(yticks=np.arange(n_classes) + 0.5, yticklabels=names, ylim=(n_classes, 0),
           xlim=(min(0.0, float(bounds[0])), end_seconds), xlabel="time (s)", title=title)
    handles = [Patch(facecolor="grey", label="detected")]
    if truth is not None:
        handles.append(Patch(facecolor="none", edgecolor="grey", label="annotated"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0),
              fontsize="small")
    if image is not None:
        fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01, label="posterior",
                     location="right", anchor=(0.0, 0.0), shrink=0.6)
    fig.tight_layout()
    return _save(fig, plt, path)
