"""The PPO loop over a task: collect a chunk-level rollout, GAE, the shared PPO update.

One :class:`PPOTrainer` holds everything an iteration needs (environments, optimizers,
learning-rate schedules, random streams), so iterations can be run one at a time and
their statistics logged as they come. The same loop trains the diffusion policy and the
Gaussian policy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from diffrl_eval.envs.base import EnvBackend, TaskSpec
from diffrl_eval.errors import UserError
from generators.expert.rollout import EpisodeStarts, Rollout, collect_rollout
from generators.expert.subprocess_env import chunk_env_for_policy
from generators.ppo.config import PPOConfig
from generators.ppo.gae import compute_gae
from generators.ppo.lr_schedule import make_lr_scheduler
from generators.ppo.update import RolloutBatch, ppo_update


def flatten_rollout(rollout: Rollout, advantages: torch.Tensor, returns: torch.Tensor
                    ) -> RolloutBatch:
    """(S, N, ...) rollout tensors -> a :class:`RolloutBatch` of S * N decisions."""
    return RolloutBatch(
        obs={key: value.flatten(0, 1) for key, value in rollout.obs.items()},
        records=rollout.records.flatten(0, 1),
        old_log_prob=rollout.log_probs.flatten(0, 1),
        advantages=advantages.flatten(),
        returns=returns.flatten(),
    )


class PPOTrainer:
    """PPO for ``policy`` (diffusion or Gaussian) on one task.

    Training episodes start from the task's fixed initial states (all of them, or those in
    ``init_state_indices``), drawn at random, or from sampled placements when
    ``use_init_states`` is off. ``env_workers`` > 1 steps the environments in that many
    worker processes (same rollouts as in-process, see
    :mod:`generators.expert.subprocess_env`).
    """

    def __init__(
        self,
        policy: nn.Module,
        value_network: nn.Module,
        backend: EnvBackend,
        task: TaskSpec,
        config: PPOConfig,
        *,
        seed: int,
        use_init_states: bool = True,
        init_state_indices: list[int] | None = None,
        env_options: dict[str, Any] | None = None,
        env_workers: int = 1,
    ) -> None:
        self.policy = policy
        self.value_network = value_network
        self.config = config
        self.iteration = 0
        self.generator = torch.Generator().manual_seed(seed)
        n_init = len(backend.init_states(task.task_id)) if use_init_states else None
        if init_state_indices is not None and not (
            n_init and init_state_indices and all(0 <= i < n_init for i in init_state_indices)
        ):
            raise UserError(f"init_state_indices must be non-empty indices below {n_init}; "
                            f"got {init_state_indices!r}")
        self.starts = EpisodeStarts(n_init, np.random.default_rng(seed), init_state_indices)
        self.venv = chunk_env_for_policy(backend, task, config.n_envs, policy.config,
                                         workers=env_workers, **(env_options or {}))
        for env_index in range(len(self.venv)):
            self.starts.reset(self.venv, env_index)
        self.actor_optimizer = torch.optim.Adam(policy.parameters(), lr=config.actor_lr)
        self.critic_optimizer = torch.optim.Adam(value_network.parameters(), lr=config.critic_lr)
        # the actor's rate anneals over the iterations in which it learns (after the
        # critic warm-up), the critic's over all of them
        actor_iterations = config.n_iterations - config.critic_warmup_iterations
        self.actor_scheduler = make_lr_scheduler(
            self.actor_optimizer, config.lr_schedule, actor_iterations, config.min_lr_fraction
        )
        self.critic_scheduler = make_lr_scheduler(
            self.critic_optimizer, config.lr_schedule, config.n_iterations,
            config.min_lr_fraction,
        )

    def close(self) -> None:
        self.venv.close()

    def run_iteration(self) -> dict[str, float]:
        """Collect, estimate advantages, update; returns this iteration's statistics."""
        config = self.config
        started = time.perf_counter()
        self.policy.eval()
        rollout = collect_rollout(
            self.policy, self.value_network, self.venv, self.starts, config.n_steps,
            gamma=config.gamma, generator=self.generator,
        )
        collected = time.perf_counter()
        advantages, returns = compute_gae(
            rollout.rewards, rollout.values, rollout.dones, rollout.last_values,
            gamma=config.gamma, gae_lambda=config.gae_lambda,
        )
        self.policy.train()
        update = ppo_update(
            self.policy, self.value_network, flatten_rollout(rollout, advantages, returns),
            config, self.actor_optimizer, self.critic_optimizer,
            iteration=self.iteration, generator=self.generator,
        )
        self.policy.eval()
        stats = {
            "iteration": float(self.iteration),
            "actor_lr": self.actor_optimizer.param_groups[0]["lr"],
            "critic_lr": self.critic_optimizer.param_groups[0]["lr"],
            **episode_statistics(rollout),
            **update,
            "rollout_seconds": collected - started,
            "update_seconds": time.perf_counter() - collected,
            # end to end: collection, advantages and update
            "env_steps_per_second": rollout.env_steps / (time.perf_counter() - started),
        }
        if not update["critic_warmup"]:
            self.actor_scheduler.step()
        self.critic_scheduler.step()
        self.iteration += 1
        return stats

    def train(
        self,
        n_iterations: int | None = None,
        on_iteration: Callable[[dict[str, float]], None] | None = None,
    ) -> list[dict[str, float]]:
        """Run up to ``n_iterations`` (default: the rest of ``config.n_iterations``)."""
        remaining = self.config.n_iterations - self.iteration
        count = remaining if n_iterations is None else min(n_iterations, remaining)
        history = []
        for _ in range(count):
            stats = self.run_iteration()
            history.append(stats)
            if on_iteration is not None:
                on_iteration(stats)
        return history


def episode_statistics(rollout: Rollout) -> dict[str, float]:
    """Success rate, return and length of the episodes that ended during ``rollout``
    (NaN when none did), and the environment steps it took."""
    episodes = rollout.episodes
    if episodes:
        success = sum(e.success for e in episodes) / len(episodes)
        mean_return = sum(float(e.rewards.sum()) for e in episodes) / len(episodes)
        mean_length = sum(e.length for e in episodes) / len(episodes)
    else:
        success = mean_return = mean_length = math.nan
    return {
        "success_rate": success,
        "episode_return": mean_return,
        "episode_length": mean_length,
        "episodes": float(len(episodes)),
        "env_steps": float(rollout.env_steps),
    }
