"""Running a policy on a task's fixed initial states: evaluation and data generation.

Episodes run in parallel environments; each decision samples a chunk for every running
episode in one batch and executes its first Te actions. Deterministic acting (DDIM with
eta = 0 for diffusion, the mean for Gaussian) makes the episodes a function of the
policy, the initial states and ``seed`` (which seeds the initial noise and the resets).

``chunk_join`` chooses how consecutive chunks are joined (see
:mod:`generators.expert.chunk_joining`); ``none`` executes each chunk's first Te actions
as the policy planned them.

Shape legend: n running episodes, Ta action horizon, Te executed steps, Da action dim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from diffrl_eval.dataset.episode import Episode
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from generators.expert.chunk_env import ChunkVectorEnv
from generators.expert.chunk_joining import DEFAULT_CHUNK_JOIN, ChunkJoiner
from generators.policy.device import module_device, to_device

DEFAULT_EVAL_ENVS = 10


@dataclass
class EvaluationResult:
    """Success of each episode, in the order of the initial states given."""

    successes: list[bool]
    lengths: list[int]

    @property
    def success_rate(self) -> float:
        return sum(self.successes) / len(self.successes) if self.successes else 0.0


@torch.no_grad()
def rollout_episodes(
    policy: nn.Module,
    backend: EnvBackend,
    task: TaskSpec,
    init_state_indices: Sequence[int],
    *,
    deterministic: bool = True,
    seed: int = 0,
    n_envs: int = DEFAULT_EVAL_ENVS,
    env_options: dict | None = None,
    chunk_join: str = DEFAULT_CHUNK_JOIN,
) -> list[Episode]:
    """One episode per entry of ``init_state_indices``, returned in that order."""
    starts = list(init_state_indices)
    if not starts:
        return []
    n_envs = min(n_envs, len(starts))
    joiner = ChunkJoiner(policy, chunk_join, n_envs) if deterministic else None
    venv = ChunkVectorEnv.for_policy(
        backend, task, n_envs, policy.config, **(env_options or {})
    )
    generator = torch.Generator().manual_seed(seed)
    device = module_device(policy)  # observations go there, actions come back to the CPU
    seeds = np.random.default_rng(seed).integers(2**31, size=len(starts))
    episodes: list[Episode | None] = [None] * len(starts)
    running: dict[int, int] = {}  # env -> episode it runs
    next_episode = 0
    try:
        for env_index in range(len(venv)):
            venv.reset_env(env_index, seed=int(seeds[next_episode]),
                           init_state_index=starts[next_episode])
            running[env_index] = next_episode
            next_episode += 1
        while running:
            active = np.array(sorted(running))
            obs = to_device(venv.observation(active), device)
            if joiner is None:
                step = policy.act(obs, generator=generator)
                chunks = step.action_chunk[:, : policy.config.action_steps].cpu().numpy()
            else:
                chunks = joiner.act(obs, active, generator)
            outcome = venv.step_chunk(active, chunks)
            for row, env_index in enumerate(active):
                finished = outcome.episodes[row]
                if finished is None:
                    continue
                episodes[running.pop(env_index)] = finished
                if next_episode < len(starts):
                    if joiner is not None:
                        joiner.start(env_index)
                    venv.reset_env(env_index, seed=int(seeds[next_episode]),
                                   init_state_index=starts[next_episode])
                    running[env_index] = next_episode
                    next_episode += 1
    finally:
        venv.close()
    return episodes  # type: ignore[return-value]


def evaluate(
    policy: nn.Module,
    backend: EnvBackend,
    task: TaskSpec,
    init_state_indices: Sequence[int],
    *,
    deterministic: bool = True,
    seed: int = 0,
    n_envs: int = DEFAULT_EVAL_ENVS,
    chunk_join: str = DEFAULT_CHUNK_JOIN,
) -> EvaluationResult:
    """Success of ``policy`` from each of the task's fixed initial states given."""
    episodes = rollout_episodes(policy, backend, task, init_state_indices,
                                deterministic=deterministic, seed=seed, n_envs=n_envs,
                                chunk_join=chunk_join)
    return EvaluationResult([e.success for e in episodes], [e.length for e in episodes])
