"""Behaviour cloning: the warm start of both RL generators.

The diffusion policy minimizes its epsilon-prediction loss (DDPM training schedule), the
Gaussian policy its negative log-likelihood; both are fitted to the normalizers of the
demonstrations first (they are buffers of the policy, so a checkpoint carries them).
An exponential moving average of the weights is kept and, when ``use_ema``, becomes the
policy's weights at the end: RL starts from the smoother averaged policy.

Shape legend: N samples, B minibatch, To observation steps, Ta action horizon, Da action dim.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from diffrl_eval.errors import UserError
from generators.expert.bc_samples import DemonstrationSet
from generators.policy.ema import ExponentialMovingAverage


@dataclass
class BCConfig:
    """Behaviour-cloning settings; invalid values raise a one-line :class:`UserError`."""

    n_demonstrations: int = 20  # episodes of the task's ``human`` data to clone
    gradient_steps: int = 3000
    batch_size: int = 256
    learning_rate: float = 1e-3
    min_lr_fraction: float = 0.1  # cosine decay of the rate over the gradient steps
    weight_decay: float = 1e-6
    use_ema: bool = True

    def __post_init__(self) -> None:
        for name in ("n_demonstrations", "gradient_steps", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise UserError(f"{name} must be >= 1; got {getattr(self, name)!r}")
        if not self.learning_rate > 0:
            raise UserError(f"learning_rate must be > 0; got {self.learning_rate!r}")
        if not 0.0 <= self.min_lr_fraction <= 1.0:
            raise UserError(f"min_lr_fraction must be in [0, 1]; got {self.min_lr_fraction!r}")
        if self.weight_decay < 0:
            raise UserError(f"weight_decay must be >= 0; got {self.weight_decay!r}")


@dataclass
class BCStats:
    """Per-gradient-step training losses and what was cloned."""

    losses: list[float] = field(default_factory=list)
    n_samples: int = 0
    n_episodes: int = 0

    @property
    def final_loss(self) -> float:
        """Mean loss over the last 10% of the steps (single steps are noisy)."""
        tail = self.losses[-max(1, len(self.losses) // 10):]
        return sum(tail) / len(tail)


def _loss(policy: nn.Module, obs, chunks: torch.Tensor, generator: torch.Generator):
    if policy.kind == "diffusion":
        return policy.compute_loss(obs, chunks, generator=generator)
    return policy.compute_loss(obs, chunks)


def train_bc(
    policy: nn.Module, demonstrations: DemonstrationSet, config: BCConfig, seed: int,
    device: torch.device | str = "cpu",
) -> BCStats:
    """Fit ``policy``'s normalizers and weights to ``demonstrations``; deterministic in
    ``seed`` (on one thread). The normalizers are fitted where the policy is; the policy
    then moves to ``device`` and each minibatch with it (the demonstrations stay on the
    CPU). The policy is left in eval mode, on ``device``."""
    generator = torch.Generator().manual_seed(seed)
    policy.fit_normalizers(demonstrations.obs, demonstrations.action_chunks)
    policy.to(device)
    policy.train()
    optimizer = torch.optim.AdamW(
        policy.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, config.gradient_steps, eta_min=config.learning_rate * config.min_lr_fraction
    )
    ema = ExponentialMovingAverage(policy, policy.config.ema_decay)
    stats = BCStats(n_samples=len(demonstrations), n_episodes=demonstrations.n_episodes)
    n = len(demonstrations)
    for _ in range(config.gradient_steps):
        index = torch.randint(0, n, (min(config.batch_size, n),), generator=generator,
                              device="cpu")  # into the demonstrations, which stay on the CPU
        obs = {key: value[index].to(device) for key, value in demonstrations.obs.items()}
        chunks = demonstrations.action_chunks[index].to(device)
        loss = _loss(policy, obs, chunks, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        ema.update(policy)
        stats.losses.append(float(loss.detach()))
    if config.use_ema:
        policy.load_state_dict(ema.averaged.state_dict())
    policy.eval()
    return stats
