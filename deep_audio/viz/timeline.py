"""A long recording over time: segment posteriors, regions or events, an annotation.

Three forms:

- :func:`plot_timeline` (PNG): posterior curves above one lane of predicted regions and,
  when an annotation is given, a second lane of reference regions;
- :func:`plot_event_timeline` (PNG), for sound event detection: a lane per class with its
  posterior as a heat strip, the detected events and the annotated ones, so that
  overlapping events of different classes stay readable;
- :func:`timeline_report` (HTML): the curves and lanes of :func:`plot_timeline` on a page
  with the recording. The x axis zooms (drag, or the range slider), and a click over the
  curves plays the recording from that time (a click on a region, from its start); a line
  follows the playback.

Regions and annotations are :class:`~deep_audio.events.spans.Event` (or
``(onset_seconds, offset_seconds, label)`` tuples), e.g. from
:func:`~deep_audio.events.annotations.read_annotation`.
"""

from __future__ import annotations

import base64
import html
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deep_audio.errors import DeepAudioError
from deep_audio.events.detection import owned_bounds
from deep_audio.events.spans import Event, as_events
from deep_audio.io.audio import audio_duration, printable, read_audio
from deep_audio.viz.figures import pyplot, save
from deep_audio.viz.html import (
    AUDIO_SAMPLE_RATE,
    Page,
    encode_opus,
    finite,
    relative_url,
    size_text,
)

logger = logging.getLogger(__name__)

# Longer recordings are linked, not embedded: at about 24 kbit/s, 20 minutes are 3.6 MB.
EMBED_MAX_SECONDS = 1200.0
OTHER_COLOUR = "#bbbbbb"

