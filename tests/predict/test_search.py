"""Similar-sound search: index, nearest files, saved indexes, model checks, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deep_audio.bin import similar_sounds
from deep_audio.errors import DeepAudioError, ModelFileError
from deep_audio.io.model_files import load_model, save_model
from deep_audio.predict.search import SoundIndex, build_index, nearest, search


@pytest.fixture(scope="module")
def index(trained, dataset):
    return build_index(trained.model_path, dataset["test"], layer="linear1")


def test_index_holds_unit_embeddings(index, trained):
    assert index.embeddings.shape == (18, 32) and index.embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(index.embeddings, axis=1), 1.0, rtol=1e-5)
    assert index.layer == "linear1" and index.model_path == str(trained.model_path.resolve())
    assert index.signature["size"] == 32 and not index.skipped


def test_an_indexed_file_is_its_own_nearest(index):
    for file in index.files[::3]:
        neighbours = nearest(index, file, k=3)
        assert neighbours[0][0] == file and neighbours[0][1] == pytest.approx(0.0, abs=1e-4)
        assert [d for _, d in neighbours] == sorted(d for _, d in neighbours)
        assert all(0.0 <= d <= 2.0 for _, d in neighbours)


def test_nearest_files_are_of_the_query_class(index, dataset):
    queries = [path for folder in dataset["train"] for path in sorted(folder.iterdir())[:4]]
    model = load_model(index.model_path)
    hits = [Path(neighbours[0][0]).parent.name == query.parent.name
            for query, neighbours in search(index, queries, k=1, model=model)]
    assert len(hits) == 12 and np.mean(hits) >= 0.8  # chance: 1/3


def test_k_larger_than_the_index_and_bad_k(index):
    assert len(nearest(index, index.files[0], k=100)) == 18
    with pytest.raises(DeepAudioError, match="k=0 must be >= 1"):
        nearest(index, index.files[0], k=0)


def test_saved_index_round_trips_without_pickle(index, tmp_path):
    path = index.save(tmp_path / "sounds.npz")
    with np.load(path, allow_pickle=False) as data:
        assert data["embeddings"].shape == (18, 32)
    loaded = SoundIndex.load(path)
    np.testing.assert_array_equal(loaded.embeddings, index.embeddings)
    assert loaded.files == index.files and loaded.signature == index.signature
    assert nearest(loaded, index.files[5], k=1)[0][0] == index.files[5]
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ModelFileError, match="cannot read index file"):
        SoundIndex.load(tmp_path / "other.npz")
    with pytest.raises(ModelFileError, match="does not exist"):
        SoundIndex.load(tmp_path / "missing.npz")
    with pytest.raises(DeepAudioError, match="must end in .npz"):
        index.save(tmp_path / "sounds.idx")


def test_querying_with_a_different_model_is_refused(index, tmp_path):
    changed = load_model(index.model_path)
    with torch.no_grad():
        changed.backbone.conv_layer1[0].bias.add_(0.1)
    save_model(tmp_path / "changed.pt", changed)
    with pytest.raises(ModelFileError, match="other weights than model"):
        nearest(index, index.files[0], model=tmp_path / "changed.pt")


def test_cli_builds_and_queries(trained, dataset, tmp_path, capsys):
    path = tmp_path / "index.npz"
    assert similar_sounds.main(["build", "-m", str(trained.model_path), "-i",
                                *map(str, dataset["test"]), "-o", str(path), "--layer",
                                "conv"]) == 0
    assert "18 files x 8 conv values" in capsys.readouterr().out
    query = sorted(dataset["test"][2].iterdir())[0]
    assert similar_sounds.main(["query", "--index", str(path), "-i", str(query), "-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "query\trank\tfile\tcosine_distance" and len(lines) == 3
    first = lines[1].split("\t")
    assert first[1:3] == ["1", str(query)] and float(first[3]) < 1e-3


def test_cli_errors_are_one_line(trained, dataset, tmp_path, capsys):
    # without -m, build takes the shipped general network (tests/cli/test_default_source.py)
    assert similar_sounds.main(["build", "-m", str(trained.model_path),
                                "-i", str(dataset["test"][0])]) == 2
    assert capsys.readouterr().err == "error: build needs -o INDEX.npz\n"
    assert similar_sounds.main(["query", "--index", str(tmp_path / "none.npz"),
                                "-i", "q.wav"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: index file") and "Traceback" not in err
