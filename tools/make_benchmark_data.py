"""Build the four real-audio tasks of the time-to-accuracy benchmark under data/benchmark/.

Every task is ``<out>/<task>/{train,test}/<class>/<files>`` plus ``<out>/<task>/SOURCE.txt``;
the split is the one a user faces (new phrases, new drum kits, new prompts), never two
pieces of one recording on both sides. Deterministic (seeded, sorted listings); each run
overwrites the task folders. Sources are Debian packages, extracted without installing:

    apt-get update
    apt-get download tuxpaint-stamps-default fluid-soundfont-gm \\
        asterisk-core-sounds-{en,es,fr,it,ru}-wav ufoai-sound
    for f in *.deb; do dpkg -x "$f" "src/${f%%_*}"; done
    pip install --no-deps tinysoundfont
    python tools/make_benchmark_data.py --tuxpaint src/tuxpaint-stamps-default \\
        --soundfont src/fluid-soundfont-gm/usr/share/sounds/sf2/FluidR3_GM.sf2 \\
        --asterisk-root src --ufoai src/ufoai-sound

Tasks (see docs/benchmark_data.md):
  speakers   spoken stamp descriptions of Tux Paint, one class per language (one voice
             each), split by stamp: a stamp's clips are in one split for every language.
  drums      kick/snare/hihat/tom/cymbal notes of the FluidR3 drum kits (bank 128), split
             by kit; renderings that duplicate an earlier kit's are dropped.
  languages  Asterisk telephone prompts in 5 languages, split by prompt name.
  environment  UFO: Alien Invasion's sound effects in 6 classes (footsteps, voice, alien,
             weapon, ambience, impact), split by original file.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import re
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile

SEED = 0


def _reset(task_dir: Path) -> None:
    if task_dir.exists():
        shutil.rmtree(task_dir)
    task_dir.mkdir(parents=True)


def _counts(task_dir: Path) -> str:
    lines = []
    for split in ("train", "test"):
        per = {c.name: len(list(c.iterdir())) for c in sorted((task_dir / split).iterdir())}
        lines.append(f"{split}: {sum(per.values())} files: "
                     + ", ".join(f"{k} {v}" for k, v in per.items()))
    return "\n".join(lines)


def _write_source(task_dir: Path, text: str) -> None:
    (task_dir / "SOURCE.txt").write_text(text.strip() + "\n\nCounts\n" + _counts(task_dir) + "\n")


def _copy_split(task_dir: Path, sources: dict[str, dict[str, Path]], test_keys: set[str], *,
                n_train: int, n_test: int, suffix: str) -> None:
    """Copy up to ``n_train`` / ``n_test`` files per class (drawn with the fixed seed)
    into ``train`` / ``test``; a key (phrase, prompt) in ``test_keys`` only ever goes to
    ``test``, so no phrase is on both sides. ``sources``: class -> key -> file."""
    rng = random.Random(SEED)
    for name, files in sources.items():
        for split, n in (("train", n_train), ("test", n_test)):
            pool = sorted(k for k in files if (k in test_keys) == (split == "test"))
            for key in sorted(rng.sample(pool, min(n, len(pool)))):
                dest = task_dir / split / name / (key.replace("/", "__") + suffix)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(files[key], dest)


def make_speakers(tuxpaint: Path, out: Path, n_classes: int = 15, n_train: int = 35,
                  n_test: int = 15, test_fraction: float = 0.3, max_s: float = 5.0) -> None:
    """Tux Paint spoken descriptions: <stamp>_desc_<lang>.ogg (no suffix: English)."""
    stamps_dir = next(tuxpaint.glob("**/tuxpaint/stamps"))
    clips: dict[str, dict[str, Path]] = {}  # language -> stamp -> file
    seen: set[tuple[str, str]] = set()  # (language, file digest)
    for path in sorted(stamps_dir.rglob("*_desc*.ogg")):
        match = re.fullmatch(r"(.+)_desc(?:_([a-z]+))?\.ogg", path.name)
        # skips one misnamed "..._desc_da.ogg.ogg" and a few long clips (up to ~20 s)
        if match and soundfile.info(path).duration <= max_s:
            language = match.group(2) or "en"
            # Tux Paint reuses one recording for several stamps (a letter's lowercase and
            # uppercase, crown1/crown2): keep the first, or it could sit on both sides.
            digest = (language, hashlib.sha256(path.read_bytes()).hexdigest())
            if digest in seen:
                continue
            seen.add(digest)
            stamp = str(path.parent.relative_to(stamps_dir) / match.group(1))
            clips.setdefault(language, {})[stamp] = path
    # Languages with enough clips for n_train + n_test (fewer than n_classes may qualify).
    ranked = sorted(clips, key=lambda lang: (-len(clips[lang]), lang))
    languages = [lang for lang in ranked
                 if len(clips[lang]) >= 1.3 * (n_train + n_test)][:n_classes]
    stamps = sorted({s for lang in languages for s in clips[lang]})
    random.Random(SEED).shuffle(stamps)
    test_stamps = set(stamps[:int(test_fraction * len(stamps))])
    task_dir = out / "speakers"
    _reset(task_dir)
    _copy_split(task_dir, {lang: clips[lang] for lang in sorted(languages)}, test_stamps,
                n_train=n_train, n_test=n_test, suffix=".ogg")
    _write_source(task_dir, f"""
