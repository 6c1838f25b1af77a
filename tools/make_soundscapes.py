#!/usr/bin/env python3
"""Build the soundscape benchmark under data/soundscapes/: strong labels, folds by source.

Real one-shot recordings (Sonic Pi's samples and Tux Paint's animal recordings) are mixed
with scaper over real ambient backgrounds (Sonic Pi's ambient, vinyl and drone samples)
into 10 s clips with 1-3 events each, plus a few 150 s recordings for sound event
detection. Every source recording belongs to one fold, so a fold's clips hold only its
own recordings (foreground and background). See docs/soundscape_benchmark.md.

Sources are Debian packages, extracted without installing; scaper needs SoX (the ``sox``
program on PATH, or the soxbindings module):

    apt-get update
    apt-get download sonic-pi-samples tuxpaint-stamps-default
    for f in sonic-pi-samples_*.deb tuxpaint-stamps-default_*.deb; do
        dpkg -x "$f" "src/${f%%_*}"; done
    pip install --no-deps scaper==1.6.5 && pip install sox==1.4.0 jams pyloudnorm
    python tools/make_soundscapes.py --sonic-pi src/sonic-pi-samples \\
        --tuxpaint src/tuxpaint-stamps-default

``--unlabelled-per-fold N`` adds N more clips per training fold (``--unlabelled-folds``,
default every fold but the last two: neither the test fold nor the one a run validates
on) under ``unlabelled/``, mixed the same way from other draws and written without
annotations: the unlabelled set of a mean-teacher run (docs/frame_detection.md).

Deterministic: every random choice comes from ``--seed`` (sorted listings, one generator
per clip), and scaper only mixes what is chosen here. Each run replaces ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
import logging
import re
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from deep_audio.events import Event, write_annotation

logger = logging.getLogger("make_soundscapes")

# label -> regular expression on the sample's file stem (Sonic Pi, 44.1 kHz FLAC, CC0)
SONIC_PI_CLASSES = {
    "bass drum": r"^bd_",
    "snare": r"^(sn_|drum_snare_|elec_((filt|hi|lo|mid)_)?snare$)",
    "cymbal": r"^(drum_cymbal_|drum_splash_|elec_cymbal$)",
    "tom": r"^(drum_tom_|elec_fuzz_tom$)",
    "tabla": r"^tabla_",
    "bass": r"^bass_",
    "guitar": r"^guit_",
}
# label -> folder under usr/share/tuxpaint/stamps (Tux Paint, Ogg, GPL-2); the spoken
# stamp descriptions (*_desc*.ogg) are left out
TUXPAINT_CLASSES = {
    "bird": "animals/birds",
    "cattle": "animals/mammals/bovines",
    "insect": "animals/insects",
}
# Sonic Pi stems used as backgrounds: steady ambient textures, hiss and machine noise
BACKGROUNDS = ["ambi_dark_woosh", "ambi_drone", "ambi_glass_hum", "ambi_glass_rub",
               "ambi_haunted_hum", "ambi_lunar_land", "ambi_sauna", "loop_3d_printer",
               "loop_drone_g_97", "vinyl_hiss"]


@dataclass
class Source:
    """One source recording, trimmed to mono, and where it went."""

    origin: str          # package-relative path of the original file
    original: Path       # that file here
    label: str           # class, or "background"
    group: str           # recordings of one group share a fold
    samples: np.ndarray  # mono float32, silence trimmed
    sample_rate: int
    fold: int = 0
    path: Path | None = None  # the trimmed WAV scaper reads

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sonic-pi", type=Path, required=True,
                        help="extracted sonic-pi-samples package (holds usr/share/...)")
    parser.add_argument("--tuxpaint", type=Path, required=True,
                        help="extracted tuxpaint-stamps-default package")
    parser.add_argument("--out", type=Path, default=Path("data/soundscapes"))
    parser.add_argument("--folds", type=int, default=5,
                        help="number of folds; the last one is the test split")
    parser.add_argument("--clips-per-fold", type=int, default=120)
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--long-recordings", type=int, default=3,
                        help="long recordings, from the test fold's sources")
    parser.add_argument("--long-seconds", type=float, default=150.0)
    parser.add_argument("--long-events-per-minute", type=float, default=8.0)
    parser.add_argument("--max-event-seconds", type=float, default=5.0,
                        help="longer sources are cut (scaper fades the cut)")
    parser.add_argument("--min-event-seconds", type=float, default=0.15,
                        help="shorter sources (after trimming silence) are left out")
    parser.add_argument("--snr-db", type=float, nargs=2, default=(3.0, 20.0),
                        metavar=("MIN", "MAX"), help="event loudness over the background")
    parser.add_argument("--sample-rate", type=int, default=16_000, help="Hz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unlabelled-per-fold", type=int, default=0,
                        help="clips per fold written to unlabelled/, without annotations")
    parser.add_argument("--unlabelled-folds", type=int, nargs="+", default=None,
                        help="folds of the unlabelled clips (default: all but the last two)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    check_sox()
    sources = collect_sources(args.sonic_pi, args.tuxpaint,
                              min_event_seconds=args.min_event_seconds)
    assign_folds(sources, args.folds, seed=args.seed)
    if args.out.exists():
        shutil.rmtree(args.out)
    (args.out / "meta").mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="soundscapes_") as work:
        write_sources(sources, Path(work), args.folds)
        clips = make_clips(sources, Path(work), args)
        long = make_long_recordings(sources, Path(work), args)
        unlabelled = make_unlabelled_clips(sources, Path(work), args)
    write_manifests(clips, long, args)
    write_source_txt(sources, clips, long, args)
    logger.info("wrote %d clips, %d long recordings and %d unlabelled clips to %s",
                len(clips), len(long), unlabelled, args.out)
    return 0


def check_sox() -> None:
    """scaper runs SoX through soxbindings or, without it, the ``sox`` program."""
    if importlib.util.find_spec("soxbindings") is None and shutil.which("sox") is None:
        raise SystemExit("scaper needs SoX: install the sox program (apt-get install sox) "
                         "or the soxbindings module (pip install soxbindings; it builds "
                         "against libsox-dev); see docs/soundscape_benchmark.md")


# ------------------------------------------------------------------------- sources


def collect_sources(sonic_pi: Path, tuxpaint: Path, *, min_event_seconds: float
                    ) -> list[Source]:
    """Every usable foreground and background recording, trimmed, in a fixed order."""
    samples_dir = sonic_pi / "usr/share/sonic-pi/samples"
    stamps_dir = tuxpaint / "usr/share/tuxpaint/stamps"
    for folder in (samples_dir, stamps_dir):
        if not folder.is_dir():
            raise SystemExit(f"{folder} does not exist; extract the package there")
    sources = []
    for path in sorted(samples_dir.glob("*.flac")):
        stem = path.stem
        if stem in BACKGROUNDS:
            label = "background"
        else:
            labels = [name for name, pattern in SONIC_PI_CLASSES.items()
                      if re.search(pattern, stem)]
            if not labels:
                continue
            label = labels[0]
        sources.append(_load(path, f"sonic-pi-samples:{path.relative_to(sonic_pi)}",
                             label, group=_group_name(stem), trim=label != "background"))
    for label, folder in TUXPAINT_CLASSES.items():
        for path in sorted((stamps_dir / folder).rglob("*.ogg")):
            if "_desc" in path.stem:
                continue
            sources.append(_load(path, f"tuxpaint-stamps-default:"
                                 f"{path.relative_to(tuxpaint)}", label,
                                 group=_group_name(path.stem), trim=True))
    kept = [s for s in sources if s.label == "background" or s.seconds >= min_event_seconds]
    for s in sources:
        if s not in kept:
            logger.info("left out %s: %.3f s after trimming", s.origin, s.seconds)
    _merge_same_length_groups(kept)
    return kept


def _load(path: Path, origin: str, label: str, *, group: str, trim: bool) -> Source:
    samples, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    if trim:
        mono = trim_silence(mono, sample_rate)
    return Source(origin, path, label, f"{label}:{group}", mono, sample_rate)


def trim_silence(samples: np.ndarray, sample_rate: int, *, below_peak_db: float = 40.0
                  ) -> np.ndarray:
    """Cut leading and trailing 10 ms frames quieter than the peak by ``below_peak_db``."""
    frame = max(1, sample_rate // 100)
    n_frames = int(np.ceil(len(samples) / frame))
    padded = np.zeros(n_frames * frame, dtype=samples.dtype)
    padded[:len(samples)] = samples
    peaks = np.abs(padded.reshape(n_frames, frame)).max(axis=1)
    loud = np.flatnonzero(peaks >= peaks.max() * 10 ** (-below_peak_db / 20))
    if len(loud) == 0:
        return samples[:0]
    return samples[loud[0] * frame:min(len(samples), (loud[-1] + 1) * frame)]


def _group_name(stem: str) -> str:
    """Takes of one instrument or stroke share a group: strip _hard/_soft and digits."""
    return re.sub(r"(_(hard|soft))$", "", re.sub(r"\d+$", "", stem))


def _merge_same_length_groups(sources: list[Source]) -> None:
    """Recordings of one class with the same original length to the sample are
    treated as one recording (Tux Paint's goat, mountaingoat and ram are)."""
    by_key: dict[tuple, str] = {}
    for s in sources:
        if s.label == "background":
            continue
        info = soundfile.info(s.original)
        key = (s.label, info.frames, info.samplerate)
        s.group = by_key.setdefault(key, s.group)


def assign_folds(sources: list[Source], n_folds: int, *, seed: int) -> None:
    """Give every group of every class (and every background) one fold, 1..n_folds.

    Each class's groups are shuffled and dealt to folds in the order n_folds, 1, 2, ...,
    so the test fold (n_folds) gets one of every class before any fold gets a second.
    """
    rng = np.random.default_rng(seed)
    order = [n_folds, *range(1, n_folds)]
    by_label: dict[str, list[str]] = defaultdict(list)
    for s in sources:
        key = s.group if s.label != "background" else s.origin
        if key not in by_label[s.label]:
            by_label[s.label].append(key)
    fold_of: dict[str, int] = {}
    for label in sorted(by_label):
        groups = sorted(by_label[label])
        rng.shuffle(groups)
        for index, group in enumerate(groups):
            fold_of[group] = order[index % n_folds]
    for s in sources:
        s.fold = fold_of[s.group if s.label != "background" else s.origin]


def write_sources(sources: list[Source], work: Path, n_folds: int) -> None:
    """Trimmed mono WAVs in scaper's layout: <work>/fold<k>/{foreground,background}/<label>."""
    for s in sources:
        role = "background" if s.label == "background" else "foreground"
        folder = work / f"fold{s.fold}" / role / s.label.replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", s.origin.split(":", 1)[1])
        s.path = folder / (Path(name).stem + ".wav")
        soundfile.write(s.path, s.samples, s.sample_rate, subtype="FLOAT")
    for fold in range(1, n_folds + 1):
        for role in ("foreground", "background"):
            (work / f"fold{fold}" / role).mkdir(parents=True, exist_ok=True)


# ------------------------------------------------------------------------ mixing


@dataclass
class Clip:
    path: str            # relative to the output folder
    fold: int
    seconds: float
    events: list[Event]
    background: str


def _scaper(work: Path, fold: int, seconds: float, sample_rate: int, seed: int):
    # scaper 1.6.5 (the latest release) uses np.Inf, which numpy 2 removed; put the
    # alias back before scaper runs (numpy 1 has it; nothing else changes)
    if not hasattr(np, "Inf"):
        np.Inf = np.inf
    import scaper

    sc = scaper.Scaper(seconds, str(work / f"fold{fold}" / "foreground"),
                       str(work / f"fold{fold}" / "background"), random_state=seed)
    sc.sr = sample_rate
    sc.n_channels = 1
    sc.ref_db = -40  # background loudness, LUFS; events are snr dB above it
    return sc


def _place_events(rng: np.random.Generator, pool: dict[str, list[Source]], n_events: int,
                  seconds: float, *, max_event_seconds: float, distinct_labels: bool
                  ) -> list[tuple[Source, float, float]]:
    """(source, onset, duration) for n_events, no two of one class overlapping."""
    labels = sorted(pool)
    chosen: list[tuple[Source, float, float]] = []
    picks = (rng.choice(labels, size=n_events, replace=False) if distinct_labels
             else rng.choice(labels, size=n_events))
    for label in picks:
        candidates = pool[str(label)]
        source = candidates[int(rng.integers(len(candidates)))]
        duration = min(source.seconds, max_event_seconds)
        for _ in range(100):
            onset = float(np.round(rng.uniform(0, seconds - duration), 3))
            if all(s.label != source.label or onset >= o + d or onset + duration <= o
                   for s, o, d in chosen):
                chosen.append((source, onset, duration))
                break
    return chosen


def _mix(work: Path, fold: int, seconds: float, placed, background: Source, rng, args,
         seed: int) -> tuple[np.ndarray, list[Event]]:
    sc = _scaper(work, fold, seconds, args.sample_rate, seed)
    sc.add_background(label=("const", "background"),
                      source_file=("const", str(background.path)), source_time=("const", 0))
    for source, onset, duration in placed:
        sc.add_event(label=("const", source.path.parent.name),
                     source_file=("const", str(source.path)), source_time=("const", 0),
                     event_time=("const", onset), event_duration=("const", duration),
                     snr=("const", float(np.round(rng.uniform(*args.snr_db), 1))),
                     pitch_shift=None, time_stretch=None)
    audio, jam, _, _ = sc.generate(fix_clipping=True, disable_instantiation_warnings=True)
    events = []
    for observation in jam.annotations.search(namespace="scaper")[0].data:
        value = observation.value
        if value["role"] != "foreground":
            continue
        events.append(Event(round(float(value["event_time"]), 3),
                            round(float(value["event_time"] + value["event_duration"]), 3),
                            value["label"].replace("_", " ")))
    events.sort(key=lambda e: (e.onset_seconds, e.label))
    return np.asarray(audio, dtype=np.float32).reshape(-1), events


def _pools(sources: list[Source], fold: int) -> tuple[dict[str, list[Source]], list[Source]]:
    pool: dict[str, list[Source]] = defaultdict(list)
    for s in sources:
        if s.fold == fold and s.label != "background":
            pool[s.label].append(s)
    backgrounds = [s for s in sources if s.fold == fold and s.label == "background"]
    return dict(pool), backgrounds


def make_clips(sources: list[Source], work: Path, args) -> list[Clip]:
    """``clips_per_fold`` clips per fold of 1-3 events (distinct classes) over a background."""
    clips = []
    for fold in range(1, args.folds + 1):
        pool, backgrounds = _pools(sources, fold)
        if not backgrounds:
            raise SystemExit(f"fold {fold} has no background; use fewer folds")
        folder = args.out / "audio" / f"fold{fold}"
        folder.mkdir(parents=True)
        for index in range(args.clips_per_fold):
            seed = args.seed * 1_000_003 + fold * 100_000 + index
            audio, events, background = _clip(work, fold, pool, backgrounds, args, seed)
            name = f"fold{fold}_{index:04d}"
            soundfile.write(folder / f"{name}.flac", audio, args.sample_rate,
                            subtype="PCM_16")
            write_annotation(folder / f"{name}.tsv", events)
            clips.append(Clip(f"audio/fold{fold}/{name}.flac", fold, args.clip_seconds,
                              events, background.origin))
        logger.info("fold %d: %d clips, classes %s, %d backgrounds", fold,
                    args.clips_per_fold, sorted(pool), len(backgrounds))
    return clips


def _clip(work: Path, fold: int, pool, backgrounds: list[Source], args, seed: int
          ) -> tuple[np.ndarray, list[Event], Source]:
    """One clip of 1-3 events of distinct classes over a background, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    n_events = int(rng.integers(1, min(3, len(pool)) + 1))
    placed = _place_events(rng, pool, n_events, args.clip_seconds,
                           max_event_seconds=args.max_event_seconds, distinct_labels=True)
    background = backgrounds[int(rng.integers(len(backgrounds)))]
    audio, events = _mix(work, fold, args.clip_seconds, placed, background, rng, args, seed)
    return audio, events, background


def make_unlabelled_clips(sources: list[Source], work: Path, args) -> int:
    """``unlabelled_per_fold`` clips per unlabelled fold, no annotations; how many."""
    folds = args.unlabelled_folds or list(range(1, args.folds - 1))
    count = 0
    for fold in folds if args.unlabelled_per_fold else ():
        pool, backgrounds = _pools(sources, fold)
        folder = args.out / "unlabelled" / f"fold{fold}"
        folder.mkdir(parents=True)
        for index in range(args.unlabelled_per_fold):
            # other draws than the labelled clips' (their seeds stay below 100_000 per fold)
            seed = args.seed * 1_000_003 + fold * 100_000 + 50_000 + index
            audio, _, _ = _clip(work, fold, pool, backgrounds, args, seed)
            soundfile.write(folder / f"u{fold}_{index:04d}.flac", audio, args.sample_rate,
                            subtype="PCM_16")
            count += 1
    return count


def make_long_recordings(sources: list[Source], work: Path, args) -> list[Clip]:
    """Long recordings of the test fold's sources, events of any class at random times."""
    pool, backgrounds = _pools(sources, args.folds)
    folder = args.out / "long"
    folder.mkdir(parents=True)
    recordings = []
    for index in range(args.long_recordings):
        seed = args.seed * 1_000_003 + 900_000 + index
        rng = np.random.default_rng(seed)
        n_events = int(round(args.long_events_per_minute * args.long_seconds / 60))
        placed = _place_events(rng, pool, n_events, args.long_seconds,
                               max_event_seconds=args.max_event_seconds,
                               distinct_labels=False)
        background = backgrounds[index % len(backgrounds)]
        audio, events = _mix(work, args.folds, args.long_seconds, placed, background, rng,
                             args, seed)
        name = f"long_{index + 1:02d}"
        soundfile.write(folder / f"{name}.flac", audio, args.sample_rate, subtype="PCM_16")
        write_annotation(folder / f"{name}.tsv", events)
        recordings.append(Clip(f"long/{name}.flac", args.folds, args.long_seconds, events,
                               background.origin))
    return recordings


# ------------------------------------------------------------------------ manifests


def write_manifests(clips: list[Clip], long: list[Clip], args) -> None:
    """Strong and weak manifests (all folds, train, test) and DCASE event lists."""
    meta = args.out / "meta"
    splits = {"all": clips, "train": [c for c in clips if c.fold != args.folds],
              "test": [c for c in clips if c.fold == args.folds]}
    for split, members in splits.items():
        prefix = "" if split == "all" else f"{split}_"
        with open(meta / f"{prefix}strong.csv", "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["path", "labels", "fold", "onset", "offset"])
            for clip in members:
                for e in clip.events:
                    writer.writerow([clip.path, e.label, clip.fold,
                                     f"{e.onset_seconds:.3f}", f"{e.offset_seconds:.3f}"])
        with open(meta / f"{prefix}weak.csv", "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["path", "labels", "fold"])
            for clip in members:
                writer.writerow([clip.path, ";".join(sorted({e.label for e in clip.events})),
                                 clip.fold])
    for name, members in (("test_events.tsv", splits["test"]), ("long_events.tsv", long)):
        write_annotation(meta / name, [Event(e.onset_seconds, e.offset_seconds, e.label,
                                             filename=c.path)
                                       for c in members for e in c.events])
    with open(meta / "durations.tsv", "w") as f:
        f.write("filename\tduration\n")
        for clip in clips + long:
            f.write(f"{clip.path}\t{clip.seconds:.3f}\n")


def _package_version(root: Path, package: str) -> str:
    changelog = root / f"usr/share/doc/{package}/changelog.Debian.gz"
    try:
        with gzip.open(changelog, "rt") as f:
            return f.readline().split("(")[1].split(")")[0]
    except (OSError, IndexError):
        return "unknown"


def write_source_txt(sources: list[Source], clips: list[Clip], long: list[Clip], args
                     ) -> None:
    import scaper

    lines = [
        "Soundscape benchmark built by tools/make_soundscapes.py "
        f"(scaper {scaper.__version__}, seed {args.seed}).",
        f"Sources: sonic-pi-samples {_package_version(args.sonic_pi, 'sonic-pi-samples')} "
        "(CC0 / see its copyright file), tuxpaint-stamps-default "
        f"{_package_version(args.tuxpaint, 'tuxpaint-stamps-default')} (GPL-2).",
        f"Clips: {args.clip_seconds:g} s, 1-3 events of distinct classes over one "
        f"background, SNR {args.snr_db[0]:g}-{args.snr_db[1]:g} dB, {args.sample_rate} Hz "
        "mono FLAC.",
        f"Folds 1-{args.folds}: every source recording (and every group of takes) is in one "
        f"fold; fold {args.folds} is the test split, the others train.",
        "",
        "Sources per fold (events, backgrounds):",
    ]
    for fold in range(1, args.folds + 1):
        counts = Counter(s.label for s in sources if s.fold == fold)
        lines.append(f"  fold {fold}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    lines += ["", "Events per fold:"]
    for fold in range(1, args.folds + 1):
        counts = Counter(e.label for c in clips if c.fold == fold for e in c.events)
        n_clips = sum(c.fold == fold for c in clips)
        overlapping = sum(_overlaps(c.events) for c in clips if c.fold == fold)
        lines.append(f"  fold {fold}: {n_clips} clips ({overlapping} with overlapping "
                     "events): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    per_clip = Counter(len(c.events) for c in clips)
    lines.append("  events per clip: " + ", ".join(f"{k}: {v} clips"
                                                   for k, v in sorted(per_clip.items())))
    lines += ["", f"Long recordings (fold {args.folds} sources): " + ", ".join(
        f"{c.path} {len(c.events)} events" for c in long), "",
        "Source recordings (seconds after trimming silence; a group shares a fold):"]
    for s in sources:
        lines.append(f"  fold {s.fold}  {s.label:<10}  {s.seconds:6.2f} s  {s.origin}"
                     + (f"  (group {s.group})" if s.label != "background" else ""))
    (args.out / "SOURCE.txt").write_text("\n".join(lines) + "\n")


def _overlaps(events: list[Event]) -> bool:
    latest_offset = -1.0
    for e in sorted(events, key=lambda e: e.onset_seconds):
        if e.onset_seconds < latest_offset:
            return True
        latest_offset = max(latest_offset, e.offset_seconds)
    return False


if __name__ == "__main__":
    sys.exit(main())
