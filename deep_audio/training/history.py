"""The per-epoch training log, a CSV file beside the model."""

from __future__ import annotations

import csv
from pathlib import Path

from deep_audio.errors import DeepAudioError


class HistoryLog:
    """Writes one row per epoch to ``path``; a resumed run's earlier rows come first."""

    def __init__(self, path: Path, rows: list[dict[str, float]] = ()):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        for row in rows:
            self.append(row)

    def append(self, row: dict[str, float]) -> None:
        new = not self.path.exists()
        with open(self.path, "a", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v
                             for k, v in row.items()})


def read_history(path: str | Path) -> dict[str, list[float]]:
    """The per-epoch log written by :class:`HistoryLog`, as columns (name -> one value per
    epoch).

    Raises
    ------
    DeepAudioError
        The file is missing or is not such a log.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
    except OSError as error:
        raise DeepAudioError(f"cannot read training history '{path}': "
                             f"{error.strerror}") from error
    if not rows or "epoch" not in rows[0]:
        raise DeepAudioError(f"'{path}' is not a training history (no 'epoch' column)")
    try:
        return {name: [float(row[name]) for row in rows] for name in rows[0]}
    except (TypeError, ValueError) as error:
        raise DeepAudioError(f"training history '{path}' holds a bad value: {error}") from error
