"""The long-recording page: segment posteriors and regions over time, playable anywhere.

Posterior curves sit above one lane of predicted regions and, when an annotation is given,
a second lane of reference regions. The x axis zooms (drag, or the range slider), and a
click over the curves plays the recording from that time (a click on a region, from its
start); a line follows the playback.

Regions and annotations are :class:`~deep_audio.events.spans.Event` (or
``(onset_seconds, offset_seconds, label)`` tuples), e.g. from
:func:`~deep_audio.events.annotations.read_annotation`.
"""

from __future__ import annotations

import base64
import html
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from deep_audio.errors import DeepAudioError
from deep_audio.events.spans import Event, as_events
from deep_audio.io.audio import audio_duration, printable, read_audio
from deep_audio.viz.html import (AUDIO_SAMPLE_RATE, Page, encode_opus, finite,
                                     relative_url, size_text)

logger = logging.getLogger(__name__)

# Longer recordings are linked, not embedded: at about 24 kbit/s, 20 minutes are 3.6 MB.
EMBED_MAX_SECONDS = 1200.0
OTHER_COLOUR = "#bbbbbb"

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
    starts = np.asarray(starts_seconds, dtype=np.float64)
    centres = (starts + np.asarray(ends_seconds, dtype=np.float64)) / 2
    if posteriors.shape != (len(centres), len(names)):
        raise DeepAudioError(f"posteriors {posteriors.shape} must be (n_segments="
                             f"{len(centres)}, n_classes={len(names)})")
    truth = as_events(truth, "truth") if truth is not None else None
    regions = as_events(regions, "regions")
    palette = qualitative.Plotly
    colours = {name: palette[i % len(palette)] for i, name in enumerate(names)}
    lanes = [("predicted", regions)] + ([("annotation", truth)] if truth is not None else [])

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
    page.data.update(class_names=names, regions=_rows(regions),
                     truth=_rows(truth) if truth is not None else None,
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
