"""Action heads: trunk features -> an action chunk in normalized units ([-1, 1] per dim).

* :class:`L1ChunkHead` (default) regresses the whole chunk with an L1 loss: cheap,
  deterministic, and robust to the occasional outlier action of human data.
* :class:`DiffusionChunkHead` models the chunk's distribution with epsilon-prediction
  under the cosine DDPM schedule and samples it with a few deterministic DDIM steps
  (eta = 0); the schedule and the DDIM step are the project's shared diffusion maths
  (:mod:`generators.policy.noise_schedule`). It can represent multi-modal behaviour
  (several strategies for one task) that a regression head averages.

Shape legend: B batch, H trunk width, Ta action horizon, Da action dim, E step-embedding
width.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class L1ChunkHead(nn.Module):
    """(B, H) -> (B, Ta, Da)."""

    def __init__(self, hidden_dim: int, horizon: int, action_dim: int) -> None:
        super().__init__()
        self.horizon, self.action_dim = horizon, action_dim
        self.out = nn.Linear(hidden_dim, horizon * action_dim)

    def loss(self, features: torch.Tensor, chunks: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean absolute error against normalized ``chunks`` (B, Ta, Da)."""
        return F.l1_loss(self.sample(features), chunks)

    def sample(self, features: torch.Tensor,
               generator: torch.Generator | None = None) -> torch.Tensor:
        return self.out(features).view(-1, self.horizon, self.action_dim)


class DiffusionChunkHead(nn.Module):
    """A conditional denoiser over the flattened chunk: eps_theta(x_t, t, features)."""

    def __init__(self, hidden_dim: int, horizon: int, action_dim: int,
                 train_steps: int, denoising_steps: int) -> None:
        super().__init__()
        from generators.policy.noise_schedule import cosine_schedule
        from generators.policy.step_embedding import StepEmbedding

        self.horizon, self.action_dim = horizon, action_dim
        self.denoising_steps = denoising_steps
        self.schedule = cosine_schedule(train_steps)
        self.timesteps = self.schedule.denoising_timesteps("ddim", denoising_steps)
        self.step_embedding = StepEmbedding(64)
        width = horizon * action_dim
        self.net = nn.Sequential(
            nn.Linear(width + 64 + hidden_dim, hidden_dim), nn.Mish(),
            nn.Linear(hidden_dim, hidden_dim), nn.Mish(),
            nn.Linear(hidden_dim, hidden_dim), nn.Mish(),
            nn.Linear(hidden_dim, width),
        )

    def _eps(self, x: torch.Tensor, timesteps: torch.Tensor,
             features: torch.Tensor) -> torch.Tensor:
        flat = torch.cat([x.flatten(1), self.step_embedding(timesteps), features], -1)
        return self.net(flat).view_as(x)

    def loss(self, features: torch.Tensor, chunks: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Epsilon-prediction MSE at uniformly drawn training steps."""
        batch = chunks.shape[0]
        timesteps = torch.randint(0, self.schedule.train_steps, (batch,), generator=generator)
        noise = torch.randn(chunks.shape, generator=generator)
        alpha_bar = self.schedule.alpha_bar(timesteps)[:, None, None]
        noisy = alpha_bar.sqrt() * chunks + (1.0 - alpha_bar).sqrt() * noise
        return F.mse_loss(self._eps(noisy, timesteps, features), noise)

    def sample(self, features: torch.Tensor,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Deterministic DDIM from noise drawn with ``generator``: (B, Ta, Da)."""
        from generators.policy.noise_schedule import denoising_step_distribution

        batch = features.shape[0]
        x = torch.randn((batch, self.horizon, self.action_dim), generator=generator)
        steps = list(self.timesteps) + [torch.tensor(-1)]
        for t, prev in zip(steps[:-1], steps[1:]):
            eps = self._eps(x, t.expand(batch), features)
            x, _ = denoising_step_distribution(
                x, eps, self.schedule.alpha_bar(t), self.schedule.alpha_bar(prev),
                eta=0.0, clip_denoised=1.0,
            )
        return x
