"""Rebuild models/pretrained_gm16.pt: the CNN trained on General-MIDI instrument families.

Source task: single notes of the 128 General-MIDI programs of the FluidR3 SoundFont
(Debian package fluid-soundfont-gm, MIT licence), rendered with tinysoundfont, labelled
with the program's family (16 families of 8 programs: piano, chromatic percussion,
organ, guitar, bass, strings, ensemble, brass, reed, pipe, synth lead, synth pad, synth
effects, ethnic, percussive, sound effects). Neighbouring notes share one recorded
sample, so the split is by pitch: every fifth MIDI note is held out for testing.

    apt-get download fluid-soundfont-gm && dpkg -x fluid-soundfont-gm_*.deb /tmp/fluid
    pip install --no-deps tinysoundfont
    python tools/make_pretrained_gm16.py --soundfont /tmp/fluid/usr/share/sounds/sf2/FluidR3_GM.sf2

Steps: render clips to ``--data`` (FLAC, 1.0 s, 16 kHz), train with ``train_model`` and
``configs/pretrained_gm16.yaml``, score the held-out pitches, and save the model with
float16 parameters (half the size; weights are cast back to float32 on loading).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import soundfile

FAMILIES = ["piano", "chromatic_percussion", "organ", "guitar", "bass", "strings",
            "ensemble", "brass", "reed", "pipe", "synth_lead", "synth_pad", "synth_effects",
            "ethnic", "percussive", "sound_effects"]
SAMPLE_RATE = 16000
NOTES = range(36, 85)              # C2..C6
NOTE_ON_SECONDS, CLIP_SECONDS = 0.7, 1.0


def is_test_note(note: int) -> bool:
    return note % 5 == 0


def render(soundfont: Path, out: Path) -> None:
    """Write out/{train,test}/<family>/p<program>_n<note>.flac for every program and note."""
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=SAMPLE_RATE)
    font = synth.sfload(str(soundfont))
    on_samples = int(NOTE_ON_SECONDS * SAMPLE_RATE)
    off_samples = int(CLIP_SECONDS * SAMPLE_RATE) - on_samples
    written = skipped = 0
    for program in range(128):
        family = FAMILIES[program // 8]
        synth.program_select(0, font, 0, program)
        for note in NOTES:
            velocity = 110 if note % 2 else 80
            synth.noteon(0, note, velocity)
            on = np.frombuffer(synth.generate(on_samples), dtype=np.float32)
            synth.noteoff(0, note)
            off = np.frombuffer(synth.generate(off_samples), dtype=np.float32)
            synth.sounds_off(0)
            synth.generate(SAMPLE_RATE // 10)  # let the voice die before the next note
            clip = np.concatenate([on, off]).reshape(-1, 2).mean(axis=1)
            if np.sqrt(np.mean(clip ** 2)) < 1e-4:  # a few effects are silent at some pitches
                skipped += 1
                continue
            split = "test" if is_test_note(note) else "train"
            path = out / split / family / f"p{program:03d}_n{note:03d}.flac"
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(path, np.clip(clip, -1, 1), SAMPLE_RATE, subtype="PCM_16")
            written += 1
    print(f"rendered {written} clips ({skipped} silent ones skipped) into {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soundfont", type=Path, required=True, help="FluidR3_GM.sf2")
    parser.add_argument("--data", type=Path, default=Path("data/gm16"),
                        help="where rendered clips go (not committed)")
    parser.add_argument("--output", default="models/pretrained_gm16.pt")
    parser.add_argument("--config", default="configs/pretrained_gm16.yaml")
    parser.add_argument("--skip-render", action="store_true", help="reuse rendered clips")
    parser.add_argument("--skip-training", action="store_true",
                        help="reuse the trained --output model: only score and compact it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from deep_audio.config import load_config
    from deep_audio.io.model_files import load_model, save_model
    from deep_audio.predict import evaluate_folders
    from deep_audio.training import train_model

    if not args.skip_render:
        render(args.soundfont, args.data)
    if not args.skip_training:
        train_model([args.data / "train" / f for f in FAMILIES], args.output,
                    config=load_config(args.config))
    model = load_model(args.output)
    report = evaluate_folders(model, [args.data / "test" / f for f in FAMILIES])
    print(report.format())
    metadata = {**model.metadata, "source_task": "General-MIDI families, FluidR3_GM notes",
                "held_out_accuracy": report.scores["accuracy"],
                "held_out_macro_f1": report.scores["macro_f1"],
                "held_out_split": "MIDI notes divisible by 5"}
    save_model(args.output, model, metadata=metadata, parameter_dtype="float16")
    size_mb = Path(args.output).stat().st_size / 2 ** 20
    print(f"saved {args.output} ({size_mb:.1f} MiB): held-out accuracy "
          f"{report.scores['accuracy']:.3f}, macro-F1 {report.scores['macro_f1']:.3f}")


if __name__ == "__main__":
    main()
