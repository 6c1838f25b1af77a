"""Annotation files: the one reader and writer of labelled time spans (:class:`Event`).

:func:`read_annotation` reads, with no option to set, each format in use:

- **DCASE** TSV: ``onset<TAB>offset<TAB>event_label`` in seconds, or with a filename first
  (``filename onset offset event_label``); a line with a filename alone is a recording
  without events. The header line is optional.
- **Audacity** label tracks (*Export Labels*): ``start<TAB>end<TAB>label`` with no header;
  the spectral-selection lines Audacity writes under a label (``\\<TAB>low<TAB>high``) are
  skipped.
- **CSV** with a header, e.g. ``start_seconds,end_seconds,label,confidence`` (what
  :func:`~deep_audio.predict.long_recordings.save_segmentation` writes for regions).
- Plain text, ``onset offset label`` separated by spaces (the label may hold spaces).

The rules, the same for every format:

1. blank lines and ``#`` comments are skipped;
2. the separator is that of the first line with several fields: a tab if it holds one,
   else a comma, else whitespace (:func:`table_delimiter`, which manifests use too);
   tab- and comma-separated fields follow CSV quoting;
3. the first line is a header when none of its fields is a number; it names its columns
   (:data:`COLUMN_NAMES`, any order and case) and must name an onset, an offset and a
   label column;
4. without a header, 3 fields are ``onset offset label`` and 4 are ``filename onset offset
   label``;
5. a bad line raises :class:`~deep_audio.errors.AnnotationError` naming the file, the line
   number and the value.

:func:`write_annotation` writes ``dcase`` (the default), ``csv`` or ``audacity``; each reads
back to the same events (times to the millisecond; Audacity's to the microsecond).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.txt"
>>> _ = path.write_text("0.5\\t1.5\\tdog\\n\\\\\\t200\\t4000\\n2\\t4.25\\tcar horn\\n")
>>> [(e.onset_seconds, e.offset_seconds, e.label) for e in read_annotation(path)]
[(0.5, 1.5, 'dog'), (2.0, 4.25, 'car horn')]
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable
from pathlib import Path

from deep_audio.errors import AnnotationError, DeepAudioError
from deep_audio.events.spans import Event

# Header names of each column, lower case; the first name is the one DCASE writes.
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "filename": ("filename", "file", "path", "audio_id"),
    "onset": ("onset", "start", "onset_seconds", "start_seconds"),
    "offset": ("offset", "end", "offset_seconds", "end_seconds"),
    "label": ("event_label", "label", "labels", "class", "class_name", "event"),
    "confidence": ("confidence", "score"),
}

# format: (separator, header names of onset, offset, label or None, decimals of times)
FORMATS: dict[str, tuple[str, tuple[str, str, str] | None, int]] = {
    "dcase": ("\t", ("onset", "offset", "event_label"), 3),
    "csv": (",", ("start_seconds", "end_seconds", "label"), 3),
    "audacity": ("\t", None, 6),
}


def read_annotation(path: str | os.PathLike) -> list[Event]:
    """The labelled spans of an annotation file, in file order (see the module doc).

    Returns
    -------
    list of Event
        ``filename`` set where the file has a filename column; ``confidence`` read where
        it has one, else 1.0. Empty for a file without spans.

    Raises
    ------
    AnnotationError
        The file cannot be read, or a line is malformed (the message names the file, the
        line number and the bad value).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise AnnotationError(f"cannot read annotation '{path}': "
                              f"{error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise AnnotationError(f"annotation '{path}' is not UTF-8 text") from error
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith(("#", "\\"))]
    delimiter = table_delimiter(line for _, line in lines)
    columns: dict[str, int] | None = None
    events = []
    for position, (number, line) in enumerate(lines):
        where = f"annotation '{path}' line {number}"
        fields = _fields(line, delimiter, columns)
        if position == 0 and _is_header(fields):
            columns = _header_columns(fields, where)
            continue
        layout = columns or _layout(fields, where)
        values = {name: fields[i] if i < len(fields) else "" for name, i in layout.items()}
        if values.get("filename") and not any(
                value for name, value in values.items() if name != "filename"):
            continue  # a recording without events
        if max(layout.values()) >= len(fields):
            raise AnnotationError(f"{where}: expected {len(layout)} fields "
                                  f"({', '.join(layout)}), found {len(fields)}: {line!r}")
        if not values["label"]:
            raise AnnotationError(f"{where}: empty label in {line!r}")
        onset = _number(values["onset"], "onset", where)
        offset = _number(values["offset"], "offset", where)
        confidence = (_number(values["confidence"], "confidence", where)
                      if "confidence" in values else 1.0)
        try:
            events.append(Event(onset, offset, values["label"], confidence,
                                values.get("filename") or None))
        except DeepAudioError as error:  # the span itself is invalid
            raise AnnotationError(f"{where}: {error}") from None
    return events


