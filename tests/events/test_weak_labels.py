"""A frame model on a manifest mixing strong rows (onset/offset) and weak rows (labels
only): the frame loss where frames are known, the clip loss through the attention
pooling where only the clip's labels are (issue 21)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from deep_audio.io.model_files import load_model
from deep_audio.tasks import FrameDetection
from deep_audio.training.train import train_model
from tests.events.test_frame_detection import CLASSES, EVENT_SECONDS, RATE, event_clip, frame_config


def test_frame_loss_uses_the_known_cells_of_frames_and_clip():
    loss_fn = FrameDetection().loss()
    logits = torch.zeros(2, 4, 1, requires_grad=True)  # 3 frames, then the clip row
    nan = float("nan")
    targets = torch.tensor([[[1.0], [0.0], [1.0], [nan]],        # strong: frames known
                            [[nan], [nan], [nan], [1.0]]])       # weak: the clip's label
    loss = loss_fn(logits, targets)
    assert torch.isclose(loss, 2 * torch.log(torch.tensor(2.0)))  # both means at logit 0
    loss.backward()
    grad = logits.grad[..., 0]
    assert (grad[0, :3] != 0).all() and grad[0, 3] == 0  # strong: frames only
    assert (grad[1, :3] == 0).all() and grad[1, 3] != 0  # weak: the clip only


@pytest.mark.slow
def test_a_manifest_mixing_weak_and_strong_rows_trains_the_attention(tmp_path):
    rng = np.random.default_rng(1)
    rows = ["path,labels,fold,onset,offset"]
    for i in range(32):
        name = list(CLASSES)[i % 2]
        onset = float(rng.uniform(0.05, 1.7))
        soundfile.write(tmp_path / f"clip{i}.wav", event_clip([(onset, name)], 2.0, rng), RATE)
        rows.append(f"clip{i}.wav,{name},1,{onset:.3f},{onset + EVENT_SECONDS:.3f}"
                    if i < 16 else f"clip{i}.wav,{name},1,,")  # the second half: weak
    (tmp_path / "mixed.csv").write_text("\n".join(rows) + "\n")
    result = train_model(manifest=tmp_path / "mixed.csv", output=tmp_path / "mixed",
                         config=frame_config(epochs=40, min_epochs=40, learning_rate=3e-3,
                                             conv_channels=[8, 16]), progress=False)
    trained = load_model(result.model_path)
    assert isinstance(trained.task, FrameDetection)
    assert trained.task.tuned  # on the validation clips that have events
    clips = {name: torch.from_numpy(event_clip([(0.9, name)], 2.0, np.random.default_rng(5)))
             for name in CLASSES}
    names = list(trained.class_names)
    with torch.inference_mode():
        for name, audio in clips.items():  # the pooled clip output tags the clip
            probability = trained.clip_logits(audio[None])[0].sigmoid()
            assert [n for n, p in zip(names, probability.tolist()) if p > 0.5] == [name]
