#!/usr/bin/env python3
"""Rebuild data/demo, the small real-speech demo dataset bundled with deep_audio.

The audio comes from Debian's asterisk-core-sounds-*-wav packages: telephone
prompts (8 kHz, 16-bit, mono WAV) recorded by one voice talent per language.
Each language is one class.  A "prompt name" is a file's path inside its voice
folder without the extension (``vm-goodbye``, ``followme/call-from``); the same
prompt names exist in every language.

Selection, all deterministic:
  1. keep prompt names present in every language whose recording lasts between
     --min-seconds and --max-seconds and has RMS above --min-rms in EVERY
     language (this also drops the silence/* files);
  2. shuffle them with --seed; the first --n-test names are the test prompts,
     the next --n-train the training prompts, so no prompt name is in both;
  3. write each selected recording unchanged as 16-bit FLAC at its source rate
     to <out>/<split>/<class>/<prompt name, '/' -> '__'>.flac.

Usage:  python tools/make_demo_data.py                 # apt-get download + dpkg -x
        python tools/make_demo_data.py --source-dir X  # X holds extracted packages
"""
import argparse
import gzip
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile

# class folder -> (Debian package, voice folder under /usr/share/asterisk/sounds)
LANGUAGES = {
    "english": ("asterisk-core-sounds-en-wav", "en_US_f_Allison"),
    "spanish": ("asterisk-core-sounds-es-wav", "es_MX_f_Allison"),
    "french": ("asterisk-core-sounds-fr-wav", "fr_CA_f_June"),
    "russian": ("asterisk-core-sounds-ru-wav", "ru_RU_f_IvrvoiceRU"),
}


def fetch_packages(work: Path) -> None:
    """Download the .deb files into ``work`` and extract each into work/<package>."""
    packages = [package for package, _ in LANGUAGES.values()]
    subprocess.run(["apt-get", "download", *packages], cwd=work, check=True)
    for package in packages:
        deb = next(work.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(work / package)], check=True)


def find_one(root: Path, pattern: str) -> Path:
    matches = sorted(root.glob(pattern))
    if not matches:
        raise SystemExit(f"nothing matches {pattern} under {root}; extract the packages there")
    return matches[0]


def package_version(root: Path, package: str) -> str:
    """The Debian version, from the first line of the package's changelog."""
    changelog = find_one(root, f"**/usr/share/doc/{package}/changelog.Debian.gz")
    with gzip.open(changelog, "rt") as f:
        return f.readline().split("(")[1].split(")")[0]


def prompts(voice_dir: Path) -> dict[str, Path]:
    """Prompt name -> WAV file, for every WAV file under one voice folder."""
    return {path.relative_to(voice_dir).with_suffix("").as_posix(): path
            for path in voice_dir.rglob("*.wav")}


def usable(path: Path, args: argparse.Namespace) -> bool:
    samples, rate = soundfile.read(path, dtype="float64")
    duration = len(samples) / rate
    rms = float(np.sqrt(np.mean(samples ** 2)))
    return args.min_seconds <= duration <= args.max_seconds and rms > args.min_rms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source-dir", type=Path,
                        help="folder holding the extracted packages (default: download them)")
    parser.add_argument("--out", type=Path, default=Path("data/demo"))
    parser.add_argument("--n-train", type=int, default=22, help="training prompts per class")
    parser.add_argument("--n-test", type=int, default=8, help="test prompts per class")
    parser.add_argument("--min-seconds", type=float, default=1.5)
    parser.add_argument("--max-seconds", type=float, default=6.0)
    parser.add_argument("--min-rms", type=float, default=1e-3, help="full scale = 1.0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-bytes", type=int, default=4_000_000,
                        help="fail if the output folder ends up larger")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        source = args.source_dir
        if source is None:
            source = Path(tmp)
            fetch_packages(source)
        files = {}
        for name, (package, voice) in LANGUAGES.items():
            voice_dir = find_one(source, f"**/usr/share/asterisk/sounds/{voice}")
            files[name] = prompts(voice_dir)
            print(f"{name:8s} {package} {package_version(source, package)}: "
                  f"{len(files[name])} prompts")

        shared = sorted(set.intersection(*(set(f) for f in files.values())))
        candidates = [p for p in shared if all(usable(f[p], args) for f in files.values())]
        print(f"{len(shared)} prompt names in every language, {len(candidates)} usable")
        if len(candidates) < args.n_train + args.n_test:
            raise SystemExit("not enough usable prompts for --n-train + --n-test")
        order = np.random.default_rng(args.seed).permutation(len(candidates))
        splits = {
            "test": sorted(candidates[i] for i in order[:args.n_test]),
            "train": sorted(candidates[i] for i in order[args.n_test:args.n_test + args.n_train]),
        }

        for split, names in splits.items():
            shutil.rmtree(args.out / split, ignore_errors=True)
            for name in LANGUAGES:
                folder = args.out / split / name
                folder.mkdir(parents=True)
                for prompt in names:
                    samples, rate = soundfile.read(files[name][prompt], dtype="int16")
                    target = folder / (prompt.replace("/", "__") + ".flac")
                    soundfile.write(target, samples, rate, subtype="PCM_16", format="FLAC")

    print("\nclass     train  test")
    for name in LANGUAGES:
        counts = [len(list((args.out / s / name).glob("*.flac"))) for s in ("train", "test")]
        print(f"{name:8s}  {counts[0]:5d} {counts[1]:5d}")
    # apparent size of files and folders, as `du -sb` reports it
    total = sum(p.stat().st_size for p in [args.out, *args.out.rglob("*")])
    print(f"total size of {args.out}: {total} bytes (du -sb)")
    if total > args.max_bytes:
        raise SystemExit(f"{args.out} is {total} bytes, over --max-bytes {args.max_bytes}")


if __name__ == "__main__":
    main()
