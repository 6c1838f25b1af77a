"""tools/make_benchmark_data.py: the speakers task never holds one recording on both sides
(no Debian files needed: a small stand-in for Tux Paint's stamp folder)."""

import hashlib
import importlib.util
import shutil

import numpy as np
import soundfile

from tests.conftest import REPO

RECIPE = REPO / "tools" / "make_benchmark_data.py"
spec = importlib.util.spec_from_file_location("make_benchmark_data", RECIPE)
recipe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recipe)


def test_a_recording_shared_by_several_stamps_is_kept_once(tmp_path):
    stamps = tmp_path / "tuxpaint-stamps-default/usr/share/tuxpaint/stamps/letters"
    stamps.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for language in ("", "_fr"):
        for index in range(12):
            path = stamps / f"sign{index}_desc{language}.ogg"
            soundfile.write(path, rng.uniform(-0.5, 0.5, 4000).astype(np.float32), 8000)
        for copy in range(12, 20):  # Tux Paint's habit: one recording under many stamps
            shutil.copyfile(stamps / f"sign0_desc{language}.ogg",
                            stamps / f"sign{copy}_desc{language}.ogg")

    recipe.make_speakers(tmp_path, tmp_path / "out", n_train=6, n_test=3, test_fraction=0.3)

    files = sorted((tmp_path / "out/speakers").glob("*/*/*.ogg"))
    digests = {}
    for path in files:
        split, language = path.parts[-3], path.parts[-2]
        digests.setdefault((language, hashlib.sha256(path.read_bytes()).hexdigest()),
                           []).append(split)
    assert {split for (_, _), splits in digests.items() for split in splits} == {"train",
                                                                                 "test"}
    assert all(len(splits) == 1 for splits in digests.values())  # each recording once
    assert len(files) == 2 * 9  # 12 distinct recordings per language: 6 train + 3 test
