"""GAE against a hand-worked rollout and an independent forward-sum computation."""

from __future__ import annotations

import pytest
import torch

from generators.ppo.gae import compute_gae


def test_gae_matches_a_hand_worked_rollout_with_an_episode_end():
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    values = torch.tensor([[0.5], [1.0], [1.5]])
    dones = torch.tensor([[False], [True], [False]])
    advantages, returns = compute_gae(
        rewards, values, dones, torch.tensor([2.0]), gamma=0.9, gae_lambda=0.8
    )
    # s=2: delta = 2 + 0.9*2 - 1.5 = 2.3                    A = 2.3
    # s=1: episode ends -> delta = 0 - 1 = -1, no carry      A = -1
    # s=0: delta = 1 + 0.9*1 - 0.5 = 1.4                    A = 1.4 + 0.72*(-1) = 0.68
    assert advantages[:, 0].tolist() == pytest.approx([0.68, -1.0, 2.3])
    assert returns[:, 0].tolist() == pytest.approx([1.18, 0.0, 3.8])


def test_gae_equals_the_discounted_sum_of_td_errors_until_the_episode_ends():
    generator = torch.Generator().manual_seed(0)
    steps, envs, gamma, lam = 7, 3, 0.95, 0.9
    rewards = torch.randn(steps, envs, generator=generator)
    values = torch.randn(steps, envs, generator=generator)
    dones = torch.rand(steps, envs, generator=generator) < 0.3
    last = torch.randn(envs, generator=generator)
    advantages, _ = compute_gae(rewards, values, dones, last, gamma=gamma, gae_lambda=lam)
    for n in range(envs):
        next_values = torch.cat([values[1:, n], last[n : n + 1]])
        deltas = [
            float(rewards[s, n] + gamma * next_values[s] * (not dones[s, n]) - values[s, n])
            for s in range(steps)
        ]
        for s in range(steps):
            expected, weight = 0.0, 1.0
            for later in range(s, steps):
                expected += weight * deltas[later]
                if dones[later, n]:
                    break
                weight *= gamma * lam
            assert advantages[s, n].item() == pytest.approx(expected, abs=1e-5)
