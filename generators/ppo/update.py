"""One PPO iteration's update: epochs of shuffled minibatches over a collected rollout.

Shared by both RL generators; the policy only has to provide
``log_prob_and_entropy(obs, record)`` (see
:class:`~generators.policy.diffusion_likelihood.DiffusionChainPolicy` and
:class:`~generators.policy.gaussian_head.GaussianPolicy`). During the critic warm-up
iterations only the value network learns. An iteration stops early once a minibatch's
KL (per element or of the chunk-averaged ratio, ``target_kl_estimate``) exceeds
``target_kl``.

Shape legend: N decisions in the rollout (steps x environments, flattened), K denoising
steps, Ta action horizon, Da action dim; observation tensors are (N, To, ...).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from generators.policy.diffusion import Observation
from generators.ppo.config import PPOConfig
from generators.ppo.loss import chunk_log_ratio, denoising_clip, denoising_discount, ppo_loss

ADVANTAGE_EPS = 1e-8  # keeps advantage normalization finite for a constant minibatch


@dataclass
class RolloutBatch:
    """A flattened rollout: obs (N, To, ...), ``records`` (N, ...) from ``act``,
    ``old_log_prob`` (N, K, Ta, Da), ``advantages`` and ``returns`` (N,)."""

    obs: Observation
    records: torch.Tensor
    old_log_prob: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor

    def __len__(self) -> int:
        return int(self.advantages.shape[0])

    def select(self, index: torch.Tensor) -> RolloutBatch:
        return RolloutBatch(
            obs={key: value[index] for key, value in self.obs.items()},
            records=self.records[index],
            old_log_prob=self.old_log_prob[index],
            advantages=self.advantages[index],
            returns=self.returns[index],
        )


def ppo_update(
    policy: nn.Module,
    value_network: nn.Module,
    batch: RolloutBatch,
    config: PPOConfig,
    actor_optimizer: torch.optim.Optimizer,
    critic_optimizer: torch.optim.Optimizer,
    *,
    iteration: int,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Run the epochs of one iteration; returns mean statistics and ``stopped_early``.

    The minibatch holds ``config.batch_size // K`` decisions, so that ``batch_size``
    counts (decision, denoising step) samples.
    """
    steps = batch.old_log_prob.shape[1]
    clip = denoising_clip(steps, config.clip_coef, config.clip_coef_base, config.clip_coef_rate,
                          batch.advantages.device)
    decisions = max(1, config.batch_size // steps)
    warmup = iteration < config.critic_warmup_iterations
    stats: dict[str, list[float]] = defaultdict(list)
    stopped_early = False
    for _ in range(config.update_epochs):
        order = torch.randperm(len(batch), generator=generator, device="cpu").to(
            batch.advantages.device)
        for start in range(0, len(batch), decisions):
            mini = batch.select(order[start : start + decisions])
            advantages = mini.advantages
            if config.normalize_advantages and len(mini) > 1:
                advantages = (advantages - advantages.mean()) / (advantages.std() + ADVANTAGE_EPS)
            if warmup:
                value_loss = _value_loss(value_network, mini)
                critic_optimizer.zero_grad(set_to_none=True)
                (config.vf_coef * value_loss).backward()
                nn.utils.clip_grad_norm_(value_network.parameters(), config.max_grad_norm)
                critic_optimizer.step()
                stats["value_loss"].append(float(value_loss.detach()))
                continue
            new_log_prob, entropy = policy.log_prob_and_entropy(mini.obs, mini.records)
            out = ppo_loss(
                new_log_prob,
                mini.old_log_prob,
                advantages,
                value_network(mini.obs),
                mini.returns,
                entropy,
                clip_coef=clip,
                gamma_denoise=config.gamma_denoise,
                vf_coef=config.vf_coef,
                ent_coef=config.ent_coef,
                element_mask=policy.likelihood_mask() if config.executed_likelihood else None,
                clamp_log_prob=config.clamp_log_prob,
            )
            actor_optimizer.zero_grad(set_to_none=True)
            critic_optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), config.max_grad_norm)
            nn.utils.clip_grad_norm_(value_network.parameters(), config.max_grad_norm)
            actor_optimizer.step()
            critic_optimizer.step()
            for name in ("policy_loss", "value_loss", "entropy", "approx_kl", "element_kl",
                         "clip_fraction"):
                stats[name].append(float(getattr(out, name)))
            for k, fraction in enumerate(out.clip_fraction_per_step.tolist()):
                stats[f"clip_fraction_step{k}"].append(fraction)
            kl = out.element_kl if config.target_kl_estimate == "element" else out.approx_kl
            if config.target_kl is not None and kl > config.target_kl:
                stopped_early = True
                break
        if stopped_early:
            break
    summary = {name: sum(values) / len(values) for name, values in stats.items()}
    summary["stopped_early"] = float(stopped_early)
    summary["critic_warmup"] = float(warmup)
    return summary


def policy_gradient(policy: nn.Module, batch: RolloutBatch, config: PPOConfig,
                    parameters: list[nn.Parameter]) -> torch.Tensor:
    """The flattened gradient of the surrogate -mean(A_bk r_bk) over ``batch`` at the
    rollout's own policy (r = 1), accumulated over minibatches of ``config.batch_size``
    pairs: (P,) for P trainable parameters.

    ``batch.advantages`` are used as given (normalize them over the whole batch first).
    """
    steps = batch.old_log_prob.shape[1]
    decisions = max(1, config.batch_size // steps)
    weights = denoising_discount(steps, config.gamma_denoise, batch.advantages.device)
    mask = policy.likelihood_mask() if config.executed_likelihood else None
    for parameter in parameters:
        parameter.grad = None
    for start in range(0, len(batch), decisions):
        mini = batch.select(torch.arange(start, min(start + decisions, len(batch)),
                                         device=batch.advantages.device))
        new_log_prob, _ = policy.log_prob_and_entropy(mini.obs, mini.records)
        log_ratio = chunk_log_ratio(new_log_prob - mini.old_log_prob, mask)
        surrogate = -(mini.advantages[:, None] * weights[None, :] * log_ratio.exp()).sum()
        (surrogate / (len(batch) * steps)).backward()
    gradient = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                          for p in parameters])
    for parameter in parameters:
        parameter.grad = None
    return gradient


def gradient_agreement(policy: nn.Module, batch: RolloutBatch, config: PPOConfig,
                       generator: torch.Generator | None = None) -> float:
    """Cosine between the policy gradients of two random halves of ``batch``.

    Near 1 when the batch is large enough for its gradient to be the expected one, near
    0 when an update is mostly the noise of the particular episodes drawn.
    """
    advantages = batch.advantages
    if config.normalize_advantages and len(batch) > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + ADVANTAGE_EPS)
    normalized = RolloutBatch(batch.obs, batch.records, batch.old_log_prob, advantages,
                              batch.returns)
    order = torch.randperm(len(batch), generator=generator, device="cpu").to(advantages.device)
    half = len(batch) // 2
    parameters = policy.trainable_parameters()
    first = policy_gradient(policy, normalized.select(order[:half]), config, parameters)
    second = policy_gradient(policy, normalized.select(order[half:]), config, parameters)
    return float(F.cosine_similarity(first, second, dim=0))


def _value_loss(value_network: nn.Module, mini: RolloutBatch) -> torch.Tensor:
    return 0.5 * (value_network(mini.obs) - mini.returns).pow(2).mean()