def plot_timeline(
    starts_seconds: np.ndarray, ends_seconds: np.ndarray, posteriors: np.ndarray,
    class_names: Sequence[str], path: str | os.PathLike, *,
    regions: Sequence[Event | tuple[float, float, str]] = (),
    truth: Sequence[Event | tuple[float, float, str]] | None = None, title: str = "",
) -> Path:
    """Save segment posteriors over time, with labelled regions (and an annotation).

    Parameters
    ----------
    starts_seconds, ends_seconds : np.ndarray, shape (n_segments,)
        Where each segment lies; its posterior is drawn at its centre.
    posteriors : np.ndarray, shape (n_segments, n_classes)
        Class probabilities per segment (raw or smoothed).
    class_names : sequence of str
    path : str or PathLike
        Output file; ``.png``, ``.svg``, ``.pdf`` or ``.html`` (a page holding the SVG).
    regions : sequence of Event or (onset_seconds, offset_seconds, label)
        Predicted regions, drawn as a bar under the curves.
    truth : sequence of Event or (onset_seconds, offset_seconds, label), optional
        Reference regions, drawn as a second bar; labels that are no class are grey.
    """
    plt = pyplot()
    from matplotlib.patches import Patch

    posteriors = np.asarray(posteriors, dtype=float)
    centres = _centres(starts_seconds, ends_seconds)
    colours = _tab10(plt, class_names)
    lanes = _lanes(regions, truth)
    fig, (curves, bars) = plt.subplots(
        2, 1, sharex=True, figsize=(12, 3.5 + 0.6 * len(lanes)),
        gridspec_kw={"height_ratios": [4, 0.6 * len(lanes)]})
    for index, name in enumerate(class_names):
        curves.plot(centres, posteriors[:, index], color=colours[name], linewidth=1.2,
                    label=name)
    curves.set(ylabel="posterior", ylim=(-0.02, 1.02), title=title)
    curves.grid(alpha=0.3)
    curves.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    for row, (_, events) in enumerate(lanes):
        for e in events:
            bars.broken_barh([(e.onset_seconds, e.duration_seconds)], (row + 0.1, 0.8),
                             color=colours.get(e.label, "lightgrey"))
    bars.set(yticks=[row + 0.5 for row in range(len(lanes))],
             yticklabels=[lane for lane, _ in lanes], ylim=(0, len(lanes)),
             xlabel="time (s)")
    unknown = {e.label for _, events in lanes for e in events} - set(colours)
    if unknown:
        bars.legend(handles=[Patch(color="lightgrey", label=", ".join(sorted(unknown)))],
                    loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    fig.tight_layout()
    return save(fig, path)


def plot_event_timeline(
    starts_seconds: np.ndarray, ends_seconds: np.ndarray, posteriors: np.ndarray,
    class_names: Sequence[str], path: str | os.PathLike, *,
    events: Sequence[Event] = (),
    truth: Sequence[Event | tuple[float, float, str]] | None = None,
    thresholds: Sequence[float] | float | None = None, title: str = "",
) -> Path:
    """Save a lane-per-class timeline of posteriors, detected and annotated events.

    Each segment's posterior is drawn over the time it owns
    (:func:`deep_audio.events.detection.owned_bounds`).

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
    plt = pyplot()
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
    colours = _tab10(plt, class_names)
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
    return save(fig, path)



TIMELINE_JS = r"""
const player = document.getElementById('player');
const timeline = document.getElementById('timeline');

function playFrom(seconds) {
  if (!player.getAttribute('src')) return;
  player.currentTime = seconds;
  player.play().catch(() => {});  // a browser may refuse to play before a user gesture
}

timeline.on('plotly_click', event => {
  const point = event.points[0];
  playFrom(point.data.type === 'bar' ? point.customdata : point.x);
});
player.addEventListener('timeupdate', () => {
  Plotly.relayout(timeline, {'shapes[0].x0': player.currentTime,
                             'shapes[0].x1': player.currentTime});
});
"""


def timeline_report(
    starts_seconds: np.ndarray, ends_seconds: np.ndarray, posteriors: np.ndarray,
    class_names: Sequence[str], path: str | os.PathLike, *,
    regions: Sequence[Event | tuple[float, float, str]] = (),
    truth: Sequence[Event | tuple[float, float, str]] | None = None,
    audio_path: str | os.PathLike | None = None, link_audio: bool = False,
    embed_max_seconds: float = EMBED_MAX_SECONDS, title: str = "Recording",
) -> Path:
    """Write the timeline page of one recording.

    Parameters
    ----------
    starts_seconds, ends_seconds, posteriors, class_names
        The segments (``(n_segments,)``, seconds) and their class posteriors
        (``(n_segments, n_classes)``), drawn as curves through the segment centres.
    path : str or PathLike
        The ``.html`` file to write.
    regions : sequence of Event
        Predicted regions or events, the first lane.
    truth : sequence of Event, optional
        Annotated spans, a second lane; labels that are no class are drawn grey.
    audio_path : str or PathLike, optional
        The recording, for the player: embedded (Ogg Opus, about 24 kbit/s) when it
        lasts at most ``embed_max_seconds`` and ``link_audio`` is false, else linked by
        its path relative to the page.
    title : str
        Page heading.

    Returns
    -------
    Path
        ``path``.
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    names = list(class_names)
    posteriors = np.asarray(posteriors, dtype=np.float64)
    centres = _centres(starts_seconds, ends_seconds)
    if posteriors.shape != (len(centres), len(names)):
        raise DeepAudioError(f"posteriors {posteriors.shape} must be (n_segments="
                             f"{len(centres)}, n_classes={len(names)})")
    lanes = _lanes(regions, truth)
    palette = qualitative.Plotly
    colours = {name: palette[i % len(palette)] for i, name in enumerate(names)}

    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                           row_heights=[0.78, 0.22])
    for name in names:
        figure.add_trace(go.Scatter(
            x=finite(centres, 3), y=finite(posteriors[:, names.index(name)], 3), mode="lines",
            name=name, legendgroup=name, line={"color": colours[name], "width": 1.5},
            hovertemplate=f"{html.escape(name)} %{{y:.2f}} at %{{x:.2f}} s<extra></extra>"),
            row=1, col=1)
    shown = set(names)
    for lane, events in lanes:
        by_label: dict[str, list[tuple[float, float]]] = {}
        for event in events:
            by_label.setdefault(event.label, []).append((event.onset_seconds,
                                                         event.offset_seconds))
        for label, spans in by_label.items():
            onsets = [onset for onset, _ in spans]
            figure.add_trace(go.Bar(
                orientation="h", y=[lane] * len(spans), base=onsets,
                x=[offset - onset for onset, offset in spans], customdata=onsets,
                marker={"color": colours.get(label, OTHER_COLOUR)}, name=label,
                legendgroup=label, showlegend=label not in shown,
                hovertemplate=f"{html.escape(label)}: %{{base:.2f}}-%{{x:.2f}} s long"
                              "<extra>" + lane + "</extra>"), row=2, col=1)
            shown.add(label)
    figure.update_layout(
        # hovermode "x": a click anywhere over the curves picks the nearest segment.
        height=520, barmode="overlay", margin={"t": 30, "r": 20}, hovermode="x",
        # shapes[0] is the playhead, moved by the page's script.
        shapes=[{"type": "line", "xref": "x", "yref": "paper", "x0": 0, "x1": 0, "y0": 0,
                 "y1": 1, "line": {"color": "black", "width": 1}}])
    figure.update_yaxes(title_text="posterior", range=[-0.02, 1.02], row=1, col=1)
    figure.update_yaxes(type="category", categoryorder="array",
                        categoryarray=[lane for lane, _ in reversed(lanes)], row=2, col=1)
    figure.update_xaxes(title_text="time (s)", rangeslider={"visible": True,
                                                            "thickness": 0.06}, row=2, col=1)

    page = Page(title)
    page.add_html(f"<h1>{html.escape(title)}</h1>")
    audio, note = _audio(audio_path, path, link=link_audio, embed_max_seconds=embed_max_seconds)
    source = f' src="{html.escape(audio)}"' if audio else ""
    page.add_html(f'<p><audio id="player" controls preload="metadata"{source}></audio></p>'
                  f"<p class=\"hint\">{html.escape(note)} Click over the curves to play "
                  "from that time, a region to play from its start; drag to zoom, double-"
                  "click to zoom out.</p>")
    page.add_html(page.add_figure("timeline", figure))
    page.data.update(class_names=names, regions=_rows(lanes[0][1]),
                     truth=_rows(lanes[1][1]) if truth is not None else None,
                     n_segments=len(centres))
    page.scripts.append(TIMELINE_JS)
    return page.write(path)


