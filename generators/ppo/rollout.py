"""Collecting a PPO rollout at chunk level over parallel environments.

Each of S decisions per environment samples a chunk (recording what the policy needs to
re-score it: the denoising chain or the Gaussian sample), executes its first Te actions
and receives the sum of their rewards. An episode that ends is reset at once from the
next start, so every rollout holds exactly S x N decisions. A time-limit truncation is
not a terminal state: gamma * V(final observation) is that decision's ``bootstrap``,
added to its (possibly scaled) reward before GAE (see
:func:`~generators.ppo.gae.compute_gae`); a termination has none.

Shape legend: S decisions per env, N environments, To observation steps, D a key's width,
K denoising steps (1 for the Gaussian policy), Ta action horizon, Da action dim.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from diffrl_eval.dataset.episode import Episode
from generators.expert.chunk_env import ChunkEnvs
from generators.policy.device import module_device, to_device


class EpisodeStarts:
    """Where training episodes start: a fixed initial state drawn at random (or, with
    ``n_init_states`` None, a placement the env samples), and a reset seed.

    ``indices`` restricts the draw to those fixed initial states (e.g. to train on the
    states an expert fails from).
    """

    def __init__(self, n_init_states: int | None, rng: np.random.Generator,
                 indices: list[int] | None = None) -> None:
        self.n_init_states = n_init_states
        self.rng = rng
        self.indices = None if indices is None else [int(i) for i in indices]

    def next(self) -> tuple[int, int | None]:
        seed = int(self.rng.integers(2**31))
        if self.indices is not None:
            return seed, self.indices[int(self.rng.integers(len(self.indices)))]
        if self.n_init_states is None:
            return seed, None
        return seed, int(self.rng.integers(self.n_init_states))

    def reset(self, venv: ChunkEnvs, env_index: int) -> None:
        seed, init_state_index = self.next()
        venv.reset_env(env_index, seed=seed, init_state_index=init_state_index)


@dataclass
class Rollout:
    """S x N decisions: ``obs`` key -> (S, N, To, D); ``records`` (S, N, ...);
    ``log_probs`` (S, N, K', Ta, Da); ``rewards`` (environment rewards), ``bootstrap``
    (gamma * V(final obs) on truncations, else 0), ``dones``, ``values`` (S, N);
    ``last_values`` (N,); ``episodes`` finished during the rollout."""

    obs: dict[str, torch.Tensor]
    records: torch.Tensor
    log_probs: torch.Tensor
    rewards: torch.Tensor
    bootstrap: torch.Tensor
    dones: torch.Tensor
    values: torch.Tensor
    last_values: torch.Tensor
    episodes: list[Episode] = field(default_factory=list)
    env_steps: int = 0


@torch.no_grad()
def collect_rollout(
    policy: nn.Module,
    value_network: nn.Module,
    venv: ChunkEnvs,
    starts: EpisodeStarts,
    n_steps: int,
    *,
    gamma: float,
    generator: torch.Generator | None = None,
) -> Rollout:
    """Run ``n_steps`` stochastic decisions in every env of ``venv`` (all must be running).

    The rollout's tensors are on the policy's device; each decision's observations move
    there once, its actions back to the CPU for the environments."""
    device = module_device(policy)
    n_envs = len(venv)
    everyone = np.arange(n_envs)
    obs_steps, records, log_probs, rewards, bootstraps, dones, values = ([] for _ in range(7))
    episodes: list[Episode] = []
    env_steps = 0
    for _ in range(n_steps):
        obs = to_device(venv.observation(), device)
        step = policy.act(obs, generator=generator)
        value = value_network(obs)
        chunks = step.action_chunk[:, : policy.config.action_steps].cpu().numpy()
        outcome = venv.step_chunk(everyone, chunks)
        reward = torch.from_numpy(outcome.rewards.copy()).to(device)
        bootstrap = torch.zeros_like(reward)
        truncated = np.flatnonzero(outcome.truncated)
        if len(truncated):
            final_obs = to_device(venv.observation(truncated), device)
            bootstrap[torch.from_numpy(truncated).to(device)] = gamma * value_network(final_obs)
        for env_index in np.flatnonzero(outcome.dones):
            episodes.append(outcome.episodes[env_index])
            starts.reset(venv, int(env_index))
        env_steps += int(outcome.steps.sum())
        obs_steps.append(obs)
        records.append(step.record)
        log_probs.append(step.log_prob)
        rewards.append(reward)
        bootstraps.append(bootstrap)
        dones.append(torch.from_numpy(outcome.dones.copy()).to(device))
        values.append(value)
    return Rollout(
        obs={key: torch.stack([o[key] for o in obs_steps]) for key in obs_steps[0]},
        records=torch.stack(records),
        log_probs=torch.stack(log_probs),
        rewards=torch.stack(rewards),
        bootstrap=torch.stack(bootstraps),
        dones=torch.stack(dones),
        values=torch.stack(values),
        last_values=value_network(to_device(venv.observation(), device)),
        episodes=episodes,
        env_steps=env_steps,
    )
