"""The evaluation picture: a confusion matrix (PNG), and the report page around it (HTML).

:func:`plot_confusion_matrix` saves the matrix as an image (``deep-audio report``).
:func:`evaluation_report` writes one HTML page for a :class:`~deep_audio.predict.evaluate.
FolderReport`: the scores table; the confusion matrix (counts or shares of the true
class), where clicking a cell lists its files with their posteriors and an audio player;
clicking a file draws its log-mel spectrogram over its segment posteriors; per-class
precision/recall/F1 bars; and the mistakes, most confident first.

Audio is embedded with a size cap (mistakes get their clips first, since those are what
a reader wants to hear) or linked by relative path (``link_audio=True``).
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from deep_audio.errors import AudioError
from deep_audio.io.audio import printable, read_audio
from deep_audio.metrics import scores as confusion_scores
from deep_audio.predict.predictor import FileResult
from deep_audio.viz.figures import draw_confusion, pyplot, save
from deep_audio.viz.html import AUDIO_SAMPLE_RATE, AudioClips, Page, finite, log_mel_image, table

logger = logging.getLogger(__name__)

EVALUATION_JS = r"""
function fileTable(indices) {
  const names = REPORT.class_names;
  const tableElement = document.createElement('table');
  tableElement.innerHTML = '<thead><tr><th>file</th><th>true</th><th>predicted</th>' +
    '<th>P(predicted)</th><th>P(true)</th><th>audio</th></tr></thead>';
  const body = document.createElement('tbody');
  for (const index of indices) {
    const file = REPORT.files[index];
    const row = document.createElement('tr');
    row.className = 'clickable file-row';
    row.dataset.index = index;
    cell(row, file.name);
    cell(row, names[file.true]);
    cell(row, names[file.pred]);
    cell(row, file.p[file.pred].toFixed(3));
    cell(row, file.p[file.true].toFixed(3));
    cell(row, audioPlayer(file.audio));
    row.addEventListener('click', event => {
      if (event.target.tagName !== 'AUDIO') showFile(index);
    });
    body.appendChild(row);
  }
  tableElement.appendChild(body);
  return tableElement;
}

function showCell(trueIndex, predIndex) {
  const names = REPORT.class_names;
  const indices = REPORT.cells[trueIndex][predIndex];
  const target = document.getElementById('cell-files');
  target.innerHTML = '';
  const heading = document.createElement('h3');
  heading.id = 'cell-heading';
  heading.textContent = `true ${names[trueIndex]}, predicted ${names[predIndex]}: ` +
    `${indices.length} file(s)`;
  target.appendChild(heading);
  if (indices.length) target.appendChild(fileTable(indices));
}

function showFile(index) {
  const file = REPORT.files[index];
  const names = REPORT.class_names;
  document.querySelectorAll('tr.file-row').forEach(row =>
    row.classList.toggle('selected', Number(row.dataset.index) === index));
  document.getElementById('detail-title').textContent =
    `${file.name}: true ${names[file.true]}, predicted ${names[file.pred]} ` +
    `(${file.p[file.pred].toFixed(3)})`;
  const data = [];
  // Mel bands are drawn evenly spaced (as the model sees them), labelled in Hz.
  const bandTicks = [];
  if (file.spec) {
    const step = Math.max(1, Math.floor(file.spec.n_rows / 5));
    for (let band = 0; band < file.spec.n_rows; band += step) bandTicks.push(band);
    data.push({type: 'heatmap', x: file.spec.seconds, z: decodeSpectrogram(file.spec),
               colorscale: 'Viridis', showscale: false, xaxis: 'x', yaxis: 'y',
               hovertemplate: '%{x:.2f} s, band %{y}: %{z:.0f} dB<extra></extra>'});
  }
  names.forEach((name, c) => data.push({
    type: 'scatter', mode: 'lines+markers', name: name, x: file.seg.t, y: file.seg.p[c],
    xaxis: 'x', yaxis: 'y2', line: {shape: 'hv'}}));
  const layout = {
    height: 420, margin: {t: 10, l: 60, r: 10, b: 40}, legend: {orientation: 'h'},
    xaxis: {title: {text: 'time (s)'}, anchor: 'y2'},
    yaxis: {domain: [0.45, 1], title: {text: 'mel band (Hz)'}, tickvals: bandTicks,
            ticktext: bandTicks.map(band => Math.round(file.spec.mel_hz[band]))},
    yaxis2: {domain: [0, 0.38], range: [0, 1.02], title: {text: 'posterior'}}};
  Plotly.react('detail', data, layout, REPORT.plotlyConfig);
  const audio = document.getElementById('detail-audio');
  audio.innerHTML = '';
  audio.appendChild(audioPlayer(file.audio));
}

