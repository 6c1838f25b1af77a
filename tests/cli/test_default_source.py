"""Commands that reuse a network take the shipped general model when -m is left out."""

import numpy as np

from deep_audio.cli.main import main as deep_audio
from deep_audio.config import load_config, override
from deep_audio.models.registry import PROJECT_ROOT, default_source_model


def test_the_default_source_is_the_shipped_general_network(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # found from the checkout, not only from the working folder
    path = default_source_model(load_config())
    assert path == PROJECT_ROOT / "models" / "pretrained_general.pt" and path.is_file()


def test_embed_without_a_model_uses_transfer_source_model(trained, dataset, tmp_path, capsys):
    setting = f"transfer.source_model={trained.model_path}"
    out = tmp_path / "default.npz"
    assert deep_audio(["embed", "-i", str(dataset["test"][0]), "-o", str(out),
                       "--set", setting]) == 0
    named = tmp_path / "named.npz"
    assert deep_audio(["embed", "-m", str(trained.model_path), "-i", str(dataset["test"][0]),
                       "-o", str(named)]) == 0
    np.testing.assert_array_equal(np.load(out)["features"], np.load(named)["features"])
    assert str(np.load(out)["model"]) == str(trained.model_path)


def test_a_missing_default_source_is_a_one_line_error(dataset, tmp_path, capsys):
    missing = tmp_path / "nowhere.pt"
    code = deep_audio(["transfer", "-i", *map(str, dataset["train"]), "-o", "x",
                       "--set", f"transfer.source_model={missing}"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "default source model" in err and "nowhere.pt" in err and "-m MODEL.pt" in err
    config = override(load_config(), source_model=str(missing))
    assert config.transfer.source_model == str(missing)
