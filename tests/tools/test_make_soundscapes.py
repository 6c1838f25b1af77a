"""tools/make_soundscapes.py: the split by source recording (no SoX or Debian files needed)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np

from tests.conftest import REPO

RECIPE = REPO / "tools" / "make_soundscapes.py"
spec = importlib.util.spec_from_file_location("make_soundscapes", RECIPE)
recipe = importlib.util.module_from_spec(spec)
sys.modules.setdefault("make_soundscapes", recipe)  # dataclasses look the module up
spec.loader.exec_module(recipe)


def source(label, stem):
    return recipe.Source(f"pkg:{stem}.flac", Path(f"{stem}.flac"), label,
                         f"{label}:{recipe._group_name(stem)}", np.zeros(100, np.float32),
                         1000)


def test_takes_of_one_instrument_share_a_group():
    assert recipe._group_name("drum_tom_hi_hard") == recipe._group_name("drum_tom_hi_soft")
    assert recipe._group_name("tabla_ghe1") == recipe._group_name("tabla_ghe8")
    assert recipe._group_name("bd_808") != recipe._group_name("bd_boom")


def test_every_group_in_one_fold_and_the_test_fold_has_every_class():
    stems = {"snare": ["drum_snare_hard", "drum_snare_soft", "sn_dub", "sn_zome", "sn_dolf"],
             "tom": ["drum_tom_hi_hard", "drum_tom_hi_soft", "drum_tom_lo_hard"],
             "guitar": ["guit_em9"],
             "background": ["ambi_drone", "vinyl_hiss", "ambi_sauna"]}
    sources = [source(label, stem) for label, names in stems.items() for stem in names]
    recipe.assign_folds(sources, 3, seed=0)
    folds_of_group = {}
    for s in sources:
        folds_of_group.setdefault(s.group, set()).add(s.fold)
    assert all(len(folds) == 1 for folds in folds_of_group.values())
    snare_hard, snare_soft = sources[0], sources[1]
    assert snare_hard.fold == snare_soft.fold
    for label in stems:
        assert 3 in {s.fold for s in sources if s.label == label}, label
    # deterministic
    again = [source(label, stem) for label, names in stems.items() for stem in names]
    recipe.assign_folds(again, 3, seed=0)
    assert [s.fold for s in again] == [s.fold for s in sources]


def test_trim_silence_keeps_the_sound():
    rate = 1000
    samples = np.zeros(3 * rate, np.float32)
    samples[1200:1500] = 0.5
    trimmed = recipe.trim_silence(samples, rate)
    assert 300 <= len(trimmed) <= 320 and np.abs(trimmed).max() == 0.5
