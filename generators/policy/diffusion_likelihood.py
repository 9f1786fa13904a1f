"""The denoising chain as a sequence of decisions, with a likelihood per step.

For RL each denoising step x_k -> x_{k-1} is a Gaussian decision,
N(mean_theta(x_k, k, obs), std_k^2 I) with std_k = max(DDIM sigma_k(eta), min_std).
:class:`DiffusionChainPolicy` samples action chunks while recording the whole chain
x_K ... x_0, and re-evaluates the log-probability of every fine-tuned step under the
current weights (what PPO's per-step ratio needs).

With ``ft_denoising_steps = K'`` below K, only the last K' steps are decisions PPO
trains: the first K - K' steps sample from a frozen copy of the cloned encoder and
decoder (taken by :meth:`DiffusionChainPolicy.start_fine_tuning`), so the coarse shape
of the chunk stays the demonstrated one while the fine steps adapt.

Shape legend: B batch, To observation steps, Ta action horizon, Te executed steps,
Da action dim, K denoising steps, K' fine-tuned steps (K' = K unless
``ft_denoising_steps``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from generators.policy import time_correlated_noise
from generators.policy.config import PolicyConfig
from generators.policy.device import standard_normal
from generators.policy.diffusion import DiffusionModel, Observation


@dataclass
class PolicyStep:
    """What acting returns to a rollout.

    ``action_chunk`` (B, Ta, Da) in data units, clipped to the action range;
    ``record`` what :meth:`log_prob_and_entropy` needs to re-score this decision
    (the chain (B, K+1, Ta, Da) for diffusion, the raw sample (B, Ta, Da) for Gaussian);
    ``log_prob`` (B, K', Ta, Da) element-wise log-densities of the fine-tuned steps at
    sampling time (None when acting deterministically).
    """

    action_chunk: torch.Tensor
    record: torch.Tensor
    log_prob: torch.Tensor | None


class DiffusionChainPolicy(DiffusionModel):
    """A diffusion policy whose denoising steps are scored as Gaussian decisions.

    Uses ``config.sampler`` / ``config.denoising_steps`` (DDIM with K steps, or DDPM with
    all T), ``config.rl_eta`` (DDPM forces 1), ``config.min_std``, ``config.noise_clip``,
    ``config.ft_denoising_steps``, ``config.frozen_steps_deterministic`` and
    ``config.noise_time_correlation`` (AR(1) noise along the chunk's time axis).
    """

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__(config)
        if config.fine_tuned_steps < config.chain_steps:
            # the cloned networks for the frozen early steps; they become a copy of the
            # trained ones when fine-tuning starts, and are never trained
            self.base_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
            self.base_decoder = copy.deepcopy(self.decoder).requires_grad_(False)
            self.register_buffer("base_frozen", torch.zeros((), dtype=torch.bool))

    @property
    def frozen_steps(self) -> int:
        """How many of the chain's first steps sample from the frozen copy (K - K')."""
        if self.config.fine_tuned_steps == self.config.chain_steps or not bool(self.base_frozen):
            return 0
        return self.config.chain_steps - self.config.fine_tuned_steps

    @torch.no_grad()
    def start_fine_tuning(self) -> None:
        """Freeze a copy of the current (cloned) networks for the first K - K' steps.

        Only the first call copies: a policy already fine-tuned keeps its frozen copy.
        """
        if self.config.fine_tuned_steps == self.config.chain_steps or bool(self.base_frozen):
            return
        self.base_encoder.load_state_dict(self.encoder.state_dict())
        self.base_decoder.load_state_dict(self.decoder.state_dict())
        self.base_frozen.fill_(True)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters PPO updates (the frozen copy excluded)."""
        return [p for p in self.parameters() if p.requires_grad]

    def step_networks(self, obs: Observation, steps: int
                      ) -> list[tuple[torch.Tensor, nn.Module]]:
        """(conditioning, decoder) per step: the frozen copy for the first K - K' steps of
        the RL chain, the trained networks elsewhere."""
        frozen = self.frozen_steps if steps == self.config.chain_steps else 0
        trained = (self.encoder(obs), self.decoder)
        if not frozen:
            return [trained] * steps
        base = (self.base_encoder(obs), self.base_decoder)
        return [base] * frozen + [trained] * (steps - frozen)

    @property
    def rl_eta(self) -> float:
        return 1.0 if self.config.sampler == "ddpm" else self.config.rl_eta

    def chain_timesteps(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-decision (timestep, previous timestep), each (K,); the last previous is -1."""
        timesteps = self.denoising_timesteps().to(self.alphas_cumprod.device)
        prev = torch.cat([timesteps[1:], timesteps.new_tensor([-1])])
        return timesteps, prev

    def step_noise(self, shape: torch.Size, generator: torch.Generator | None,
                   device: torch.device) -> torch.Tensor:
        """Standard-normal noise of one stochastic step, clipped to +-``noise_clip``."""
        noise = standard_normal(shape, generator, device)
        clip = self.config.noise_clip
        return noise if clip is None else noise.clamp(-clip, clip)

    @torch.no_grad()
    def act(
        self,
        obs: Observation,
        *,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> PolicyStep:
        """Sample chunks, recording the chain x_K..x_0 (B, K+1, Ta, Da) and the log-probs
        of the fine-tuned steps (B, K', Ta, Da).

        ``deterministic`` runs DDIM with eta = 0 and no noise floor (evaluation, data
        generation); the chain is still recorded but has no likelihood.
        """
        timesteps, prev = self.chain_timesteps()
        networks = self.step_networks(obs, len(timesteps))
        batch = networks[0][0].shape[0]
        eta, min_std = (0.0, 0.0) if deterministic else (self.rl_eta, self.config.min_std)
        rho = self.config.noise_time_correlation
        scored_from = len(timesteps) - self.config.fine_tuned_steps
        x = self.initial_noise(batch, generator)
        chain, log_probs = [x], []
        quiet_steps = scored_from if self.config.frozen_steps_deterministic else 0
        for k, (t, t_prev) in enumerate(zip(timesteps, prev)):
            cond, decoder = networks[k]
            quiet = deterministic or k < quiet_steps
            mean, std = self.step_distribution(
                x, t.expand(batch), t_prev.expand(batch), cond, eta=0.0 if quiet else eta,
                min_std=0.0 if quiet else min_std, decoder=decoder,
            )
            noise = self.step_noise(x.shape, generator, x.device)
            x = mean + std * (noise if quiet else time_correlated_noise.correlate(noise, rho))
            chain.append(x)
            if not deterministic and k >= scored_from:
                log_probs.append(time_correlated_noise.log_prob(x, mean, std, rho))
        return PolicyStep(
            action_chunk=self.to_action(x),
            record=torch.stack(chain, 1),
            log_prob=None if deterministic else torch.stack(log_probs, 1),
        )

    def log_prob_and_entropy(
        self, obs: Observation, chain: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Re-score a recorded chain's fine-tuned steps under the current weights.

        ``chain`` (B, K+1, Ta, Da) -> log-probs (B, K', Ta, Da) of x_{k-1} given x_k for
        the last K' steps, and their entropy (B, K'). All K' steps go through the decoder
        as one batch.
        """
        batch, steps = chain.shape[0], chain.shape[1] - 1
        timesteps, prev = self.chain_timesteps()
        if len(timesteps) != steps:
            raise ValueError(f"chain has {steps} steps; the policy samples {len(timesteps)}")
        scored = self.config.fine_tuned_steps
        timesteps, prev = timesteps[steps - scored:], prev[steps - scored:]
        cond = self.encoder(obs).repeat_interleave(scored, 0)  # (B*K', Dc)
        x_k = chain[:, steps - scored : -1].flatten(0, 1)  # (B*K', Ta, Da)
        x_prev = chain[:, steps - scored + 1 :]
        mean, std = self.step_distribution(
            x_k,
            timesteps.repeat(batch),
            prev.repeat(batch),
            cond,
            eta=self.rl_eta,
            min_std=self.config.min_std,
        )
        rho = self.config.noise_time_correlation
        log_prob = time_correlated_noise.log_prob(x_prev.flatten(0, 1), mean, std, rho)
        entropy = time_correlated_noise.entropy(std, mean.shape, rho).mean((-2, -1))
        return log_prob.reshape(x_prev.shape), entropy.reshape(batch, scored)
