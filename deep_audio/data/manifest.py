"""Manifests: a CSV or TSV file that lists clips, their labels and folds.

One row per clip (weak labels: ``labels`` holds one class, or several separated by
``;``), or one row per event (strong labels: ``onset`` and ``offset`` in seconds; the
rows of one clip are gathered into one :class:`Clip`). Column names default to
``path,labels,fold,onset,offset``; ``fold``, ``onset`` and ``offset`` may be absent.
DESED / DCASE task 4 metadata is read as it is: a header of ``filename`` and
``event_label`` (strong: ``filename onset offset event_label``) or ``event_labels``
(weak: ``filename event_labels``, several labels separated by commas) stands for the
path and label columns.
Paths are relative to ``audio_root`` (default: the manifest's folder). The separator is
that of the header line, by the rule annotation files follow
(:func:`deep_audio.events.annotations.table_delimiter`): a tab if it holds one, else a
comma; fields follow CSV quoting.

A row with a path and nothing else (no label, no onset or offset) lists an unlabelled
clip (``Manifest.unlabelled``: a frame detector's mean teacher trains on them, other
models leave them out). A row that cannot be used (a missing file, an event without a
label, onset >= offset, a number that is not one) is reported with its file and line
number and left out; the rest is used. Several manifests can be read as one (DESED's
strong and weak sets, each relative to its own audio folder): a file listed by two gets
the labels and events of both.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.wav").write_bytes(b""), (folder / "b.wav").write_bytes(b"")
>>> _ = (folder / "m.csv").write_text("path,labels,fold\\na.wav,dog;car,1\\nb.wav,,2\\n"
...                                    "c.wav,dog,2\\n")
>>> manifest = read_manifest(folder / "m.csv")
>>> manifest.class_names, manifest.clips[0].labels, manifest.multi_label
(['car', 'dog'], ('car', 'dog'), True)
>>> [clip.path.name for clip in manifest.unlabelled]
['b.wav']
>>> manifest.problems[0].line, manifest.problems[0].reason[-14:]
(4, 'does not exist')
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from deep_audio.errors import DeepAudioError
from deep_audio.events.annotations import split_fields, table_delimiter
from deep_audio.events.spans import Event
from deep_audio.io.audio import printable
from deep_audio.tasks import MultiLabel

LABEL_SEPARATOR = ";"
# DCASE task 4 (DESED) metadata: the column names standing for path and labels, and the
# separator of its weak labels.
DCASE_COLUMNS = {"path": ("filename",), "labels": ("event_label", "event_labels")}
DCASE_LABEL_SEPARATOR = ","


@dataclass(frozen=True)
class ManifestColumns:
    """The names of a manifest's columns."""

    path: str = "path"
    labels: str = "labels"
    fold: str = "fold"
    onset: str = "onset"
    offset: str = "offset"


class RowProblem(NamedTuple):
    """A manifest row left out: its line, why, and the manifest it is in."""

    line: int
    reason: str
    file: Path


@dataclass(frozen=True)
class Clip:
    """A listed audio file: its labels (sorted), fold and strong-label events.

    ``events`` is empty for a weakly labelled clip, ``labels`` for an unlabelled one;
    ``line`` is its first row's line.
    """

    path: Path
    labels: tuple[str, ...]
    fold: str | None = None
    events: tuple[Event, ...] = ()
    line: int = 0


