#!/usr/bin/env python3
"""Build background recordings for ``augmentation.background_folder`` (no audio in git).

The soundscape benchmark's detectors read its test fold's unseen tonal backgrounds as
events (docs/frame_detection.md); mixing other ambiences into training is the remedy this
pool measures. Two parts, each optional:

- ``--sonic-pi DIR`` (an extracted sonic-pi-samples package): the soundscapes' own
  training-fold backgrounds and Sonic Pi's four ambient stems that no fold uses, never
  the test fold's two (``ambi_haunted_hum``, ``ambi_lunar_land``);
- ``--games``: rain, wind, water, machine, engine, traffic and crowd loops from three
  Debian game packages (megaglest-data CC-BY-SA-3.0, warzone2100-data and lincity-ng-data
  GPL-2+), downloaded with ``apt-get download`` into ``--work``. Loops whose names say
  birds, animals, farms, parks or houses are left out: they may hold the benchmark's
  classes (bird, cattle, insect) and a background must hold none.

    python tools/make_background_pool.py --out data/soundscapes/background_pool \\
        --sonic-pi src/sonic-pi-samples [--games]

Each recording is written as 16 kHz mono FLAC under ``<out>/<package>/``, with
``<out>/SOURCE.txt`` naming every origin. Deterministic (sorted listings, no randomness).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import soundfile
import soxr

SAMPLE_RATE_HZ = 16000
SONIC_PI_STEMS = [  # every fold but the test fold's backgrounds, and the unused ambiences
    "ambi_dark_woosh", "ambi_drone", "ambi_glass_hum", "ambi_glass_rub", "ambi_sauna",
    "loop_3d_printer", "loop_drone_g_97", "vinyl_hiss",
    "ambi_choir", "ambi_piano", "ambi_soft_buzz", "ambi_swoosh"]
# package -> (licence, paths inside it; "ARCHIVE!member" reads a member of a zip archive)
GAME_LOOPS = {
    "megaglest-data": ("CC-BY-SA-3.0", [
        f"usr/share/games/megaglest/tilesets/{name}" for name in (
            "autumn/sounds/rain.ogg", "birch_forest/sounds/rain.ogg",
            "dark_forest/sounds/rain.ogg", "desert2/sounds/rain.wav",
            "winter/sounds/wind.ogg")]),
    "warzone2100-data": ("GPL-2+", [
        f"usr/share/games/warzone2100/base.wz!audio/sfx/{name}.ogg" for name in (
            "building/powerhum", "building/oilpump", "building/steam", "vehicle/hovmove",
            "vehicle/tread", "vehicle/thover", "vehicle/vtol-move")]),
    "lincity-ng-data": ("GPL-2+", [
        f"usr/share/games/lincity-ng/sounds/{name}.wav" for name in (
            "CoalMine1", "CoalMine2", "CoalMine3", "IndustryHigh1", "IndustryHigh2",
            "IndustryHigh3", "IndustryLight1", "IndustryLight2", "IndustryLight3",
            "MarketFull1", "OreMine1", "OreMine2", "OreMine3", "PowerCoalFull",
            "PowerCoalMed", "RailTrain1", "RailTrain2", "RailTrain3", "SportsCroud1",
            "SportsCroud2", "SportsCroud3", "TraficHigh1", "TraficHigh2", "TraficHigh3",
            "TraficLow1", "TraficLow2", "TraficLow3", "Water1", "Water3", "Water4",
            "Water5", "WindMill1", "WindMill2", "WindMill3")]),
}


def write_clip(source: Path | bytes, name: str, destination: Path) -> Path:
    """Decode ``source`` (a path or a file's bytes), mono at 16 kHz, as FLAC."""
    samples, rate = soundfile.read(io.BytesIO(source) if isinstance(source, bytes)
                                   else source, dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    if rate != SAMPLE_RATE_HZ:
        mono = soxr.resample(mono, rate, SAMPLE_RATE_HZ, quality="HQ")
    path = destination / f"{Path(name).stem}.flac"
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.clip(mono, -1, 1), SAMPLE_RATE_HZ, subtype="PCM_16")
    return path


def sonic_pi_part(sonic_pi: Path, out: Path) -> list[str]:
    samples = sonic_pi / "usr/share/sonic-pi/samples"
    lines = []
    for stem in SONIC_PI_STEMS:
        written = write_clip(samples / f"{stem}.flac", stem, out / "sonic-pi-samples")
        lines.append(f"{written.relative_to(out)}  sonic-pi-samples:{stem}.flac")
    return lines


def games_part(work: Path, out: Path) -> list[str]:
    work.mkdir(parents=True, exist_ok=True)
    lines, seen = [], set()
    for package, (licence, members) in GAME_LOOPS.items():
        root = work / package
        if not root.is_dir():
            subprocess.run(["apt-get", "download", package], cwd=work, check=True)
            deb = sorted(work.glob(f"{package}_*.deb"))[-1]
            subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
        for member in members:
            archive, _, inside = member.partition("!")
            if inside:
                with zipfile.ZipFile(root / archive) as zipped:
                    data = zipped.read(inside)
            else:
                data = (root / archive).read_bytes()
            digest = hashlib.sha1(data).hexdigest()
            if digest in seen:  # the same loop under two names
                continue
            seen.add(digest)
            name = member.replace("!", "/").split("/")
            written = write_clip(data, "_".join(name[-3:]), out / package)
            lines.append(f"{written.relative_to(out)}  {package}:{member} ({licence})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sonic-pi", type=Path, help="an extracted sonic-pi-samples")
    parser.add_argument("--games", action="store_true",
                        help="add the game packages' loops (downloads about 430 MB)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/background_pool_debs"))
    args = parser.parse_args()
    if not args.sonic_pi and not args.games:
        parser.error("name --sonic-pi DIR, --games or both")
    lines = []
    if args.sonic_pi:
        lines += sonic_pi_part(args.sonic_pi, args.out)
    if args.games:
        lines += games_part(args.work, args.out)
    (args.out / "SOURCE.txt").write_text(
        "Background recordings for augmentation.background_folder, built by "
        "tools/make_background_pool.py; 16 kHz mono FLAC.\n\n" + "\n".join(lines) + "\n")
    print(f"{len(lines)} recordings in {args.out}")


if __name__ == "__main__":
    main()