Source: Debian package tuxpaint-stamps-default (Tux Paint stamps, GPL-2), spoken stamp
descriptions usr/share/tuxpaint/stamps/**/<stamp>_desc_<lang>.ogg (<stamp>_desc.ogg = en).
Classes: the {len(languages)} languages with at least {int(1.3 * (n_train + n_test))} description
clips of at most {max_s} s (only these many qualify), class named after the language code;
each language was recorded mostly by one voice. Files are the original Ogg Vorbis files,
copied unchanged, named <stamp path with / -> __>.ogg. A recording that several stamps
of a language share (identical files) is kept once, under the first stamp in sorted order.
Split: by stamp (phrase). Sorted stamps shuffled with seed {SEED}; the first
{test_fraction:.0%} are test stamps for every language. Per language {n_train} train and
{n_test} test clips drawn with seed {SEED} from its train / test stamps.""")


DRUM_NOTES = {"kick": [35, 36], "snare": [38, 40], "hihat": [42, 44, 46],
              "tom": [41, 43, 45, 47, 48, 50], "cymbal": [49, 51, 52, 53, 55, 57, 59]}
TEST_KITS = ("TR-808", "Orchestra Kit")
VELOCITIES = (40, 57, 75, 92, 110, 127)


def make_drums(soundfont: Path, out: Path, sample_rate: int = 22050, max_seconds: float = 3.0,
               max_per_class: dict[str, int] | None = None) -> None:
    """Render every drum note of every bank-128 kit; split by kit; drop duplicate renderings."""
    import tinysoundfont

    max_per_class = max_per_class or {"train": 84, "test": 30}
    synth = tinysoundfont.Synth(samplerate=sample_rate)
    font = synth.sfload(str(soundfont))
    kits = {p: synth.sfpreset_name(font, 128, p) for p in range(128)
            if synth.sfpreset_name(font, 128, p)}
    # Train kits first, so a test rendering equal to a train one is the one dropped.
    order = sorted(kits, key=lambda p: (kits[p] in TEST_KITS, p))

    def render(preset: int, note: int, velocity: int) -> np.ndarray:
        synth.program_select(9, font, 128, preset, True)
        synth.noteon(9, note, velocity)
        y = np.frombuffer(synth.generate(int(max_seconds * sample_rate)), dtype=np.float32)
        synth.noteoff(9, note)
        synth.sounds_off(9)
        synth.generate(sample_rate // 5)  # let the voice die before the next note
        y = y.reshape(-1, 2).mean(axis=1)
        loud = np.flatnonzero(np.abs(y) > 10 ** (-50 / 20) * np.abs(y).max())  # -50 dB
        y = y[:max(loud[-1] + 1, int(0.1 * sample_rate))] if len(loud) else y[:0]
        return np.clip(y, -1, 1)

    def same(a: np.ndarray, b: np.ndarray) -> bool:  # equal up to gain
        n = min(len(a), len(b))
        return np.dot(a[:n], b[:n]) > 0.98 * np.linalg.norm(a) * np.linalg.norm(b)

    kept: dict[tuple[int, int], list[np.ndarray]] = {}
    clips: dict[tuple[str, str], list[tuple[str, np.ndarray]]] = {}
    dropped = Counter()
    for preset in order:
        split = "test" if kits[preset] in TEST_KITS else "train"
        for cls, notes in DRUM_NOTES.items():
            for note in notes:
                for velocity in VELOCITIES:
                    y = render(preset, note, velocity)
                    earlier = kept.setdefault((note, velocity), [])
                    if len(y) == 0 or any(same(y, e) for e in earlier):
                        dropped[split] += 1
                        continue
                    earlier.append(y)
                    name = f"{kits[preset].replace(' ', '-')}_n{note}_v{velocity:03d}.flac"
                    clips.setdefault((split, cls), []).append((name, y))
    task_dir = out / "drums"
    _reset(task_dir)
    rng = random.Random(SEED)
    for (split, cls), items in sorted(clips.items()):
        if len(items) > max_per_class[split]:
            items = rng.sample(items, max_per_class[split])
        for name, y in items:
            dest = task_dir / split / cls / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(dest, y, sample_rate, subtype="PCM_16")
    train_kits = [kits[p] for p in order if kits[p] not in TEST_KITS]
    _write_source(task_dir, f"""