def write_annotation(path: str | os.PathLike, events: Iterable[Event], *,
                     format: str = "dcase", with_confidence: bool = False) -> Path:
    """Write events as an annotation file that :func:`read_annotation` reads back.

    Parameters
    ----------
    path : str or PathLike
    events : iterable of Event
    format : {"dcase", "csv", "audacity"}
        ``dcase``: tab-separated, header ``[filename] onset offset event_label
        [confidence]``. ``csv``: comma-separated, header ``[filename,]start_seconds,
        end_seconds,label[,confidence]``. ``audacity``: a label track, ``start end label``
        with no header (no filename or confidence column). A filename column is written
        when any event has a filename.
    with_confidence : bool
        Add each event's confidence (4 decimals).

    Returns
    -------
    Path
        ``path``.
    """
    if format not in FORMATS:
        raise DeepAudioError(f"format={format!r} must be one of {', '.join(FORMATS)}")
    delimiter, names, decimals = FORMATS[format]
    path, events = Path(path), list(events)
    with_filename = any(e.filename is not None for e in events)
    if names is None and (with_filename or with_confidence):
        raise AnnotationError(f"cannot write '{path}': an Audacity label track has no "
                              "filename or confidence column")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    if names is not None:
        writer.writerow((["filename"] if with_filename else []) + list(names)
                        + (["confidence"] if with_confidence else []))
    for e in events:
        writer.writerow(([e.filename or ""] if with_filename else [])
                        + [f"{e.onset_seconds:.{decimals}f}",
                           f"{e.offset_seconds:.{decimals}f}", e.label]
                        + ([f"{e.confidence:.4f}"] if with_confidence else []))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def table_delimiter(lines: Iterable[str]) -> str | None:
    """The field separator of a text table: that of its first line with several fields.

    A tab if that line holds one, else a comma, else ``None`` (whitespace). Lines of one
    field (a filename alone) do not decide.

    >>> table_delimiter(["a.wav", "a.wav 1 2 dog"]) is None
    True
    >>> table_delimiter(["path,labels", "x\\ty"])
    ','
    """
    for line in lines:
        text = line.strip()
        if "\t" in text:
            return "\t"
        if "," in text:
            return ","
        if len(text.split()) > 1:
            return None
    return None


def split_fields(line: str, delimiter: str | None, *, max_fields: int = 0) -> list[str]:
    """The stripped fields of a line: CSV quoting for a tab or a comma; for whitespace,
    at most ``max_fields`` (0: no limit), the last holding the rest of the line."""
    if delimiter is not None:
        return [f.strip() for f in next(csv.reader(io.StringIO(line), delimiter=delimiter),
                                         [])]
    return line.split(maxsplit=max_fields - 1) if max_fields > 0 else line.split()


def _fields(line: str, delimiter: str | None, columns: dict[str, int] | None) -> list[str]:
    """Whitespace-separated lines end with the label, which may hold spaces: under a
    header as many fields as it names; else 3 (``onset offset label``), or 4 when the
    first field is no number (a filename, or a header's names)."""
    if columns is not None:
        return split_fields(line, delimiter, max_fields=max(columns.values()) + 1)
    first = line.split(maxsplit=1)[0]
    return split_fields(line, delimiter, max_fields=3 if _is_number(first) else 4)


def _is_header(fields: list[str]) -> bool:
    known = {name for names in COLUMN_NAMES.values() for name in names}
    return (not any(_is_number(f) for f in fields)
            and any(f.lower() in known for f in fields))


def _header_columns(fields: list[str], where: str) -> dict[str, int]:
    lower = [f.lower() for f in fields]
    columns = {}
    for column, names in COLUMN_NAMES.items():
        found = [i for i, name in enumerate(lower) if name in names]
        if found:
            columns[column] = found[0]
    missing = [name for name in ("onset", "offset", "label") if name not in columns]
    if missing:
        raise AnnotationError(
            f"{where}: header {fields} has no {' or '.join(missing)} column ("
            + "; ".join(f"{name}: one of {', '.join(COLUMN_NAMES[name])}" for name in missing)
            + ")")
    return columns


def _layout(fields: list[str], where: str) -> dict[str, int]:
    if len(fields) == 3:
        return {"onset": 0, "offset": 1, "label": 2}
    if len(fields) in (1, 4):  # one field: a recording without events
        return {"filename": 0, "onset": 1, "offset": 2, "label": 3}
    raise AnnotationError(f"{where}: expected 'onset offset label' or 'filename onset "
                          f"offset label', found {len(fields)} fields: {fields}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str, name: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(f"{where}: {name} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise AnnotationError(f"{where}: {name} {text!r} is not finite")
    return value
