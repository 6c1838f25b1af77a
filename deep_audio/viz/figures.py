"""matplotlib plumbing shared by the PNG pictures: a headless pyplot, one way to save, and
the confusion-matrix panel (alone in :mod:`~deep_audio.viz.evaluation`, beside the curves in
:mod:`~deep_audio.viz.training`).

Each picture module imports matplotlib only through :func:`pyplot`, inside its ``plot_*``
function, so importing :mod:`deep_audio.viz` (or a picture module) does not import it.
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deep_audio.io.files import atomic_write


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` atomically in the format of the suffix, close it, return ``path``.

    ``.png``, ``.svg``, ``.pdf`` (any format matplotlib knows) are written at 120 dpi;
    ``.html``/``.htm`` is a page holding the SVG. A failed write leaves an older file as
    it was.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".html", ".htm"):
            svg = io.StringIO()
            fig.savefig(svg, format="svg")
            text = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                    f"<title>{html.escape(path.stem)}</title></head>\n<body>\n"
                    f"{svg.getvalue()}\n</body></html>\n")
            return atomic_write(path, lambda stream: stream.write(text.encode("utf-8")),
                                sync=False)
        # A stream has no suffix to tell matplotlib the format; no suffix means png.
        return atomic_write(path, lambda stream: fig.savefig(
            stream, format=suffix[1:] or None, dpi=120), sync=False)
    finally:
        pyplot().close(fig)


def draw_confusion(fig, ax, matrix: np.ndarray, class_names: Sequence[str], *,
                   title: str) -> None:
    """Counts (rows true, columns predicted) in each cell of ``ax``, coloured by the share
    of the row's (true class's) total."""
    matrix = np.asarray(matrix)
    n = len(class_names)
    row_sums = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, row_sums, out=np.zeros(matrix.shape), where=row_sums > 0)
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    ax.set(xticks=range(n), yticks=range(n), xticklabels=class_names,
           yticklabels=class_names, xlabel="predicted", ylabel="true", title=title)
    for label in ax.get_xticklabels():
        label.set(rotation=45, ha="right")
    for row in range(n):
        for col in range(n):
            ax.text(col, row, str(int(matrix[row, col])), ha="center", va="center",
                    color="white" if shares[row, col] > 0.5 else "black")
