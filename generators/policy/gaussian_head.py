"""The Gaussian policy: same observation encoder, an MLP trunk, a Gaussian over the chunk.

The ``gaussian-ppo`` baseline. The mean of every action in the chunk comes from the trunk;
the standard deviation is a learnable per-dimension parameter, clamped to
[``min_std``, ``max_std``] (DPPO's baseline: [0.01, 0.2], PPO starting from 0.1 through
``rl_init_std``). Viewed by PPO as a one-step "chain" (K = 1), so the same loss
code serves both policies.

Shape legend: B batch, To observation steps, Ta action horizon, Te executed steps,
Da action dim, K denoising steps (here 1).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from generators.policy import time_correlated_noise
from generators.policy.config import PolicyConfig
from generators.policy.device import standard_normal
from generators.policy.diffusion import Observation
from generators.policy.diffusion_likelihood import PolicyStep
from generators.policy.encoders import ObservationEncoder
from generators.policy.normalizer import (
    RangeNormalizer,
    chunk_to_action,
    executed_element_mask,
)


class GaussianPolicy(nn.Module):
    """obs -> N(mean (B, Ta, Da), diag(std^2)) over the normalized chunk."""

    kind = "gaussian"

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ObservationEncoder(config)
        self.action_normalizer = RangeNormalizer(config.action_dim)
        layers: list[nn.Module] = []
        width = self.encoder.output_dim
        for hidden in config.mlp_hidden:
            layers += [nn.Linear(width, hidden), nn.Mish()]
            width = hidden
        self.trunk = nn.Sequential(*layers)
        self.mean_head = nn.Linear(width, config.horizon * config.action_dim)
        self.log_std = nn.Parameter(torch.full((config.action_dim,), math.log(config.init_std)))

    def fit_normalizers(self, obs: Observation, action_chunks: torch.Tensor) -> None:
        """Fit action and observation normalizers to demonstrations; chunks (N, Ta, Da)."""
        self.action_normalizer.fit(action_chunks)
        self.encoder.fit_normalizers(obs)

    @torch.no_grad()
    def start_fine_tuning(self) -> None:
        """Set the std to ``rl_init_std`` (when given) before PPO's first update."""
        if self.config.rl_init_std is not None:
            self.log_std.fill_(math.log(self.config.rl_init_std))

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters PPO updates (all of them)."""
        return list(self.parameters())

    def std(self) -> torch.Tensor:
        """(Da,) standard deviation, clamped to [min_std, max_std]."""
        return self.log_std.exp().clamp(self.config.min_std, self.config.max_std)

    def distribution(self, obs: Observation) -> torch.distributions.Normal:
        """Gaussian over the normalized chunk, batch shape (B, Ta, Da)."""
        mean = self.mean_head(self.trunk(self.encoder(obs)))
        mean = mean.reshape(-1, self.config.horizon, self.config.action_dim)
        return torch.distributions.Normal(mean, self.std().expand_as(mean))

    def compute_loss(self, obs: Observation, action_chunks: torch.Tensor) -> torch.Tensor:
        """Behaviour cloning: negative log-likelihood per action element, averaged."""
        target = self.action_normalizer.normalize(action_chunks)
        return -self.distribution(obs).log_prob(target).mean()

    def likelihood_mask(self) -> torch.Tensor:
        """(Ta, Da) bool: the elements PPO scores (executed steps, non-constant dims)."""
        return executed_element_mask(self.action_normalizer, self.config.horizon,
                                     self.config.action_steps)

    def to_action(self, sample: torch.Tensor) -> torch.Tensor:
        """Normalized chunk (B, Ta, Da) -> executable actions in data units."""
        return chunk_to_action(self.action_normalizer, sample,
                               binarize_gripper=self.config.binarize_gripper)

    @torch.no_grad()
    def act(
        self,
        obs: Observation,
        *,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> PolicyStep:
        """Sample (or take the mean of) the chunk; log-probs shaped (B, 1, Ta, Da)."""
        dist = self.distribution(obs)
        if deterministic:
            return PolicyStep(self.to_action(dist.mean), dist.mean, None)
        noise = standard_normal(dist.mean.shape, generator, dist.mean.device)
        if self.config.noise_clip is not None:
            noise = noise.clamp(-self.config.noise_clip, self.config.noise_clip)
        rho = self.config.noise_time_correlation
        sample = dist.mean + dist.stddev * time_correlated_noise.correlate(noise, rho)
        log_prob = time_correlated_noise.log_prob(sample, dist.mean, dist.stddev, rho)
        return PolicyStep(self.to_action(sample), sample, log_prob.unsqueeze(1))

    def log_prob_and_entropy(
        self, obs: Observation, sample: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``sample`` (B, Ta, Da) -> log-probs (B, 1, Ta, Da), entropy (B, 1)."""
        dist = self.distribution(obs)
        rho = self.config.noise_time_correlation
        entropy = time_correlated_noise.entropy(dist.stddev, dist.mean.shape, rho).mean((-2, -1))
        log_prob = time_correlated_noise.log_prob(sample, dist.mean, dist.stddev, rho)
        return log_prob.unsqueeze(1), entropy.unsqueeze(1)

    def predict_action(
        self, obs: Observation, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The mean chunk, executed part only: (B, Te, Da)."""
        return self.act(obs, deterministic=True).action_chunk[:, : self.config.action_steps]