@dataclass
class Manifest:
    """The usable clips of a manifest, its classes, its unlabelled clips, and the rows
    that were left out.

    ``path`` is the manifest file (the first one, when several were read as one).
    """

    path: Path
    clips: list[Clip]
    class_names: list[str]
    problems: list[RowProblem] = field(default_factory=list)
    unlabelled: list[Clip] = field(default_factory=list)

    @property
    def multi_label(self) -> bool:
        """True when a clip has several labels."""
        return any(len(clip.labels) > 1 for clip in self.clips)

    @property
    def strong(self) -> bool:
        """True when some clip has onset/offset events."""
        return any(clip.events for clip in self.clips)

    @property
    def folds(self) -> list[str]:
        """The fold names, in numeric order where they are numbers."""
        names = {clip.fold for clip in self.clips if clip.fold is not None}
        return sorted(names, key=lambda name: (not _is_number(name), _number_or_zero(name), name))

    def select(self, *, folds: Sequence[str] | None = None,
               exclude_folds: Sequence[str] | None = None) -> Manifest:
        """The clips in ``folds`` (or not in ``exclude_folds``); same classes.

        Raises
        ------
        DeepAudioError
            A fold that the manifest does not have.
        """
        for name in [*(folds or ()), *(exclude_folds or ())]:
            if str(name) not in self.folds:
                raise DeepAudioError(f"manifest '{printable(self.path)}' has no fold "
                                     f"{name!r}; its folds are {self.folds or 'none'}")
        inside = None if folds is None else {str(f) for f in folds}
        outside = set() if exclude_folds is None else {str(f) for f in exclude_folds}

        def kept(clip: Clip) -> bool:
            return (inside is None or clip.fold in inside) and clip.fold not in outside

        return replace(self, clips=[c for c in self.clips if kept(c)],
                       unlabelled=[c for c in self.unlabelled if kept(c)])

    def targets(self) -> np.ndarray:
        """Clip labels as a binary matrix, float32, shape ``(n_clips, n_classes)``."""
        rows = MultiLabel().targets([clip.labels for clip in self.clips], self.class_names)
        return np.stack(rows) if rows else np.zeros((0, len(self.class_names)), np.float32)

    def format_problems(self) -> str:
        """One line per left-out row: ``manifest.csv:LINE: reason``."""
        return "\n".join(f"{printable(problem.file)}:{problem.line}: {problem.reason}"
                          for problem in self.problems)


def read_manifest(path: str | os.PathLike | Sequence[str | os.PathLike], *,
                  audio_root: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                  columns: ManifestColumns = ManifestColumns()) -> Manifest:
    """Read a manifest (tab- or comma-separated, by its header line), or several as one.

    Parameters
    ----------
    path : str or PathLike, or a sequence of them
        The CSV or TSV file, with a header row; several files give one manifest (a
        file listed by two has the labels and events of both; its folds must agree).
    audio_root : str or PathLike, or one per manifest, optional
        Folder the ``path`` column is relative to; default each manifest's folder.
        Absolute paths are used as given.
    columns : ManifestColumns
        Column names. The path and label columns must exist; a renamed fold, onset or
        offset column must exist too, the default ones may be absent.

    Raises
    ------
    DeepAudioError
        A file is missing or unreadable, a required column is absent, the audio roots
        do not match the manifests, or no row is usable (every problem is listed).
    """
    paths = ([Path(path)] if isinstance(path, (str, os.PathLike))
             else [Path(p) for p in path])
    roots = (list(audio_root) if isinstance(audio_root, Sequence)
             and not isinstance(audio_root, str) else [audio_root])
    if len(roots) == 1:
        roots *= len(paths)
    if not paths or len(roots) != len(paths):
        raise DeepAudioError(f"give one audio root, or one per manifest: {len(paths)} "
                             f"manifest(s), {len(roots)} audio root(s)")
    by_path: dict[Path, dict] = {}
    problems: list[RowProblem] = []
    for manifest_path, root in zip(paths, roots):
        problems += _read_rows(manifest_path, manifest_path.parent if root is None
                               else Path(root), columns, by_path)

    clips, unlabelled = [], []
    for file, clip in by_path.items():
        if not file.is_file():
            problems.append(RowProblem(clip["line"], f"'{printable(file)}' does not exist"
                                       if not file.exists() else
                                       f"'{printable(file)}' is not a file", clip["source"]))
            continue
        events = tuple(sorted(clip["events"], key=lambda e: (e.onset_seconds, e.label)))
        (clips if clip["labels"] else unlabelled).append(
            Clip(file, tuple(sorted(clip["labels"])), clip["fold"], events, clip["line"]))
    problems.sort(key=lambda problem: (paths.index(problem.file), problem.line))
    if not clips:
        if unlabelled:
            problems.append(RowProblem(unlabelled[0].line, f"{len(unlabelled)} row(s) "
                                       "without a label: unlabelled clips need labelled "
                                       "ones beside them",
                                       by_path[unlabelled[0].path]["source"]))
        details = "\n".join(f"  {f'{printable(p.file)} ' if len(paths) > 1 else ''}"
                            f"line {p.line}: {p.reason}" for p in problems[:20])
        names = ", ".join(f"'{printable(p)}'" for p in paths)
        raise DeepAudioError(f"manifest {names} lists no usable clip"
                             + (f":\n{details}" if details else ""))
    class_names = sorted({label for clip in clips for label in clip.labels})
    return Manifest(paths[0], clips, class_names, problems, unlabelled)


