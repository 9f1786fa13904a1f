"""An MLP noise-prediction decoder: the ablation alternative to the U-Net.

The chunk is flattened and concatenated with the step embedding and the conditioning
vector; residual MLP blocks predict the flattened noise.

Shape legend: B batch, Ta action horizon, Da action dim, Dc conditioning dim.
"""

from __future__ import annotations

import torch
from torch import nn

from diffrl_eval.diffusion.step_embedding import StepEmbedding
from generators.policy.config import PolicyConfig


class ResidualMLPBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.Mish())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class MLPDecoder(nn.Module):
    """eps_theta(x_k, k, cond) with an MLP over the flattened chunk."""

    def __init__(self, config: PolicyConfig, cond_dim: int) -> None:
        super().__init__()
        self.step_embedding = StepEmbedding(config.step_embed_dim)
        chunk = config.horizon * config.action_dim
        width = config.mlp_hidden[0]
        self.input = nn.Linear(chunk + config.step_embed_dim + cond_dim, width)
        blocks: list[nn.Module] = []
        for hidden in config.mlp_hidden:
            if hidden != width:
                blocks += [nn.Linear(width, hidden), nn.Mish()]
                width = hidden
            blocks.append(ResidualMLPBlock(width))
        self.blocks = nn.Sequential(*blocks)
        self.output = nn.Linear(width, chunk)

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``x`` (B, Ta, Da), ``timesteps`` (B,) int, ``cond`` (B, Dc) -> eps_hat (B, Ta, Da)."""
        inputs = torch.cat([x.flatten(1), self.step_embedding(timesteps), cond], -1)
        return self.output(self.blocks(self.input(inputs))).reshape(x.shape)