document.getElementById('mistakes').appendChild(fileTable(REPORT.mistakes));
if (!REPORT.mistakes.length) document.getElementById('mistakes').textContent = 'none';
document.getElementById('confusion').on('plotly_click', event => {
  const point = event.points[0];
  showCell(REPORT.class_names.indexOf(point.y), REPORT.class_names.indexOf(point.x));
});
"""


def plot_confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str], path: str | os.PathLike, *,
    title: str = "Confusion matrix",
) -> Path:
    """Save a confusion matrix (rows: true class, columns: predicted) as an image.

    Parameters
    ----------
    matrix : np.ndarray, shape (n_classes, n_classes)
        Counts.
    class_names : sequence of str
        One name per row/column.
    path : str or PathLike
        Output file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
    """
    plt = pyplot()
    size = max(4.0, 0.6 * len(class_names) + 2.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    draw_confusion(fig, ax, matrix, class_names, title=title)
    fig.tight_layout()
    return save(fig, path)


def evaluation_report(report, path: str | os.PathLike, *, title: str | None = None,
                      link_audio: bool = False, clip_seconds: float = 4.0,
                      audio_budget_bytes: int = 4_000_000) -> Path:
    """Write the evaluation report of a :class:`~deep_audio.predict.evaluate.FolderReport`.

    Parameters
    ----------
    report : FolderReport
        ``class_names``, ``predictions`` (``(FileResult, true class index)``), ``skipped``.
    path : str or PathLike
        The ``.html`` file to write.
    title : str, optional
        Page heading; default "Evaluation report".
    link_audio : bool
        Link audio files by relative path instead of embedding clips.
    clip_seconds : float
        Embedded clips keep the first ``clip_seconds`` of each file.
    audio_budget_bytes : int
        Cap on all embedded audio together; files past it get no player, and a note on
        the page names them.

    Returns
    -------
    Path
        ``path``.
    """
    page = evaluation_page(report.class_names, report.predictions, page_path=path,
                           title=title or "Evaluation report", skipped=report.skipped,
                           link_audio=link_audio, clip_seconds=clip_seconds,
                           audio_budget_bytes=audio_budget_bytes)
    return page.write(path)


def evaluation_page(class_names: Sequence[str], predictions: Sequence[tuple[FileResult, int]],
                    *, page_path: str | os.PathLike, title: str, skipped: int = 0,
                    link_audio: bool = False, clip_seconds: float = 4.0,
                    audio_budget_bytes: int = 4_000_000) -> Page:
    """The page of :func:`evaluation_report` (not written), from single-label results.

    ``predictions`` holds ``(result, true class index)`` per file; the confusion matrix is
    counted from them (rows true, columns predicted).
    """
    import plotly.graph_objects as go

    names = list(class_names)
    n_classes = len(names)
    truths = np.array([truth for _, truth in predictions], dtype=np.int64)
    predicted = np.array([result.class_index for result, _ in predictions], dtype=np.int64)
    confidence = np.array([result.posteriors[result.class_index] for result, _ in predictions])
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (truths, predicted), 1)
    cells = [[np.flatnonzero((truths == t) & (predicted == p)).tolist()
              for p in range(n_classes)] for t in range(n_classes)]
    mistakes = [int(i) for i in np.argsort(-confidence, kind="stable")
                if truths[i] != predicted[i]]
    mistake_set = set(mistakes)
    # Mistakes get their audio first: with a size cap, they are the clips worth hearing.
    audio_order = mistakes + [i for i in range(len(predictions)) if i not in mistake_set]
    clips = AudioClips(page_path, link=link_audio, clip_seconds=clip_seconds,
                       budget_bytes=audio_budget_bytes)
    files: list[dict] = [{} for _ in predictions]

    def decode(index: int) -> tuple[dict | None, bytes | None, bool]:
        return _decode(predictions[index][0].path, clips)

    # Threads overlap decoding, FFTs and encoding (soxr, numpy and libsndfile release the
    # GIL); clips are admitted in audio_order, so the size cap keeps the mistakes' audio.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for index, (spectrogram, encoded, clipped) in zip(audio_order,
                                                          pool.map(decode, audio_order)):
            result, truth = predictions[index]
            files[index] = _file_entry(result, truth)
            if spectrogram is None:
                files[index].update(spec=None, audio={"src": None,
                                                      "note": "cannot read the file now"})
            else:
                files[index].update(spec=spectrogram,
                                    audio=clips.admit(result.path, encoded, clipped))

    summary = confusion_scores(counts)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    page = Page(title)
    page.add_html(f"<h1>{html.escape(title)}</h1>")
    page.add_html(f"<p>{len(predictions)} files, accuracy <b>{summary['accuracy']:.3f}</b>, "
                  f"macro-F1 <b>{summary['macro_f1']:.3f}</b>"
                  + (f"; {skipped} unreadable file(s) skipped" if skipped else "") + "</p>")
    page.add_html("<h2>Scores</h2>" + table(
        ["class", "precision", "recall", "F1", "files"],
        [[name, summary["precision"][i], summary["recall"][i], summary["f1"][i],
          int(summary["support"][i])] for i, name in enumerate(names)], table_id="scores"))

    page.add_html("<h2>Confusion matrix</h2><p class=\"hint\">Rows: true class, columns: "
                  "predicted. Click a cell to list its files; click a file to see its "
                  "spectrogram and segment posteriors.</p>")
    size = 260 + 45 * n_classes
    page.add_html(page.add_figure("confusion", _confusion_figure(go, counts, shares, names),
                                  style=f"width:{size + 120}px;height:{size}px"))
    page.add_html('<div id="cell-files"></div>')
    page.add_html('<h3 id="detail-title"></h3><div id="detail-audio"></div>'
                  '<div id="detail"></div>')

    page.add_html("<h2>Precision, recall and F1 per class</h2>")
    bars = go.Figure([go.Bar(name=label, x=names, y=finite(summary[key], 4))
                      for key, label in (("precision", "precision"), ("recall", "recall"),
                                         ("f1", "F1"))])
    bars.update_layout(barmode="group", yaxis={"range": [0, 1.05]}, height=360,
                       margin={"t": 20, "b": 40})
    page.add_html(page.add_figure("class-scores", bars))
    page.add_html(f"<h2>Mistakes, most confident first ({len(mistakes)})</h2>"
                  '<div id="mistakes"></div>')
    page.add_html(clips.note())
    page.data.update(class_names=names, confusion=counts.tolist(), cells=cells,
                     mistakes=mistakes, files=files)
    page.scripts.append(EVALUATION_JS)
    return page


def _confusion_figure(go, counts: np.ndarray, shares: np.ndarray, names: list[str]):
    """A heatmap of counts, with buttons to switch to the shares of each true class."""
    count_text = [[str(v) for v in row] for row in counts]
    share_text = [[f"{v:.2f}" for v in row] for row in shares]
    figure = go.Figure(go.Heatmap(
        z=counts.tolist(), x=names, y=names, text=count_text, texttemplate="%{text}",
        colorscale="Blues", hovertemplate="true %{y}<br>predicted %{x}<br>%{text}"
                                          "<extra></extra>", colorbar={"thickness": 12}))
    figure.update_layout(
        xaxis={"title": {"text": "predicted"}, "type": "category", "side": "bottom"},
        yaxis={"title": {"text": "true"}, "type": "category", "autorange": "reversed"},
        margin={"t": 40, "l": 90, "b": 80, "r": 20},
        updatemenus=[{"type": "buttons", "direction": "right", "x": 0, "y": 1.12,
                      "xanchor": "left", "showactive": True, "buttons": [
                          {"label": "counts", "method": "restyle",
                           "args": [{"z": [counts.tolist()], "text": [count_text]}]},
                          {"label": "share of true class", "method": "restyle",
                           "args": [{"z": [np.round(shares, 4).tolist()],
                                     "text": [share_text]}]}]}])
    return figure


def _file_entry(result: FileResult, truth: int) -> dict:
    """What the page knows of one file's classification: decision, posteriors, segments."""
    centres = (np.asarray(result.starts_seconds) + np.asarray(result.ends_seconds)) / 2
    return {"name": _display_name(result.path), "true": int(truth),
            "pred": int(result.class_index), "p": finite(result.posteriors, 4),
            "seg": {"t": finite(centres, 3),
                    "p": finite(np.asarray(result.segment_posteriors).T, 3)}}


def _decode(path: Path, clips: AudioClips) -> tuple[dict | None, bytes | None, bool]:
    """A file's log-mel picture and its encoded clip (see :meth:`AudioClips.encode`);
    ``(None, None, False)`` when it cannot be read any more."""
    try:
        samples, rate = read_audio(path, sample_rate=AUDIO_SAMPLE_RATE)
    except AudioError as error:  # e.g. moved or changed since it was classified
        logger.warning("report without audio for %s", error)
        return None, None, False
    return (log_mel_image(samples, rate), *clips.encode(path, samples))


def _display_name(path: Path) -> str:
    """``class_folder/file.wav``: short, and still tells files of two folders apart."""
    path = Path(path)
    return printable(Path(path.parent.name) / path.name)
