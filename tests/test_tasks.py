"""deep_audio.tasks: what each task decides, and that it survives a round trip."""

import numpy as np
import pytest
import torch

from deep_audio.config import load_config, override, stored_config
from deep_audio.errors import ConfigError
from deep_audio.tasks import MultiLabel, SingleLabel, make_task, task_from_dict


def test_single_label_decides_by_argmax_and_pools_files_by_the_mean():
    task = SingleLabel()
    posteriors = np.array([[0.2, 0.8], [0.6, 0.4]])
    assert task.decide(posteriors).tolist() == [1, 0]
    np.testing.assert_allclose(task.file_posteriors(posteriors), [0.4, 0.6])
    assert task.targets([["b"], ["a"]], ["a", "b"]) == [1, 0]
    logits = torch.tensor([[0.0, np.log(3.0)]])
    np.testing.assert_allclose(task.activation(logits).numpy(), [[0.25, 0.75]], rtol=1e-6)
    np.testing.assert_allclose(task.activation_numpy(logits.numpy()), [[0.25, 0.75]],
                               rtol=1e-6)
    scores = task.validation_metrics(np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.2, 0.8],
                                                                    [0.7, 0.3]]))
    assert scores["accuracy"] == pytest.approx(2 / 3)
    assert scores["confusion"].tolist() == [[1, 0], [1, 1]]


def test_multi_label_uses_its_thresholds_and_pools_files_by_the_maximum():
    task = MultiLabel(thresholds=(0.3, 0.9))
    posteriors = np.array([[0.4, 0.8], [0.1, 0.95]])
    assert task.decide(posteriors).tolist() == [[True, False], [False, True]]
    np.testing.assert_allclose(task.file_posteriors(posteriors), [0.4, 0.95])
    assert MultiLabel().threshold_array(3).tolist() == [0.5, 0.5, 0.5]
    with pytest.raises(ConfigError, match="2 thresholds for 3 classes"):
        task.threshold_array(3)
    targets = task.targets([["a", "c"], ["b"]], ["a", "b", "c"])
    assert np.asarray(targets).tolist() == [[1, 0, 1], [0, 1, 0]]
    # the sigmoid in numpy does not overflow and matches torch
    logits = np.array([[-800.0, 0.0, 800.0]])
    np.testing.assert_allclose(task.activation_numpy(logits), [[0.0, 0.5, 1.0]])
    assert task.with_thresholds([0.1, 0.2]).thresholds == (0.1, 0.2)


def test_a_task_round_trips_through_plain_data():
    for task in (SingleLabel(), MultiLabel(), MultiLabel((0.25, 0.75))):
        assert task_from_dict(task.to_dict()) == task
    with pytest.raises(ConfigError, match="unknown task"):
        task_from_dict({"name": "frames"})


def test_the_task_setting_and_its_older_name():
    assert make_task("auto") == SingleLabel()
    assert make_task("auto", several_labels=True) == MultiLabel()
    assert make_task("single_label", several_labels=True) == SingleLabel()
    assert override(load_config(), multi_label=True).training.task == "multi_label"
    stored = load_config().to_dict()
    del stored["training"]["task"]
    stored["model"]["multi_label"] = True  # a model file written before training.task
    assert stored_config(stored, source="old.pt").training.task == "multi_label"
    with pytest.raises(ConfigError, match="task"):
        load_config(task="frames")
