"""The value network V(obs) used by PPO's critic.

It has its own observation encoder (the critic's gradients never reach the actor) and an
MLP head. Shape legend: B batch, To observation steps.
"""

from __future__ import annotations

import torch
from torch import nn

from generators.policy.config import PolicyConfig
from generators.policy.diffusion import Observation
from generators.policy.encoders import ObservationEncoder


class ValueNetwork(nn.Module):
    """obs -> V(obs), shape (B,)."""

    kind = "value"

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ObservationEncoder(config)
        layers: list[nn.Module] = []
        width = self.encoder.output_dim
        for hidden in config.mlp_hidden:
            layers += [nn.Linear(width, hidden), nn.Mish()]
            width = hidden
        self.head = nn.Sequential(*layers, nn.Linear(width, 1))

    def fit_normalizers(self, obs: Observation) -> None:
        self.encoder.fit_normalizers(obs)

    def forward(self, obs: Observation) -> torch.Tensor:
        return self.head(self.encoder(obs)).squeeze(-1)
