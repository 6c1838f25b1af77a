"""``training.validation_fold``: validate on one fold of a manifest (other recordings)
instead of a random share of each class's files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from deep_audio.config import load_config
from deep_audio.data.manifest import read_manifest
from deep_audio.errors import ConfigError, DeepAudioError
from deep_audio.tasks import make_task
from deep_audio.training.train import prepare_data

RATE = 16_000


@pytest.fixture
def manifest(tmp_path):
    """Two classes, folds 1-3; the fold-3 clips are 3 s long, the others 1 s, so the
    validation segment count says which clips were taken."""
    rng = np.random.default_rng(0)
    rows = ["path,labels,fold"]
    for fold in (1, 2, 3):
        for label in ("dog", "car"):
            for take in range(2):
                name = f"{label}_{fold}_{take}.wav"
                seconds = 3 if fold == 3 else 1
                soundfile.write(tmp_path / name,
                                0.1 * rng.standard_normal(RATE * seconds), RATE)
                rows.append(f"{name},{label},{fold}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    return read_manifest(tmp_path / "m.csv")


def prepare(manifest, **settings):
    config = load_config(segment_seconds=1.0, segment_hop_seconds=1.0, cache_dir="none",
                         **settings)
    return prepare_data(None, config, make_task("single_label"), manifest=manifest)


def test_the_validation_fold_is_validation_and_nothing_else(manifest):
    data = prepare(manifest, validation_fold="3")
    assert data.summary["validation_files"] == 4 and data.summary["train_files"] == 8
    # every validation clip is a 3 s fold-3 clip (3 segments each), no training clip is
    assert data.summary["validation_segments"] == 12 and data.summary["train_segments"] == 8
    # an integer from YAML names the same fold
    assert prepare(manifest, validation_fold=3).summary["validation_segments"] == 12


def test_without_it_the_split_is_random_by_file(manifest):
    data = prepare(manifest, validation_fraction=0.34)
    assert data.summary["validation_files"] == 4  # two per class, from any fold
    assert data.summary["train_files"] + data.summary["validation_files"] == 12


def test_a_missing_fold_or_class_folders_are_clear_errors(manifest, tmp_path):
    with pytest.raises(DeepAudioError, match=r"validation_fold '7' leaves 12 training and 0 "
                                             r"validation files \(its folds: 1, 2, 3\)"):
        prepare(manifest, validation_fold="7")
    (tmp_path / "dog").mkdir()
    config = load_config(validation_fold="1", cache_dir="none")
    with pytest.raises(ConfigError, match="needs a manifest with a fold column"):
        prepare_data([tmp_path / "dog"], config, make_task("single_label"))
