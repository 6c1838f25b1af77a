"""Distributed training: torchrun, two CPU processes, gloo, DistributedDataParallel."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch
import yaml
from torch.utils.data import DataLoader

from deep_audio.config import load_config
from deep_audio.io.model_files import load_model
from deep_audio.training import evaluate
from deep_audio.training.train import prepare_data
from tests.conftest import SMALL_CONFIG

pytestmark = [pytest.mark.skipif(not torch.distributed.is_available(),
                                 reason="torch.distributed is not available"),
              pytest.mark.slow]  # every test here takes more than ~2 s


def torchrun(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", *args],
                          capture_output=True, text=True, timeout=timeout)


def small_yaml(path, **extra):
    path.write_text(yaml.safe_dump(load_config(**{**SMALL_CONFIG, **extra}).to_dict()))
    return str(path)


def test_torchrun_trains_one_model_written_by_rank_0(dataset, tmp_path):
    result = torchrun("-m", "deep_audio.bin.basic_training", "-i", *map(str, dataset["train"]),
                      "-o", str(tmp_path / "ddp"), "-c",
                      small_yaml(tmp_path / "small.yaml", epochs=3, min_epochs=3))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("model: ") == 1  # rank 1 prints nothing
    assert result.stderr.count("training on cpu") == 1  # and logs nothing
    model = load_model(tmp_path / "ddp.pt")
    assert model.metadata["processes"] == 2
    assert not (tmp_path / "ddp.checkpoint.pt").exists()
    with open(tmp_path / "ddp.history.csv") as stream:
        assert len(stream.readlines()) == 1 + 3


def test_torchrun_transfer_learning(trained, dataset, tmp_path):
    result = torchrun("-m", "deep_audio.bin.transfer_learning", "-m", str(trained.model_path),
                      "-i", *map(str, dataset["train"][:2]), "-o", str(tmp_path / "moved"),
                      "--epochs", "3", "--set", "min_epochs=3", "--set", "min_steps=0",
                      # the split-and-validate path under DDP, as before few-shot training
                      # on every file covered 12 files per class
                      "--set", "few_shot_files_per_class=0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("model: ") == 1
    model = load_model(tmp_path / "moved.pt")
    assert model.metadata["processes"] == 2 and model.class_names == ["low", "high"]
    assert model.metadata["transfer"]["strategy"] == 0


SCRIPT = """
import hashlib, json, sys
import torch
from deep_audio.config import load_config
from deep_audio.models import Classifier
from deep_audio.tasks import SingleLabel
from deep_audio.training.distributed import from_environment, init_process_group, shutdown
from deep_audio.training.train import prepare_data, run_training

config_path, out, *folders = sys.argv[1:]
config = load_config(config_path)
context = from_environment()
device = init_process_group(context, torch.device("cpu"))
torch.manual_seed(0)
data = prepare_data(folders, config, SingleLabel(), distributed=context)
model = Classifier.seed(config, data.class_names).to(device)
result = run_training(model, data, out + "/model", progress=False, distributed=context)
digest = hashlib.sha256(b"".join(v.detach().numpy().tobytes()
                                 for v in model.state_dict().values())).hexdigest()
with open(f"{out}/rank{context.rank}.json", "w") as stream:
    json.dump({"digest": digest, "best_epoch": result.best_epoch,
               "val_accuracy": result.metrics["val_accuracy"],
               "val_loss": result.metrics["val_loss"]}, stream)
shutdown()
"""


def test_replicas_stay_identical_and_validation_covers_every_segment(dataset, tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(textwrap.dedent(SCRIPT))
    config = small_yaml(tmp_path / "small.yaml", epochs=4, min_epochs=4,
                        models_dir=str(tmp_path))
    result = torchrun(str(script), config, str(tmp_path), *map(str, dataset["train"]))
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]  # same weights, same decisions, same figures
    # The split run's validation figures are those of the whole validation set, scored
    # by the saved model in one process.
    config = load_config(config)
    model = load_model(tmp_path / "model.pt")
    data = prepare_data(dataset["train"], config, model.task)
    whole = evaluate(model, DataLoader(data.validation_set, batch_size=8),
                     torch.nn.CrossEntropyLoss(), device=torch.device("cpu"))
    assert whole["accuracy"] == ranks[0]["val_accuracy"]
    assert whole["loss"] == pytest.approx(ranks[0]["val_loss"], rel=1e-4)


def test_torchrun_multi_label_validation_covers_every_file(dataset, tmp_path):
    """Two processes score their shares of a tagger's validation set; gathered, the mAP
    (per file, on each file's segment maximum) is that of the whole set in one process."""
    from deep_audio.data.manifest import read_manifest

    manifest = tmp_path / "tags.csv"
    manifest.write_text("path,labels\n" + "".join(
        f"{path},{folder.name}\n" for folder in dataset["train"]
        for path in sorted(folder.iterdir())))
    config_path = small_yaml(tmp_path / "small.yaml", epochs=3, min_epochs=3)
    result = torchrun("-m", "deep_audio.bin.basic_training", "--manifest", str(manifest),
                      "--multi-label", "-o", str(tmp_path / "tags"), "-c", config_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("validation mAP") == 1
    model = load_model(tmp_path / "tags.pt")
    assert model.metadata["processes"] == 2 and model.task.multi_label
    data = prepare_data(None, load_config(config_path), model.task,
                        manifest=read_manifest(manifest))
    whole = evaluate(model, DataLoader(data.validation_set, batch_size=8),
                     torch.nn.BCEWithLogitsLoss(), device=torch.device("cpu"))
    metrics = model.metadata["metrics"]
    assert whole["map"] == pytest.approx(metrics["val_map"], abs=1e-6)
    assert whole["thresholds"] == pytest.approx(list(model.task.thresholds), abs=1e-6)
