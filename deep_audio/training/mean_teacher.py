"""Mean teacher (Tarvainen & Valpola, 2017), as in the DCASE task 4 baseline: a teacher
whose weights are an exponential moving average of the student's, and a consistency loss
that asks the student's posteriors to match the teacher's on every training segment,
labelled or not, so that unlabelled clips train the network too.

Used by :func:`~deep_audio.training.loop.fit` when the training set holds unlabelled
clips (``train_model(..., unlabelled=[folder])``, ``deep-audio train --unlabelled``):
their targets are unknown (NaN) everywhere, so only the consistency loss learns from
them. The teacher is not saved: the model file holds the student.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


class MeanTeacher(nn.Module):
    """The teacher of ``student`` and the consistency loss.

    Parameters
    ----------
    student : nn.Module
        The model that trains (a :class:`~deep_audio.models.Classifier`).
    weight : float
        The consistency loss's weight once ramped up (the DCASE baseline's 2).
    decay : float
        The teacher's weights after each optimiser step: ``decay * teacher + (1 - decay)
        * student`` (0.999 in the DCASE baseline).
    rampup_steps : int
        The weight rises as ``exp(-5 (1 - t)^2)``, ``t = step / rampup_steps``, to its
        full value: early on, the teacher knows nothing worth matching.

    The teacher runs in eval mode (no dropout; BatchNorm statistics averaged like the
    weights). Shapes: :meth:`consistency` takes the student's training logits and the
    teacher's, any equal shape, and returns a scalar.
    """

    def __init__(self, student: nn.Module, *, weight: float, decay: float,
                 rampup_steps: int):
        super().__init__()
        self.teacher = copy.deepcopy(student).eval()
        for parameter in self.teacher.parameters():
            parameter.requires_grad_(False)
        self.weight = float(weight)
        self.decay = float(decay)
        self.rampup_steps = max(int(rampup_steps), 1)
        self.steps = 0

    def train(self, mode: bool = True) -> MeanTeacher:
        super().train(mode)
        self.teacher.eval()  # always: it predicts, it never trains
        return self

    @torch.no_grad()
    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """The teacher's training logits for the student's (augmented) features."""
        return self.teacher.training_logits(features)

    def current_weight(self) -> float:
        progress = min(self.steps / self.rampup_steps, 1.0)
        return self.weight * math.exp(-5.0 * (1.0 - progress) ** 2)

    def consistency(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor
                    ) -> torch.Tensor:
        """The weighted mean squared difference of the two models' sigmoid posteriors."""
        difference = student_logits.float().sigmoid() - teacher_logits.float().sigmoid()
        return self.current_weight() * difference.pow(2).mean()

    @torch.no_grad()
    def update(self, student: nn.Module) -> None:
        """One step of the moving average (call after each optimiser step)."""
        self.steps += 1
        # Early steps average faster (the DCASE baseline's min(1 - 1/step, decay)), so the
        # teacher leaves its random start quickly.
        decay = min(1.0 - 1.0 / (self.steps + 1), self.decay)
        for mine, theirs in zip(self.teacher.parameters(), student.parameters()):
            mine.mul_(decay).add_(theirs.detach(), alpha=1.0 - decay)
        for mine, theirs in zip(self.teacher.buffers(), student.buffers()):
            if mine.dtype.is_floating_point:
                mine.mul_(decay).add_(theirs.detach(), alpha=1.0 - decay)
            else:
                mine.copy_(theirs)
