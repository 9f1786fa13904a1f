"""Sinusoidal embedding of the diffusion step, followed by a small MLP.

Shape legend: B batch, E embedding dim.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class StepEmbedding(nn.Module):
    """Integer diffusion steps (B,) -> (B, E)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"step embedding dim must be even; got {dim}")
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.Mish(), nn.Linear(4 * dim, dim))

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        # geometric frequencies from 1 to 1/10000, as in the transformer position encoding
        frequencies = torch.exp(
            -math.log(10000.0) * torch.arange(half, device=timesteps.device) / max(half - 1, 1)
        )
        angles = timesteps.to(torch.float32)[:, None] * frequencies[None, :]
        return self.mlp(torch.cat([angles.sin(), angles.cos()], -1))