def _read_rows(path: Path, root: Path, columns: ManifestColumns, by_path: dict[Path, dict]
               ) -> list[RowProblem]:
    """Gather one manifest's rows into ``by_path`` (file -> labels, fold, events, line,
    source); returns the rows left out."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DeepAudioError(f"cannot read manifest '{printable(path)}': "
                             f"{getattr(error, 'strerror', None) or error}") from None
    lines = text.splitlines()
    if not lines:
        raise DeepAudioError(f"manifest '{printable(path)}' is empty")
    delimiter = table_delimiter(lines[:1]) or ","
    header = split_fields(lines[0], delimiter)
    where = _column_positions(path, header, columns)
    separator = (DCASE_LABEL_SEPARATOR if header[where["labels"]] == "event_labels"
                 else LABEL_SEPARATOR)

    problems = []
    for line, text in enumerate(lines[1:], start=2):
        row = split_fields(text, delimiter)
        if not any(cell.strip() for cell in row):
            continue
        try:
            file, labels, fold, event = _parse_row(row, where, root, separator)
        except ValueError as error:
            problems.append(RowProblem(line, str(error), path))
            continue
        clip = by_path.setdefault(file, {"labels": set(), "fold": fold, "events": [],
                                         "line": line, "source": path})
        if fold != clip["fold"]:
            where_first = ("" if clip["source"] == path
                           else f" of '{printable(clip['source'])}'")
            problems.append(RowProblem(line, f"fold {fold!r} differs from fold "
                                             f"{clip['fold']!r} of this file on line "
                                             f"{clip['line']}{where_first}", path))
            continue
        clip["labels"].update(labels)
        if event is not None:
            clip["events"].append(event)
    return problems


def _column_positions(path: Path, header: list[str], columns: ManifestColumns
                      ) -> dict[str, int | None]:
    defaults = ManifestColumns()
    where: dict[str, int | None] = {}
    for role in ("path", "labels", "fold", "onset", "offset"):
        name = getattr(columns, role)
        required = role in ("path", "labels") or name != getattr(defaults, role)
        if name not in header and name == getattr(defaults, role):
            name = next((n for n in DCASE_COLUMNS.get(role, ()) if n in header), name)
        if name in header:
            where[role] = header.index(name)
        elif required:
            raise DeepAudioError(f"manifest '{printable(path)}' has no column {name!r} "
                                 f"(its columns: {', '.join(header)})")
        else:
            where[role] = None
    if (where["onset"] is None) != (where["offset"] is None):
        raise DeepAudioError(f"manifest '{printable(path)}' needs both onset and offset "
                             "columns, or neither")
    return where


def _parse_row(row: list[str], where: dict[str, int | None], root: Path, separator: str
               ) -> tuple[Path, list[str], str | None, Event | None]:
    """A row's file, labels (none: an unlabelled clip), fold and event (or ``None``)."""
    def cell(role: str) -> str:
        position = where[role]
        return row[position].strip() if position is not None and position < len(row) else ""

    name = cell("path")
    if not name:
        raise DeepAudioError("empty path")
    labels = [label.strip() for label in cell("labels").split(separator)
              if label.strip()]
    fold = cell("fold") or None
    onset, offset = cell("onset"), cell("offset")
    event = None
    if (onset or offset) and not labels:
        raise DeepAudioError("an event row needs a label")
    if onset or offset:
        if not (onset and offset):
            raise DeepAudioError("onset and offset must both be given, or neither")
        if len(labels) != 1:
            raise DeepAudioError(f"an event row needs one label, got {len(labels)}")
        try:
            start, end = float(onset), float(offset)
        except ValueError:
            raise DeepAudioError(f"onset {onset!r} / offset {offset!r} are not numbers") from None
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0:
            raise DeepAudioError(f"onset {onset} must be a number >= 0")
        if start >= end:
            raise DeepAudioError(f"onset {onset} is not before offset {offset}")
        event = Event(start, end, labels[0])
    file = Path(name)
    return (file if file.is_absolute() else root / file), labels, fold, event


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _number_or_zero(text: str) -> float:
    return float(text) if _is_number(text) else 0.0
