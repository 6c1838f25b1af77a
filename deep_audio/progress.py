"""Progress bars that show on a terminal and stay out of logs.

A bar redraws itself many times a second; written to a file or a CI log, each redraw
becomes a line. :func:`progress_bar` therefore draws only when its stream (stderr) is a
terminal or a notebook, unless ``DEEP_AUDIO_PROGRESS=1`` forces it (``0`` hides it
everywhere). Every bar in the package goes through it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.asyncio import tqdm as _console_tqdm
from tqdm.auto import tqdm

T = TypeVar("T")

# tqdm.auto is the console bar, or a notebook widget inside Jupyter (whose stderr is no
# terminal, but where a widget does not flood anything).
_IN_NOTEBOOK = tqdm is not _console_tqdm


def progress_bar(iterable: Iterable[T], *, disable: bool = False, **options: Any
                 ) -> Iterable[T]:
    """``iterable`` wrapped in a tqdm bar when :func:`shows_progress` says so.

    Parameters
    ----------
    iterable : iterable
        What to iterate over; the bar counts its items (``total=`` when it has no length).
    disable : bool
        ``True`` never draws (a command's ``-q``, a library call with ``progress=False``).
    **options
        tqdm's arguments: ``desc``, ``total``, ``unit``, ``leave``, ``file``...

    >>> list(progress_bar(range(3), desc="files"))  # stderr is no terminal under doctest
    [0, 1, 2]
    """
    stream = options.get("file") or sys.stderr
    return tqdm(iterable, disable=disable or not shows_progress(stream), **options)


def shows_progress(stream=None) -> bool:
    """Whether a bar on ``stream`` (default stderr) is drawn: ``DEEP_AUDIO_PROGRESS`` if
    set (``1`` or ``0``), else whether it is a terminal or a notebook."""
    forced = os.environ.get("DEEP_AUDIO_PROGRESS", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    stream = sys.stderr if stream is None else stream
    try:
        return _IN_NOTEBOOK or stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False
