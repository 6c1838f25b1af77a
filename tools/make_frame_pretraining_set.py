#!/usr/bin/env python3
"""Mix the pretraining corpus's clips into 10 s soundscapes with onsets and offsets: a
strong manifest that trains the general network at frame level (docs/frame_detection.md,
"Frame-level pretraining").

The corpus (tools/make_pretraining_corpus.py, docs/pretraining_corpus.md) labels whole
clips; here each clip becomes one event, trimmed of the 10 ms frames 40 dB below its peak
(tools/make_soundscapes.py's ``trim_silence``, so an annotated event starts and ends
with its sound), cut at ``--max-event-seconds``, placed at a random onset over an
ambience clip of the corpus, ``--snr-db`` above it (RMS), and written as one row per
label with its onset and offset. Events are drawn class-balanced (a class uniformly,
then one of its clips), so speech and music, a third of the corpus, do not crowd out the
rare classes. Mixtures of folds 1-9 clips are fold 1, of fold 10 clips fold 2
(validation: ``--set validation_fold=2``), so no source clip is on both sides.

    python tools/make_frame_pretraining_set.py --corpus data/pretraining \\
        --out data/pretraining_mixtures --clips 3000 --validation-clips 300

scaper (the soundscape benchmark's mixer) takes one label per source folder and needs
SoX; the corpus's labels are multi-label paths of a hierarchy, so this recipe places and
scales the events itself (numpy) and reads and writes with soundfile. Deterministic: one
generator per mixture, seeded by ``--seed`` and the mixture's index.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_soundscapes import trim_silence  # noqa: E402  the benchmark's own trimming

logger = logging.getLogger("make_frame_pretraining_set")

# Classes that are backgrounds here (steady textures), never events.
BACKGROUND_CLASSES = ("ambience", "weather/rain", "weather/wind", "water")
# Labels that say nothing about the sound (the corpus's catch-all for unmatched names),
# and the speakers of voice/<speaker>, which a detector has no use for.
DROPPED_LABELS = ("sound_effect",)
DROPPED_PREFIXES = ("voice/",)
VALIDATION_FOLD = 10


@dataclass(frozen=True)
class CorpusClip:
    path: str
    labels: tuple[str, ...]
    fold: int


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("data/pretraining"),
                        help="the pretraining corpus (its manifest.csv and clips/)")
    parser.add_argument("--out", type=Path, default=Path("data/pretraining_mixtures"))
    parser.add_argument("--clips", type=int, default=3000, help="training mixtures")
    parser.add_argument("--validation-clips", type=int, default=300)
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--events", type=int, nargs=2, default=(1, 4),
                        help="fewest and most events of a mixture")
    parser.add_argument("--snr-db", type=float, nargs=2, default=(3.0, 20.0))
    parser.add_argument("--max-event-seconds", type=float, default=5.0)
    parser.add_argument("--min-event-seconds", type=float, default=0.15)
    parser.add_argument("--min-class-clips", type=int, default=10,
                        help="a class needs this many training clips to be drawn")
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def read_corpus(manifest: Path) -> list[CorpusClip]:
    with open(manifest, newline="") as stream:
        return [CorpusClip(row["path"], tuple(label for label in row["labels"].split(";")
                                              if label and label not in DROPPED_LABELS
                                              and not label.startswith(DROPPED_PREFIXES)),
                           int(row["fold"]))
                for row in csv.DictReader(stream)]


def is_background(clip: CorpusClip) -> bool:
    return any(label == name or label.startswith(name + "/")
               for label in clip.labels for name in BACKGROUND_CLASSES)


def pools(clips: list[CorpusClip], *, validation: bool, min_class_clips: int
          ) -> tuple[dict[str, list[CorpusClip]], list[CorpusClip]]:
    """Event clips by class and background clips, of the training folds or of fold 10.

    A class is drawn when the training folds hold ``min_class_clips`` of its clips, so
    training and validation mixtures name the same classes."""
    counts: dict[str, int] = defaultdict(int)
    for clip in clips:
        if clip.fold != VALIDATION_FOLD and not is_background(clip):
            for label in clip.labels:
                counts[label] += 1
    classes = {label for label, n in counts.items() if n >= min_class_clips}
    chosen = [clip for clip in clips if (clip.fold == VALIDATION_FOLD) == validation]
    by_class: dict[str, list[CorpusClip]] = defaultdict(list)
    backgrounds = []
    for clip in chosen:
        if is_background(clip):
            backgrounds.append(clip)
        elif clip.labels:
            for label in clip.labels:
                if label in classes:
                    by_class[label].append(clip)
    return dict(sorted(by_class.items())), backgrounds


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0


def _read(path: Path, sample_rate: int) -> np.ndarray:
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise ValueError(f"{path}: {rate} Hz, the corpus is {sample_rate} Hz")
    return samples.mean(axis=1)


@dataclass(frozen=True)
class Placed:
    onset_seconds: float
    offset_seconds: float
    labels: tuple[str, ...]


def mix(rng: np.random.Generator, by_class: dict[str, list[CorpusClip]],
        backgrounds: list[CorpusClip], corpus: Path, args) -> tuple[np.ndarray, list[Placed]]:
    """One mixture: a background and ``args.events`` events of distinct classes."""
    rate, n = args.sample_rate, int(round(args.clip_seconds * args.sample_rate))
    background = _read(corpus / backgrounds[int(rng.integers(len(backgrounds)))].path, rate)
    start = int(rng.integers(max(1, len(background) - n + 1)))
    background = np.resize(np.roll(background, -start), n)  # looped when shorter
    reference = max(rms(background), 1e-4)
    audio = background.copy()
    classes = sorted(by_class)
    n_events = int(rng.integers(args.events[0], args.events[1] + 1))
    placed: list[Placed] = []
    for label in rng.choice(classes, size=min(n_events, len(classes)), replace=False):
        candidates = by_class[str(label)]
        clip = candidates[int(rng.integers(len(candidates)))]
        event = trim_silence(_read(corpus / clip.path, rate), rate)
        event = event[:int(args.max_event_seconds * rate)]
        if len(event) < args.min_event_seconds * rate or rms(event) == 0:
            continue
        fade = min(len(event), rate // 50)  # 20 ms, so a cut ends without a click
        event = event.copy()
        event[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
        onset = int(rng.integers(0, n - len(event) + 1))
        gain = reference * 10 ** (rng.uniform(*args.snr_db) / 20) / rms(event)
        audio[onset:onset + len(event)] += gain * event
        placed.append(Placed(round(onset / rate, 3), round((onset + len(event)) / rate, 3),
                             tuple(sorted(set(clip.labels)))))
    peak = float(np.abs(audio).max())
    if peak > 0.99:  # scale the whole mixture: the events keep their SNRs
        audio *= 0.99 / peak
    return audio.astype(np.float32), placed


_POOLS: dict = {}  # per worker process: (by_class, backgrounds) for False/True, and args


def _init(pools_by_role: dict, args) -> None:
    _POOLS.update(pools_by_role, args=args)


def _make_one(job: tuple[int, bool]) -> tuple[str, int, list[Placed]]:
    index, validation = job
    (by_class, backgrounds), args = _POOLS[validation], _POOLS["args"]
    rng = np.random.default_rng([args.seed, index, int(validation)])
    fold = 2 if validation else 1
    placed: list[Placed] = []
    while not placed:  # every mixture has an event (all of a draw may be too short)
        audio, placed = mix(rng, by_class, backgrounds, args.corpus, args)
    name = f"audio/fold{fold}/mix_{index:05d}.flac"
    soundfile.write(args.out / name, audio, args.sample_rate, subtype="PCM_16")
    return name, fold, placed


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    clips = read_corpus(args.corpus / "manifest.csv")
    for folder in ("audio/fold1", "audio/fold2"):
        (args.out / folder).mkdir(parents=True, exist_ok=True)
    jobs, pools_by_role = [], {}
    for validation, count in ((False, args.clips), (True, args.validation_clips)):
        by_class, backgrounds = pools(clips, validation=validation,
                                      min_class_clips=args.min_class_clips)
        if not by_class or not backgrounds:
            raise SystemExit(f"{args.corpus}: no event or background clips for "
                             f"{'validation' if validation else 'training'} mixtures")
        logger.info("%s: %d classes, %d event clips, %d backgrounds",
                    "validation" if validation else "training", len(by_class),
                    len({c.path for pool in by_class.values() for c in pool}), len(backgrounds))
        pools_by_role[validation] = (by_class, backgrounds)
        offset = 0 if not validation else args.clips
        jobs += [(offset + i, validation) for i in range(count)]
    with ProcessPoolExecutor(args.jobs, initializer=_init,
                             initargs=(pools_by_role, args)) as pool:
        made = list(pool.map(_make_one, jobs, chunksize=16))
    with open(args.out / "strong.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["path", "labels", "fold", "onset", "offset"])
        for name, fold, placed in made:
            for event in placed:
                for label in event.labels:
                    writer.writerow([name, label, fold, event.onset_seconds,
                                     event.offset_seconds])
    logger.info("wrote %d mixtures, %d events to %s", len(made),
                sum(len(p) for _, _, p in made), args.out / "strong.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
