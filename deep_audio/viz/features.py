"""The seed's two feature pictures: a file's spectrogram, and two features per class over a
classifier's decision surface.

Each as an image (:func:`plot_spectrogram`, :func:`plot_decision_surface`) and as a page
(:func:`spectrogram_report`, :func:`feature_space_report`: zoomable, hover names the file,
a click plays it).
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from deep_audio.errors import DeepAudioError
from deep_audio.io.audio import printable, read_audio
from deep_audio.viz.figures import pyplot, save
from deep_audio.viz.html import (
    AUDIO_SAMPLE_RATE,
    AudioClips,
    Page,
    encode_opus,
    finite,
    relative_url,
)

# Enough cells to look smooth, few enough to stay small in the page.
MAX_SPECTROGRAM_FRAMES = 800
MAX_SPECTROGRAM_BINS = 256

SPECTROGRAM_JS = r"""
const player = document.getElementById('player');
document.getElementById('spectrogram').on('plotly_click', event => {
  player.currentTime = event.points[0].x;
  player.play().catch(() => {});  // a browser may refuse to play before a user gesture
});
"""

SCATTER_JS = r"""
const player = document.getElementById('player');
document.getElementById('feature-space').on('plotly_click', event => {
  const point = event.points.find(p => p.customdata !== undefined);
  if (point === undefined) return;
  const file = REPORT.files[point.customdata];
  document.getElementById('now-playing').textContent = file.name;
  if (!file.audio.src) {
    player.removeAttribute('src');
    document.getElementById('now-playing').textContent += ': ' + file.audio.note;
    return;
  }
  player.src = file.audio.src;
  player.play().catch(() => {});
});
"""


def plot_spectrogram(
    magnitude: np.ndarray, path: str | os.PathLike, *, frequencies_hz: np.ndarray,
    times_seconds: np.ndarray, title: str = "Spectrogram", floor_db: float = -80.0,
) -> Path:
    """Save a magnitude spectrogram as an image, in dB relative to its maximum.

    Parameters
    ----------
    magnitude : np.ndarray, shape (n_bins, n_frames)
        Linear magnitudes (e.g. from
        :func:`deep_audio.features.handcrafted.spectrogram`).
    path : str or PathLike
        Output file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
    frequencies_hz : np.ndarray, shape (n_bins,)
    times_seconds : np.ndarray, shape (n_frames,)
    floor_db : float
        Values below this many dB under the maximum are shown as the floor.
    """
    plt = pyplot()
    decibels = _decibels(np.asarray(magnitude, dtype=np.float64) ** 2, floor_db)
    fig, ax = plt.subplots(figsize=(8, 4))
    step = times_seconds[1] - times_seconds[0] if len(times_seconds) > 1 else 0.0
    extent = (times_seconds[0] - step / 2, times_seconds[-1] + step / 2,
              frequencies_hz[0], frequencies_hz[-1])
    image = ax.imshow(decibels, origin="lower", aspect="auto", extent=extent,
                      cmap="magma", vmin=floor_db, vmax=0.0)
    fig.colorbar(image, ax=ax, label="dB re. maximum")
    ax.set(xlabel="time (s)", ylabel="frequency (Hz)", title=title)
    fig.tight_layout()
    return save(fig, path)


def plot_decision_surface(
    points: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
    path: str | os.PathLike, *, predict: Callable[[np.ndarray], np.ndarray],
    x_label: str, y_label: str, title: str = "", grid_size: int = 300,
) -> Path:
    """Scatter two features per class over a classifier's decision regions.

    Parameters
    ----------
    points : np.ndarray, shape (n_samples, 2)
        Two features per sample (x, y).
    labels : np.ndarray of int, shape (n_samples,)
        Class indices into ``class_names``.
    class_names : sequence of str
    path : str or PathLike
        Output image file.
    predict : callable
        Maps an ``(n, 2)`` array to ``(n,)`` class indices, e.g. a fitted estimator's
        ``predict``; it is evaluated on a ``grid_size x grid_size`` grid covering the
        points with a 5 % margin.
    x_label, y_label : str
        Axis titles (the feature names).
    """
    plt = pyplot()
    from matplotlib.colors import ListedColormap

    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    n_classes = len(class_names)
    xs, ys, regions = _decision_regions(points, predict, grid_size)
    colours = plt.get_cmap("tab10")(np.arange(n_classes) % 10)

    fig, ax = plt.subplots(figsize=(7, 5.5))
    ax.pcolormesh(xs, ys, regions, shading="auto", cmap=ListedColormap(colours),
                  vmin=-0.5, vmax=n_classes - 0.5, alpha=0.25)
    for index, name in enumerate(class_names):
        chosen = labels == index
        ax.scatter(points[chosen, 0], points[chosen, 1], s=40, color=colours[index],
                   edgecolors="black", linewidths=0.5, label=f"{name} ({int(chosen.sum())})")
    ax.set(xlabel=x_label, ylabel=y_label, title=title)
    ax.legend(loc="best")
    fig.tight_layout()
    return save(fig, path)


def spectrogram_report(magnitude: np.ndarray, path: str | os.PathLike, *,
                       frequencies_hz: np.ndarray, times_seconds: np.ndarray,
                       audio_path: str | os.PathLike | None = None, link_audio: bool = False,
                       title: str = "Spectrogram", floor_db: float = -80.0) -> Path:
    """Write a zoomable spectrogram page, with the file's player; a click plays from there.

    Parameters
    ----------
    magnitude : np.ndarray, shape (n_bins, n_frames)
        Linear magnitudes (e.g. :func:`deep_audio.features.handcrafted.spectrogram`);
        shown in dB relative to the maximum, averaged down to at most 256 x 800 cells.
    path : str or PathLike
        The ``.html`` file to write.
    frequencies_hz : np.ndarray, shape (n_bins,)
    times_seconds : np.ndarray, shape (n_frames,)
    audio_path : str or PathLike, optional
        The file, embedded whole (Ogg Opus) or, with ``link_audio``, linked.
    floor_db : float
        Values below this many dB under the maximum are shown as the floor.
    """
    import plotly.graph_objects as go

    magnitude = np.asarray(magnitude, dtype=np.float64)
    power, frequencies = _pool(magnitude ** 2, np.asarray(frequencies_hz, dtype=np.float64),
                               MAX_SPECTROGRAM_BINS, axis=0)
    power, times = _pool(power, np.asarray(times_seconds, dtype=np.float64),
                         MAX_SPECTROGRAM_FRAMES, axis=1)
    decibels = _decibels(power, floor_db)
    figure = go.Figure(go.Heatmap(
        z=np.round(decibels, 1).tolist(), x=finite(times, 3), y=finite(frequencies, 1),
        colorscale="Magma", zmin=floor_db, zmax=0, colorbar={"title": {"text": "dB"}},
        hovertemplate="%{x:.2f} s, %{y:.0f} Hz: %{z:.0f} dB<extra></extra>"))
    figure.update_layout(xaxis={"title": {"text": "time (s)"}},
                         yaxis={"title": {"text": "frequency (Hz)"}}, height=480,
                         margin={"t": 20})
    page = Page(title)
    page.add_html(f"<h1>{html.escape(title)}</h1>")
    source = ""
    if audio_path is not None:
        if link_audio:
            url = relative_url(audio_path, path)
        else:
            samples, _ = read_audio(audio_path, sample_rate=AUDIO_SAMPLE_RATE)
            url = ("data:audio/ogg;codecs=opus;base64," + base64.b64encode(
                encode_opus(samples, AUDIO_SAMPLE_RATE)).decode("ascii"))
        source = f' src="{html.escape(url)}"'
    page.add_html(f'<p><audio id="player" controls preload="metadata"{source}></audio></p>'
                  '<p class="hint">Click the spectrogram to play from that time; drag to '
                  "zoom.</p>")
    page.add_html(page.add_figure("spectrogram", figure))
    page.scripts.append(SPECTROGRAM_JS)
    return page.write(path)


def feature_space_report(
    points: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
    path: str | os.PathLike, *, files: Sequence[str | os.PathLike],
    predict: Callable[[np.ndarray], np.ndarray], x_label: str, y_label: str,
    title: str = "Feature space", grid_size: int = 150, link_audio: bool = False,
    clip_seconds: float = 4.0, audio_budget_bytes: int = 4_000_000,
) -> Path:
    """Write the 2-feature scatter over a classifier's decision regions as a page.

    Parameters
    ----------
    points : np.ndarray, shape (n_files, 2)
        Two features per file (x, y).
    labels : np.ndarray of int, shape (n_files,)
        Class indices into ``class_names``.
    class_names : sequence of str
    path : str or PathLike
        The ``.html`` file to write.
    files : sequence of str or PathLike, length n_files
        The file of each point: its name shows on hover, a click plays it.
    predict : callable
        ``(n, 2)`` array -> ``(n,)`` class indices (a fitted pipeline's ``predict``),
        evaluated on a ``grid_size x grid_size`` grid covering the points with a 5 % margin.
    x_label, y_label : str
        Axis titles (the feature names).
    link_audio, clip_seconds, audio_budget_bytes
        As :class:`deep_audio.viz.html.AudioClips`.
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    names = list(class_names)
    if (points.ndim != 2 or points.shape[1] != 2
            or not len(points) == len(labels) == len(files)):
        raise DeepAudioError(f"points {points.shape}, labels {labels.shape} and "
                             f"{len(files)} files must describe the same (n_files, 2) points")
    xs, ys, regions = _decision_regions(points, predict, grid_size)
    palette = qualitative.Plotly
    n_classes = len(names)
    # A stepped colour scale: class k gets one flat colour over [k - 0.5, k + 0.5].
    scale = []
    for index in range(n_classes):
        colour = palette[index % len(palette)]
        scale += [[index / n_classes, colour], [(index + 1) / n_classes, colour]]
    figure = go.Figure(go.Heatmap(
        z=regions.tolist(), x=finite(xs, 6), y=finite(ys, 6),
        colorscale=scale, zmin=-0.5, zmax=n_classes - 0.5, opacity=0.25, showscale=False,
        hoverinfo="skip"))
    clips = AudioClips(path, link=link_audio, clip_seconds=clip_seconds,
                       budget_bytes=audio_budget_bytes)
    entries = [{"name": printable(Path(f).name), "audio": clips.source(f)} for f in files]
    for index, name in enumerate(names):
        chosen = np.flatnonzero(labels == index)
        figure.add_trace(go.Scatter(
            x=finite(points[chosen, 0], 6), y=finite(points[chosen, 1], 6), mode="markers",
            name=f"{name} ({len(chosen)})", customdata=chosen.tolist(),
            text=[entries[i]["name"] for i in chosen],
            marker={"size": 10, "color": palette[index % len(palette)],
                    "line": {"color": "black", "width": 0.5}},
            hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra>" + html.escape(name)
                          + "</extra>"))
    figure.update_layout(xaxis={"title": {"text": x_label}}, yaxis={"title": {"text": y_label}},
                         height=560, margin={"t": 20}, hovermode="closest")
    page = Page(title)
    page.add_html(f"<h1>{html.escape(title)}</h1>")
    page.add_html('<p><audio id="player" controls></audio> <span id="now-playing" '
                  'class="hint">click a point to play its file</span></p>')
    page.add_html(page.add_figure("feature-space", figure))
    page.add_html(clips.note())
    page.data.update(class_names=names, files=entries, labels=labels.tolist())
    page.scripts.append(SCATTER_JS)
    return page.write(path)


def _pool(values: np.ndarray, centres: np.ndarray, limit: int, *, axis: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """Average groups of neighbouring rows (axis 0) or columns (axis 1) down to ``limit``."""
    size = values.shape[axis]
    if size <= limit:
        return values, centres
    factor = -(-size // limit)
    usable = size // factor * factor
    moved = np.moveaxis(values, axis, 0)[:usable]
    pooled = moved.reshape(usable // factor, factor, *moved.shape[1:]).mean(axis=1)
    return (np.moveaxis(pooled, 0, axis),
            centres[:usable].reshape(-1, factor).mean(axis=1))


def _decibels(power: np.ndarray, floor_db: float) -> np.ndarray:
    """``power`` in dB relative to its maximum, clipped below at ``floor_db``."""
    peak = max(float(power.max()), np.finfo(np.float64).tiny)
    return np.maximum(10 * np.log10(np.maximum(power, 1e-300) / peak), floor_db)


def _decision_regions(points: np.ndarray, predict: Callable[[np.ndarray], np.ndarray],
                      grid_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``predict`` on a ``grid_size x grid_size`` grid over ``points`` (n, 2) with a 5 %
    margin: the grid's x ``(grid_size,)``, y ``(grid_size,)`` and class indices
    ``(grid_size, grid_size)``, rows along y."""
    low, high = points.min(axis=0), points.max(axis=0)
    margin = np.where(high > low, (high - low) * 0.05, np.maximum(np.abs(high), 1.0) * 0.05)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], grid_size)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], grid_size)
    grid_x, grid_y = np.meshgrid(xs, ys)
    regions = np.asarray(predict(np.column_stack([grid_x.ravel(), grid_y.ravel()])))
    return xs, ys, regions.reshape(grid_x.shape)