Source: FluidR3_GM.sf2 from Debian package fluid-soundfont-gm (MIT licence), drum kits
(bank 128 presets), rendered with tinysoundfont at {sample_rate} Hz mono, FLAC 16-bit.
GM drum map: {DRUM_NOTES}.
Velocities {list(VELOCITIES)}; each note held {max_seconds} s, trailing audio below -50 dB of the
peak trimmed (at least 0.1 s kept). Files: <kit>_n<note>_v<velocity>.flac.
Split: by kit. Test kits: {', '.join(TEST_KITS)}. Train kits: {', '.join(train_kits)}.
Most FluidR3 kits share most samples, so a rendering equal up to gain (correlation > 0.98)
to one of an earlier kit (train kits first) at the same note and velocity is dropped
({dropped['train']} train and {dropped['test']} test renderings dropped): no test clip is a copy of
a train clip. Then at most {max_per_class['train']} train / {max_per_class['test']} test clips
per class (seeded sample, seed {SEED}).""")


ASTERISK_LANGUAGES = ("en", "es", "fr", "it", "ru")


def make_languages(asterisk_root: Path, out: Path, n_train: int = 60, n_test: int = 25,
                   test_fraction: float = 0.3, min_s: float = 0.5, max_s: float = 6.0) -> None:
    """Asterisk core sound prompts, one voice folder per language; split by prompt name."""
    prompts: dict[str, dict[str, Path]] = {}  # language -> prompt name -> file
    voices = {}
    for lang in ASTERISK_LANGUAGES:
        sounds = asterisk_root / f"asterisk-core-sounds-{lang}-wav" / "usr/share/asterisk/sounds"
        (voice,) = [d for d in sounds.iterdir() if d.is_dir()]
        voices[lang] = voice.name
        prompts[lang] = {}
        for path in sorted(voice.rglob("*.wav")):
            info = soundfile.info(path)
            if min_s <= info.duration <= max_s:
                prompts[lang][str(path.relative_to(voice).with_suffix(""))] = path
    names = sorted({name for per in prompts.values() for name in per})
    random.Random(SEED).shuffle(names)
    test_names = set(names[:int(test_fraction * len(names))])
    task_dir = out / "languages"
    _reset(task_dir)
    _copy_split(task_dir, {lang: prompts[lang] for lang in ASTERISK_LANGUAGES}, test_names,
                n_train=n_train, n_test=n_test, suffix=".wav")
    _write_source(task_dir, f"""
