"""Where the experts' tensors live, and where their random numbers come from.

The networks, the rollout's tensors and the PPO update run on one torch device (``cpu``,
``cuda`` or ``mps``: ``train-expert --device``). Environment observations arrive from numpy
on the CPU and move to that device once per decision; actions come back to the CPU for the
environments. Random numbers are drawn from CPU generators and then moved: the same seed
draws the same noise on every device, a trainer's random state saves and restores the
same way everywhere, and a CPU run is bit-identical to what it was before devices existed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

CPU = torch.device("cpu")


def module_device(module: nn.Module) -> torch.device:
    """The device ``module``'s weights (or, without weights, its buffers) are on."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return CPU


def to_device(obs: Mapping[str, torch.Tensor], device: torch.device | str
              ) -> dict[str, torch.Tensor]:
    """Every tensor of an observation dict on ``device`` (no copy when already there)."""
    return {key: value.to(device) for key, value in obs.items()}


def standard_normal(shape: Sequence[int], generator: torch.Generator | None,
                    device: torch.device | str) -> torch.Tensor:
    """N(0, I) noise of ``shape`` drawn from the CPU stream ``generator`` (None: torch's
    global CPU stream), placed on ``device``."""
    return torch.randn(tuple(shape), generator=generator, device=CPU).to(device)


def random_integers(high: int, shape: Sequence[int], generator: torch.Generator | None,
                    device: torch.device | str) -> torch.Tensor:
    """Integers uniform in [0, high) drawn from the CPU stream ``generator``, on ``device``."""
    return torch.randint(0, high, tuple(shape), generator=generator, device=CPU).to(device)