def segmentation_report(segmentation, path: str | os.PathLike, *,
                        truth: Sequence[Event | tuple[float, float, str]] | None = None,
                        link_audio: bool = False,
                        embed_max_seconds: float = EMBED_MAX_SECONDS) -> Path:
    """:func:`timeline_report` of a :class:`~deep_audio.predict.long_recordings.
    RecordingSegmentation` (smoothed posteriors and its regions, or a multi-label model's
    events), with its recording."""
    return timeline_report(
        segmentation.starts_seconds, segmentation.ends_seconds, segmentation.smoothed,
        segmentation.class_names, path,
        regions=segmentation.regions or segmentation.events,
        truth=truth, audio_path=segmentation.path, link_audio=link_audio,
        embed_max_seconds=embed_max_seconds, title=printable(segmentation.path.name))


def _audio(audio_path, page_path, *, link: bool, embed_max_seconds: float
           ) -> tuple[str | None, str]:
    """The player's source and a sentence saying how the audio is included."""
    if audio_path is None:
        return None, "No recording was given: the page has no player."
    seconds = audio_duration(audio_path)
    if link or seconds > embed_max_seconds:
        why = ("" if link else f" (it lasts {seconds:.0f} s, over the "
               f"{embed_max_seconds:.0f} s embedding limit)")
        return (relative_url(audio_path, page_path),
                f"The recording is linked by its path relative to this page{why}.")
    samples, _ = read_audio(audio_path, sample_rate=AUDIO_SAMPLE_RATE)
    encoded = encode_opus(samples, AUDIO_SAMPLE_RATE)
    return ("data:audio/ogg;codecs=opus;base64," + base64.b64encode(encoded).decode("ascii"),
            f"The recording is embedded ({size_text(len(encoded))}, Ogg Opus).")


def _rows(events: Sequence[Event]) -> list[list]:
    """``[onset_seconds, offset_seconds, label]`` of each event, for the page data."""
    return [[e.onset_seconds, e.offset_seconds, e.label] for e in events]


def _centres(starts_seconds: np.ndarray, ends_seconds: np.ndarray) -> np.ndarray:
    """Each segment's centre in seconds, where its posterior is drawn: ``(n_segments,)``."""
    return (np.asarray(starts_seconds, dtype=np.float64)
            + np.asarray(ends_seconds, dtype=np.float64)) / 2


def _lanes(regions: Sequence[Event | tuple[float, float, str]],
           truth: Sequence[Event | tuple[float, float, str]] | None
           ) -> list[tuple[str, list[Event]]]:
    """The bar lanes under the curves, top first: predicted, then annotation if given."""
    lanes = [("predicted", as_events(regions, "regions"))]
    if truth is not None:
        lanes.append(("annotation", as_events(truth, "truth")))
    return lanes


def _tab10(plt, class_names: Sequence[str]) -> dict:
    """A matplotlib colour per class, in class order (tab10, repeating past ten)."""
    return {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(class_names)}