Source: Debian packages asterisk-core-sounds-{{{','.join(ASTERISK_LANGUAGES)}}}-wav 1.6.1
(Asterisk core sound prompts; en/es/fr/it CC-BY-SA-3.0, ru CC-BY-3.0), 8 kHz mono WAV,
copied unchanged, named <prompt path with / -> __>.wav. Voices: {voices}
(en_US and es_MX are both Allison Smith: those classes differ by language, not speaker).
Only prompts lasting {min_s}-{max_s} s. Split: by prompt name (path relative to the voice
folder). Sorted names of all languages shuffled with seed {SEED}; the first
{test_fraction:.0%} are test names for every language. Per language {n_train} train and {n_test}
test prompts drawn with seed {SEED}.""")


# ufoai's sound paths (by prefix) -> the environment task's classes (folders not named are left out:
# too few files, or a mix such as the geoscape's interface jingles).
UFOAI_CLASSES = {"footsteps/": "footsteps", "soldiers/": "voice", "civilians/": "voice",
                 "aliens/": "alien", "weapons/": "weapon", "ambience/": "ambience",
                 "impact/": "impact", "misc/break": "impact"}


def make_environment(ufoai: Path, out: Path, n_train: int = 25, n_test: int = 12,
                     test_fraction: float = 0.3, max_seconds: float = 4.0) -> None:
    """UFO: Alien Invasion sound effects (one zip, base/0snd.pk3); one clip per original
    file (its first ``max_seconds``), split by file."""
    (archive,) = ufoai.glob("**/base/0snd.pk3")
    files: dict[str, dict[str, tuple[np.ndarray, int]]] = {}  # class -> name -> audio
    with zipfile.ZipFile(archive) as pk3:
        for name in sorted(pk3.namelist()):
            folder = name.removeprefix("sound/")
            label = next((c for prefix, c in UFOAI_CLASSES.items()
                          if folder.startswith(prefix)), None)
            if label is None or not name.endswith(".ogg"):
                continue
            audio, rate = soundfile.read(io.BytesIO(pk3.read(name)), dtype="float32")
            files.setdefault(label, {})[folder] = (audio[:int(max_seconds * rate)], rate)
    task_dir = out / "environment"
    _reset(task_dir)
    rng = random.Random(SEED)
    for label in sorted(files):
        names = sorted(files[label])
        rng.shuffle(names)
        n_held = max(1, int(test_fraction * len(names)))
        for split, chosen in (("test", names[:n_held][:n_test]),
                              ("train", names[n_held:][:n_train])):
            for name in sorted(chosen):
                audio, rate = files[label][name]
                dest = task_dir / split / label / (name.removesuffix(".ogg")
                                                   .replace("/", "__") + ".flac")
                dest.parent.mkdir(parents=True, exist_ok=True)
                soundfile.write(dest, audio, rate)
    _write_source(task_dir, f"""
Source: Debian package ufoai-sound 2.5-2 (UFO: Alien Invasion sound effects, GPL-2+),
usr/share/games/ufoai/base/0snd.pk3 (a zip of Ogg Vorbis files). Reserved for this task:
never part of the pretraining corpus (tools/make_pretraining_corpus.py).
Classes from the sound folders: {UFOAI_CLASSES}.
One clip per original file: its first {max_seconds} s, written as FLAC at the file's rate,
named <path with / -> __>.flac. Split: by original file. Per class the sorted names are
shuffled with seed {SEED}; the first {test_fraction:.0%} are test files (at most {n_test}
kept), of the rest at most {n_train} are train files.""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuxpaint", type=Path, help="extracted tuxpaint-stamps-default")
    parser.add_argument("--soundfont", type=Path, help="FluidR3_GM.sf2")
    parser.add_argument("--asterisk-root", type=Path,
                        help="folder holding the extracted asterisk-core-sounds-<lang>-wav")
    parser.add_argument("--ufoai", type=Path, help="extracted ufoai-sound")
    parser.add_argument("--out", type=Path, default=Path("data/benchmark"))
    args = parser.parse_args()
    built = []
    if args.tuxpaint:
        make_speakers(args.tuxpaint, args.out)
        built.append("speakers")
    if args.soundfont:
        make_drums(args.soundfont, args.out)
        built.append("drums")
    if args.asterisk_root:
        make_languages(args.asterisk_root, args.out)
        built.append("languages")
    if args.ufoai:
        make_environment(args.ufoai, args.out)
        built.append("environment")
    if not built:
        parser.error("give at least one of --tuxpaint, --soundfont, --asterisk-root, --ufoai")
    for task in built:
        print(f"== {task}\n{_counts(args.out / task)}")


if __name__ == "__main__":
    main()
