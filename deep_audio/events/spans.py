"""The one labelled time span: a sound event, or a region of a single-label timeline.

A multi-label model finds *events* (several classes may overlap); a single-label model
labels *regions* (one class at a time, contiguous). Both are :class:`Event`; ``Region`` is
the same type under the name its users know. Annotation files, manifests' strong labels,
detections and timelines all hold this type.

>>> Event(0.5, 1.25, "dog").duration_seconds
0.75
>>> as_events([(0, 2, "low"), Event(2, 3, "high")])[0]
Event(onset_seconds=0.0, offset_seconds=2.0, label='low', confidence=1.0, filename=None)
>>> label_indices([Event(0, 2, "low"), Event(1, 3, "high")], np.array([0.5, 1.5, 3.5]),
...               ["low", "high"]).tolist()
[0, 1, -1]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deep_audio.errors import DeepAudioError


@dataclass(frozen=True)
class Event:
    """A labelled stretch of a recording, ``[onset_seconds, offset_seconds)``.

    Attributes
    ----------
    onset_seconds, offset_seconds : float
        Seconds from the recording's start; ``0 <= onset_seconds < offset_seconds``.
    label : str
        The class; not empty.
    confidence : float
        How sure the model is, in [0, 1] (1.0 for annotated spans): the time-weighted
        mean posterior of ``label`` over the span.
    filename : str or None
        The recording an annotation line names, if it names one.

    Raises
    ------
    DeepAudioError
        A time that is not finite, a negative onset, an offset not after the onset, or an
        empty label (the message shows the values).
    """

    onset_seconds: float
    offset_seconds: float
    label: str
    confidence: float = 1.0
    filename: str | None = None

    def __post_init__(self):
        onset, offset = float(self.onset_seconds), float(self.offset_seconds)
        if not (math.isfinite(onset) and math.isfinite(offset)):
            raise DeepAudioError(f"onset={onset} and offset={offset} must be finite")
        if onset < 0:
            raise DeepAudioError(f"onset={onset} must be >= 0")
        if offset <= onset:
            raise DeepAudioError(f"onset={onset} and offset={offset}: the span "
                                 + ("ends before it starts" if offset < onset
                                    else "has no length"))
        if not str(self.label):
            raise DeepAudioError(f"empty label for the span {onset}-{offset} s")
        object.__setattr__(self, "onset_seconds", onset)
        object.__setattr__(self, "offset_seconds", offset)
        object.__setattr__(self, "label", str(self.label))
        object.__setattr__(self, "confidence", float(self.confidence))

    @property
    def duration_seconds(self) -> float:
        return self.offset_seconds - self.onset_seconds

    def to_dict(self) -> dict[str, Any]:
        """Plain data: times, label, confidence, and the filename when there is one."""
        values = {"onset_seconds": self.onset_seconds, "offset_seconds": self.offset_seconds,
                  "label": self.label, "confidence": self.confidence}
        return values if self.filename is None else {**values, "filename": self.filename}


Region = Event  # a region of a single-label timeline is an event of its one active class


def as_events(spans: Iterable[Event | Sequence[Any]], what: str = "events") -> list[Event]:
    """Events from events or ``(onset_seconds, offset_seconds, label)`` tuples.

    Raises
    ------
    DeepAudioError
        An item that is neither, or an invalid span (``what`` and the item are named).
    """
    events = []
    for span in spans:
        if isinstance(span, Event):
            events.append(span)
            continue
        try:
            onset, offset, label = span
        except (TypeError, ValueError):
            raise DeepAudioError(f"{what}: expected an Event or (onset_seconds, "
                                 f"offset_seconds, label), got {span!r}") from None
        try:
            events.append(Event(onset, offset, label))
        except (TypeError, ValueError) as error:
            raise DeepAudioError(f"{what}: {span!r}: {error}") from None
    return events


def label_indices(spans: Sequence[Event], times_seconds: np.ndarray,
                  class_names: Sequence[str]) -> np.ndarray:
    """The class index of the span that covers each time, ``-1`` where none does.

    Parameters
    ----------
    spans : sequence of Event
        Labels must be in ``class_names``; where spans overlap, the later one wins.
    times_seconds : np.ndarray, shape (n_times,)
    class_names : sequence of str

    Returns
    -------
    np.ndarray of int64, shape (n_times,)
    """
    times = np.asarray(times_seconds, dtype=np.float64)
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.full(len(times), -1, dtype=np.int64)
    for span in spans:
        labels[(times >= span.onset_seconds) & (times < span.offset_seconds)] = index[span.label]
    return labels


def events_by_filename(events: Iterable[Event]) -> dict[str, list[Event]]:
    """Events of a multi-recording annotation grouped by ``filename`` (``""`` for none)."""
    grouped: dict[str, list[Event]] = {}
    for event in events:
        grouped.setdefault(event.filename or "", []).append(event)
    return grouped
