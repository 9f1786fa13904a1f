"""Learning-rate schedules over PPO iterations: cosine annealing or constant."""

from __future__ import annotations

import math

import torch

from generators.ppo.config import LR_SCHEDULES


def make_lr_scheduler(
    optimizer: torch.optim.Optimizer, kind: str, n_iterations: int, min_lr_fraction: float
) -> torch.optim.lr_scheduler.LRScheduler:
    """A scheduler stepped once per PPO iteration.

    ``cosine`` anneals every group's rate from its initial value to
    ``min_lr_fraction`` of it over ``n_iterations``; ``constant`` keeps it.
    """
    if kind == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    if kind != "cosine":
        raise ValueError(f"unknown lr schedule {kind!r}; valid choices: {', '.join(LR_SCHEDULES)}")

    # CosineAnnealingLR takes one absolute floor; a per-group factor keeps actor and
    # critic floors proportional to their own initial rates.
    def factor(iteration: int) -> float:
        progress = min(iteration, n_iterations) / n_iterations
        return min_lr_fraction + (1 - min_lr_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
