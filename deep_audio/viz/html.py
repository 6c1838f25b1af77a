"""Building blocks of the HTML reports: one self-contained page, audio clips, spectrograms.

A report is one ``.html`` file that opens offline in any current browser: plotly.js is
inlined (gzip-compressed, unpacked by the browser), every figure and all report data sit
in one JSON block (``<script type="application/json" id="report-data">``), and audio is
either embedded as Ogg Opus ``data:`` URIs or linked by a path relative to the report.
Nothing is fetched from the network. The page's JavaScript only draws the figures from
that JSON and wires clicks.

>>> import plotly.graph_objects as go
>>> page = Page("demo")
>>> page.add_figure("curve", go.Figure(go.Scatter(x=[0, 1], y=[1, 2])))
'<div class="figure" id="curve"></div>'
>>> text = page.render()
>>> text.startswith("<!DOCTYPE html>"), read_page_data_text(text)["figures"].keys()
(True, dict_keys(['curve']))
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from deep_audio.errors import DeepAudioError
from deep_audio.io.audio import printable, read_audio
from deep_audio.io.files import atomic_write

# Opus takes 8, 12, 16, 24 or 48 kHz; 16 kHz keeps speech and most of music recognisable.
AUDIO_SAMPLE_RATE = 16_000
# libsndfile maps an Opus compression level to a bit rate: 0.92 gives about 24 kbit/s.
OPUS_COMPRESSION_LEVEL = 0.92
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1100px;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.clickable { cursor: pointer; } tr.clickable:hover { background: #eef4fb; }
tr.selected { background: #dbe8f7; }
.note { color: #8a4b00; background: #fff6e5; padding: 0.4em 0.7em; border-radius: 4px; }
.hint { color: #666; font-size: 0.9em; }
.figure { min-height: 300px; }
audio { height: 2em; vertical-align: middle; }
"""

# plotly.js travels gzip-compressed (a report is mostly plotly.js); the browser unpacks it
# with its own DecompressionStream and runs it as an inline script: nothing is fetched.
LOADER_JS = r"""
async function loadPlotly() {
  const packed = document.getElementById('plotly-js-gzip').textContent;
  const bytes = Uint8Array.from(atob(packed), c => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  const script = document.createElement('script');
  script.text = await new Response(stream).text();
  document.head.appendChild(script);
}

function failed(error) {
  const note = document.createElement('p');
  note.className = 'note';
  note.textContent = 'This report could not be drawn (' + error + '); it needs a current ' +
    'browser (Chrome/Edge 80+, Firefox 113+, Safari 16.4+).';
  document.body.prepend(note);
  throw error;
}
"""

# Shared by every report: draw the figures of REPORT.figures, decode spectrograms,
# make audio players. Each report adds its own small script after this one.
COMMON_JS = r"""
const REPORT = JSON.parse(document.getElementById('report-data').textContent);

function drawFigures() {
  for (const [id, figure] of Object.entries(REPORT.figures)) {
    Plotly.newPlot(id, figure.data, figure.layout || {}, REPORT.plotlyConfig);
  }
}

// A spectrogram stored as base64 bytes, 0..255 over [floor_db, 0] dB: rows of z.
function decodeSpectrogram(spec) {
  const bytes = Uint8Array.from(atob(spec.bytes), c => c.charCodeAt(0));
  const z = [];
  for (let row = 0; row < spec.n_rows; row++) {
    const values = Array.from(bytes.subarray(row * spec.n_frames, (row + 1) * spec.n_frames));
    z.push(values.map(v => spec.floor_db + v * (-spec.floor_db / 255)));
  }
  return z;
}

function audioPlayer(audio) {
  if (!audio || !audio.src) {
    const span = document.createElement('span');
    span.className = 'hint';
    span.textContent = (audio && audio.note) || 'no audio';
    return span;
  }
  const player = document.createElement('audio');
  player.controls = true;
  player.preload = 'metadata';
  player.src = audio.src;
  return player;
}

function cell(row, content) {
  const td = document.createElement('td');
  if (content instanceof Node) td.appendChild(content); else td.textContent = content;
  row.appendChild(td);
  return td;
}
"""


