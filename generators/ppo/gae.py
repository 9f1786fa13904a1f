"""Generalized advantage estimation over a rollout of parallel environments.

Shape legend: S rollout steps (decisions), N parallel environments.
"""

from __future__ import annotations

import torch


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_values: torch.Tensor,
    *,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and value targets (returns), both (S, N).

    ``rewards`` (S, N) reward of each decision; ``values`` (S, N) V(obs) before it;
    ``dones`` (S, N) the episode ended after this decision (no bootstrapping across it —
    for a time-limit truncation add gamma * V(final obs) to that reward);
    ``last_values`` (N,) V of the observation after the last decision.

    delta_s = r_s + gamma * V_{s+1} * (1 - done_s) - V_s,
    A_s = delta_s + gamma * lambda * (1 - done_s) * A_{s+1}, returns = A + V.
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_values)
    next_values = last_values
    for s in range(steps - 1, -1, -1):
        alive = 1.0 - dones[s].to(rewards.dtype)
        delta = rewards[s] + gamma * next_values * alive - values[s]
        running = delta + gamma * gae_lambda * alive * running
        advantages[s] = running
        next_values = values[s]
    return advantages, advantages + values
