"""The denoising chain as a sequence of decisions, with a likelihood per step.

For RL each denoising step x_k -> x_{k-1} is a Gaussian decision,
N(mean_theta(x_k, k, obs), std_k^2 I) with std_k = max(DDIM sigma_k(eta), min_std).
:class:`DiffusionChainPolicy` samples action chunks while recording the whole chain
x_K ... x_0, and re-evaluates the log-probability of every recorded step under the
current weights (what PPO's per-step ratio needs).

Shape legend: B batch, To observation steps, Ta action horizon, Te executed steps,
Da action dim, K denoising steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from generators.policy.diffusion import DiffusionModel, Observation


@dataclass
class PolicyStep:
    """What acting returns to a rollout.

    ``action_chunk`` (B, Ta, Da) in data units, clipped to the action range;
    ``record`` what :meth:`log_prob_and_entropy` needs to re-score this decision
    (the chain (B, K+1, Ta, Da) for diffusion, the raw sample (B, Ta, Da) for Gaussian);
    ``log_prob`` (B, K, Ta, Da) element-wise log-densities at sampling time (None when
    acting deterministically).
    """

    action_chunk: torch.Tensor
    record: torch.Tensor
    log_prob: torch.Tensor | None


def gaussian_entropy(std: torch.Tensor) -> torch.Tensor:
    """Entropy of a 1-D Gaussian with standard deviation ``std`` (element-wise)."""
    return 0.5 * math.log(2 * math.pi * math.e) + std.log()


class DiffusionChainPolicy(DiffusionModel):
    """A diffusion policy whose denoising steps are scored as Gaussian decisions.

    Uses ``config.sampler`` / ``config.denoising_steps`` (DDIM with K steps, or DDPM with
    all T), ``config.rl_eta`` (DDPM forces 1) and ``config.min_std``.
    """

    @property
    def rl_eta(self) -> float:
        return 1.0 if self.config.sampler == "ddpm" else self.config.rl_eta

    def chain_timesteps(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-decision (timestep, previous timestep), each (K,); the last previous is -1."""
        timesteps = self.denoising_timesteps().to(self.alphas_cumprod.device)
        prev = torch.cat([timesteps[1:], timesteps.new_tensor([-1])])
        return timesteps, prev

    @torch.no_grad()
    def act(
        self,
        obs: Observation,
        *,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> PolicyStep:
        """Sample chunks, recording the chain x_K..x_0 (B, K+1, Ta, Da) and log-probs.

        ``deterministic`` runs DDIM with eta = 0 and no noise floor (evaluation, data
        generation); the chain is still recorded but has no likelihood.
        """
        cond = self.encoder(obs)
        batch = cond.shape[0]
        timesteps, prev = self.chain_timesteps()
        eta, min_std = (0.0, 0.0) if deterministic else (self.rl_eta, self.config.min_std)
        x = self.initial_noise(batch, generator)
        chain, log_probs = [x], []
        for t, t_prev in zip(timesteps, prev):
            mean, std = self.step_distribution(
                x, t.expand(batch), t_prev.expand(batch), cond, eta=eta, min_std=min_std
            )
            x = mean + std * torch.randn(x.shape, generator=generator, device=x.device)
            chain.append(x)
            if not deterministic:
                log_probs.append(torch.distributions.Normal(mean, std).log_prob(x))
        return PolicyStep(
            action_chunk=self.to_action(x),
            record=torch.stack(chain, 1),
            log_prob=None if deterministic else torch.stack(log_probs, 1),
        )

    def log_prob_and_entropy(
        self, obs: Observation, chain: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Re-score a recorded chain under the current weights.

        ``chain`` (B, K+1, Ta, Da) -> log-probs (B, K, Ta, Da) of x_{k-1} given x_k, and
        the per-step entropy (B, K). All K steps go through the decoder as one batch.
        """
        batch, steps = chain.shape[0], chain.shape[1] - 1
        timesteps, prev = self.chain_timesteps()
        if len(timesteps) != steps:
            raise ValueError(f"chain has {steps} steps; the policy samples {len(timesteps)}")
        cond = self.encoder(obs).repeat_interleave(steps, 0)  # (B*K, Dc)
        x_k = chain[:, :-1].flatten(0, 1)  # (B*K, Ta, Da)
        x_prev = chain[:, 1:].flatten(0, 1)
        mean, std = self.step_distribution(
            x_k,
            timesteps.repeat(batch),
            prev.repeat(batch),
            cond,
            eta=self.rl_eta,
            min_std=self.config.min_std,
        )
        log_prob = torch.distributions.Normal(mean, std).log_prob(x_prev)
        entropy = gaussian_entropy(std).expand_as(mean).mean((-2, -1))
        return log_prob.reshape(chain[:, 1:].shape), entropy.reshape(batch, steps)
