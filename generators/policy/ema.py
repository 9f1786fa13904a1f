"""Exponential moving average of a policy's weights, used for sampling after BC.

The average starts with a warm-up (decay grows as (1 + n) / (10 + n) up to ``decay``) so
that the early, random weights are forgotten quickly. Buffers (the normalizers) are
copied, not averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ExponentialMovingAverage:
    """Keeps ``averaged``, a frozen copy of ``model`` whose weights trail the model's."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.averaged = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = self.current_decay()
        for average, live in zip(self.averaged.parameters(), model.parameters()):
            average.lerp_(live.detach(), 1.0 - decay)
        for average, live in zip(self.averaged.buffers(), model.buffers()):
            average.copy_(live)
        self.updates += 1