@functools.lru_cache(maxsize=1)
def plotly_js_gzip_base64() -> str:
    """plotly.js, gzip-compressed and base64-encoded: 1.9 MB in the page instead of 4.8 MB."""
    from plotly.offline import get_plotlyjs

    packed = gzip.compress(get_plotlyjs().encode("utf-8"), compresslevel=9, mtime=0)
    return base64.b64encode(packed).decode("ascii")


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside ``<script>`` (no ``</`` can close the tag)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False,
                      default=_plain).replace("</", "<\\/")


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def finite(values: Any, digits: int | None = 4) -> Any:
    """A float array as nested lists rounded to ``digits`` decimals (``None``: as they are),
    NaN/inf as ``None`` (JSON null)."""
    array = np.asarray(values, dtype=np.float64)
    if digits is not None:
        array = np.round(array, digits)
    return np.where(np.isfinite(array), array, None).tolist()


@dataclass
class Page:
    """One report page: HTML sections, plotly figures and data for its script.

    Attributes
    ----------
    title : str
    sections : list of str
        HTML fragments, in order.
    figures : dict of str to dict
        Div id -> plotly figure as plain JSON (``data`` and ``layout``).
    data : dict
        Anything the page's script needs, as ``REPORT.<key>`` in JavaScript.
    scripts : list of str
        JavaScript run in order after :data:`COMMON_JS` has drawn the figures.
    """

    title: str
    sections: list[str] = field(default_factory=list)
    figures: dict[str, dict] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    scripts: list[str] = field(default_factory=list)

    def add_html(self, fragment: str) -> None:
        self.sections.append(fragment)

    def add_figure(self, div_id: str, figure: Any, *, style: str = "") -> str:
        """Store ``figure`` (a plotly Figure) and return the div it will be drawn in."""
        if div_id in self.figures:
            raise DeepAudioError(f"figure id {div_id!r} used twice")
        self.figures[div_id] = json.loads(figure.to_json())
        attribute = f' style="{html.escape(style)}"' if style else ""
        return f'<div class="figure" id="{html.escape(div_id)}"{attribute}></div>'

    def render(self) -> str:
        """The whole page as a string: plotly.js inlined (gzip, base64), data as JSON."""
        payload = {**self.data, "figures": self.figures, "plotlyConfig": PLOTLY_CONFIG}
        body = "\n".join(self.sections)
        scripts = "\n".join([COMMON_JS, "drawFigures();", *self.scripts])
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            f"<title>{html.escape(self.title)}</title>\n<style>{STYLE}</style>\n"
            f"</head><body>\n{body}\n"
            f"<script type=\"application/octet-stream\" id=\"plotly-js-gzip\">"
            f"{plotly_js_gzip_base64()}</script>\n"
            f"<script type=\"application/json\" id=\"report-data\">{script_json(payload)}"
            f"</script>\n<script>{LOADER_JS}\nloadPlotly().then(() => {{\n{scripts}\n}})"
            ".catch(failed);</script>\n</body></html>\n")

    def write(self, path: str | os.PathLike) -> Path:
        """Write the page to ``path`` atomically (a crash leaves the old file in place)."""
        text = self.render().encode("utf-8")
        return atomic_write(path, lambda stream: stream.write(text), sync=False)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, table_id: str = "") -> str:
    """An HTML table of escaped cells; floats are shown with 3 decimals."""
    def show(value: Any) -> str:
        if isinstance(value, (float, np.floating)):
            return "–" if not math.isfinite(value) else f"{value:.3f}"
        return html.escape(str(value))

    attribute = f' id="{html.escape(table_id)}"' if table_id else ""
    lines = [f"<table{attribute}><thead><tr>"
             + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    lines += ["<tr>" + "".join(f"<td>{show(v)}</td>" for v in row) + "</tr>" for row in rows]
    return "\n".join(lines) + "</tbody></table>"


def encode_opus(samples: np.ndarray, sample_rate: int) -> bytes:
    """Ogg Opus bytes (about 24 kbit/s) of mono ``samples`` at 8, 12, 16, 24 or 48 kHz."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.asarray(samples, dtype=np.float32), sample_rate, format="OGG",
                    subtype="OPUS", compression_level=OPUS_COMPRESSION_LEVEL)
    return buffer.getvalue()


def size_text(n_bytes: int) -> str:
    """``n_bytes`` for a reader: ``'850 kB'``, ``'3.6 MB'``.

    >>> size_text(31_400), size_text(3_600_000)
    ('31 kB', '3.6 MB')
    """
    return f"{n_bytes / 1e3:.0f} kB" if n_bytes < 1e6 else f"{n_bytes / 1e6:.1f} MB"


def relative_url(target: str | os.PathLike, page: str | os.PathLike) -> str:
    """``target`` as a URL relative to the folder of the page ``page``."""
    start = Path(page).resolve().parent
    relative = os.path.relpath(Path(target).resolve(), start)
    return quote(Path(relative).as_posix())


class AudioClips:
    """Audio sources for a report: embedded clips within a size budget, or relative links.

    Parameters
    ----------
    page_path : str or PathLike
        Where the report will be written (links are relative to its folder).
    link : bool
        Link each file by its path relative to the report instead of embedding it.
    clip_seconds : float
        Embedded clips keep the first ``clip_seconds`` of a file.
    budget_bytes : int
        Cap on the embedded audio as it stands in the page (base64, 4/3 of the encoded
        size): a clip that would pass it is left out, and counted in :meth:`note`.
    """

    def __init__(self, page_path: str | os.PathLike, *, link: bool = False,
                 clip_seconds: float = 4.0, budget_bytes: int = 4_000_000):
        if clip_seconds <= 0:
            raise DeepAudioError(f"clip_seconds={clip_seconds} must be > 0")
        if budget_bytes < 0:
            raise DeepAudioError(f"budget_bytes={budget_bytes} must be >= 0")
        self.page_path = Path(page_path)
        self.link = link
        self.clip_seconds = clip_seconds
        self.budget_bytes = budget_bytes
        self.embedded_bytes = 0
        self.embedded = 0
        self.clipped = 0
        self.left_out: list[str] = []

    def source(self, path: str | os.PathLike, samples: np.ndarray | None = None) -> dict:
        """``{"src": url}`` for ``path``, or ``{"src": None, "note": why}``.

        ``samples`` (mono at :data:`AUDIO_SAMPLE_RATE`) saves decoding the file again.
        """
        return self.admit(path, *self.encode(path, samples))

    def encode(self, path: str | os.PathLike, samples: np.ndarray | None = None
               ) -> tuple[bytes | None, bool]:
        """The clip of ``path`` as Ogg Opus bytes (``None`` when linking), and whether the
        file was longer than the clip. Safe to call from several threads at once; pass
        the results to :meth:`admit` in the order in which files should get audio."""
        if self.link:
            return None, False
        if samples is None:
            samples, _ = read_audio(path, sample_rate=AUDIO_SAMPLE_RATE)
        limit = int(self.clip_seconds * AUDIO_SAMPLE_RATE)
        return encode_opus(samples[:limit], AUDIO_SAMPLE_RATE), len(samples) > limit

    def admit(self, path: str | os.PathLike, encoded: bytes | None, clipped: bool = False
              ) -> dict:
        """The source of a clip from :meth:`encode`: embedded while the budget lasts."""
        if self.link:
            return {"src": relative_url(path, self.page_path)}
        payload = base64.b64encode(encoded).decode("ascii") if encoded is not None else ""
        if encoded is None or self.embedded_bytes + len(payload) > self.budget_bytes:
            self.left_out.append(printable(path))
            return {"src": None, "note": "audio left out (size cap)"}
        self.embedded_bytes += len(payload)
        self.embedded += 1
        self.clipped += clipped
        return {"src": "data:audio/ogg;codecs=opus;base64," + payload, "clipped": clipped}

    def note(self) -> str:
        """An HTML paragraph saying how the audio is included and what was left out."""
        if self.link:
            return ("<p class=\"hint\">Audio is linked by paths relative to this report: "
                    "keep the report beside the audio folders when moving it.</p>")
        text = (f"Audio: {self.embedded} clip(s) embedded, {size_text(self.embedded_bytes)} "
                f"(Ogg Opus, about 24 kbit/s, the first {self.clip_seconds:g} s of each file"
                f"{'; ' + str(self.clipped) + ' file(s) were longer' if self.clipped else ''}).")
        if not self.left_out:
            return f"<p class=\"hint\">{html.escape(text)}</p>"
        shown = ", ".join(self.left_out[:20]) + (" ..." if len(self.left_out) > 20 else "")
        return (f"<p class=\"note\" id=\"audio-left-out\">{html.escape(text)} "
                f"{len(self.left_out)} file(s) have no audio here: the "
                f"{size_text(self.budget_bytes)} cap was reached ({html.escape(shown)}). "
                "Raise the cap or use --link-audio to hear them.</p>")


def log_mel_image(samples: np.ndarray, sample_rate: int, *, n_mels: int = 40,
                  max_frames: int = 160, floor_db: float = -80.0) -> dict:
    """A compact log-mel spectrogram of a whole file for the page to draw.

    Parameters
    ----------
    samples : np.ndarray, shape (samples,)
        Mono.
    sample_rate : int
        Hz.
    n_mels : int
        Mel bands (rows).
    max_frames : int
        At most this many columns: the hop grows with the file's length.
    floor_db : float
        dB below the file's maximum shown as the floor.

    Returns
    -------
    dict
        ``bytes`` (base64 of ``(n_rows, n_frames)`` uint8, row-major, 0..255 over
        ``[floor_db, 0]`` dB), ``n_rows``, ``n_frames``, ``floor_db``, ``seconds`` (frame
        centres) and ``mel_hz`` (band centres).
    """
    samples = np.asarray(samples, dtype=np.float32)
    n_fft = 512 if sample_rate >= 16_000 else 256
    # Centred frames (the signal padded by n_fft // 2 each side): 1 + samples // hop_length.
    hop_length = max(n_fft // 4, math.ceil(len(samples) / max(max_frames - 1, 1)))
    padded = np.pad(samples, n_fft // 2, mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    spectrum = np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)
    filters, mel_hz = _mel_filters(sample_rate, n_fft, n_mels)
    power = filters @ (spectrum.real ** 2 + spectrum.imag ** 2).T  # (n_mels, n_frames)
    peak = max(float(power.max()), 1e-20)
    decibels = 10 * np.log10(np.maximum(power, peak * 1e-10) / peak)
    levels = np.clip((decibels - floor_db) / -floor_db, 0.0, 1.0)
    quantised = np.round(levels * 255).astype(np.uint8)
    seconds = np.arange(quantised.shape[1]) * hop_length / sample_rate
    return {"bytes": base64.b64encode(quantised.tobytes()).decode("ascii"),
            "n_rows": int(quantised.shape[0]), "n_frames": int(quantised.shape[1]),
            "floor_db": floor_db, "seconds": finite(seconds, 3), "mel_hz": finite(mel_hz, 1)}


@functools.lru_cache(maxsize=8)
def _mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> tuple[np.ndarray, np.ndarray]:
    """Triangular filters evenly spaced on the HTK mel scale up to Nyquist:
    ``(n_mels, n_fft // 2 + 1)`` weights, and the band centres in Hz."""
    def to_mel(hz):
        return 2595 * np.log10(1 + hz / 700)

    edges = 700 * (10 ** (np.linspace(0, to_mel(sample_rate / 2), n_mels + 2) / 2595) - 1)
    bins = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    return weights, edges[1:-1]


def decode_log_mel_image(image: dict) -> np.ndarray:
    """The dB values of :func:`log_mel_image`'s output, shape ``(n_rows, n_frames)``."""
    raw = np.frombuffer(base64.b64decode(image["bytes"]), dtype=np.uint8)
    levels = raw.reshape(image["n_rows"], image["n_frames"]).astype(np.float64) / 255
    return image["floor_db"] * (1 - levels)


def read_page_data(path: str | os.PathLike) -> dict:
    """The JSON block of a written report (for tests and tools that read reports)."""
    return read_page_data_text(Path(path).read_text(encoding="utf-8"))


def read_page_data_text(text: str) -> dict:
    """The JSON block of a report page given as a string."""
    start_tag = '<script type="application/json" id="report-data">'
    start = text.index(start_tag) + len(start_tag)
    return json.loads(text[start:text.index("</script>", start)])
