"""The PPO loop over a task: rollout, GAE, the minibatch update, schedules, logging.

One :class:`PPOTrainer` holds everything an iteration needs (environments, optimizers,
learning-rate schedules, random streams), so iterations can be run one at a time and
their statistics logged as they come. The same loop trains the diffusion policy and the
Gaussian policy.

Beside the losses, an iteration reports what tells whether PPO is working: the KL per
chunk element, the clip fraction per denoising step, the critic's explained variance,
the agreement of the policy gradients of two halves of the batch, and (every
``eval_every`` iterations) deterministic success from the task's fixed initial states.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from diffrl_eval.device import torch_threads
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from diffrl_eval.errors import UserError
from generators.expert.evaluation import evaluate
from generators.expert.reward import SuccessHoldBackend
from generators.expert.subprocess_env import chunk_env_for_policy
from generators.ppo.config import PPOConfig
from generators.ppo.gae import compute_gae
from generators.ppo.lr_schedule import make_lr_scheduler
from generators.ppo.reward_scaling import RunningRewardScaler
from generators.ppo.rollout import EpisodeStarts, Rollout, collect_rollout
from generators.ppo.update import RolloutBatch, gradient_agreement, ppo_update

EVAL_SEED = 1  # noise and reset seed of the periodic deterministic evaluation


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

    Training episodes start from placements sampled from the task's distribution when
    ``config.train_starts`` is ``sampled`` (or ``use_init_states`` is False), else from the
    task's fixed initial states (all of them, or those in ``init_state_indices``), drawn at
    random. ``env_workers`` > 1 steps the environments in that many
    worker processes (same rollouts as in-process, see
    :mod:`generators.expert.subprocess_env`). ``device`` moves both networks there (the
    rollout's tensors and the update follow them; see :mod:`generators.policy.device`).
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
        use_init_states: bool | None = None,
        init_state_indices: list[int] | None = None,
        env_options: dict[str, Any] | None = None,
        env_workers: int = 1,
        device: torch.device | str | None = None,
    ) -> None:
        if device is not None:  # else where the networks already are
            policy.to(device)
            value_network.to(device)
        self.policy = policy
        self.value_network = value_network
        self.backend = backend
        self.task = task
        self.config = config
        self.iteration = 0
        self.generator = torch.Generator().manual_seed(seed)
        # the diagnostics draw from their own stream, so that turning them on or off
        # leaves training unchanged
        self.diagnostics_generator = torch.Generator().manual_seed(seed + 1)
        if use_init_states is None:
            use_init_states = config.train_starts == "fixed" or init_state_indices is not None
        n_init = len(backend.init_states(task.task_id)) if use_init_states else None
        if init_state_indices is not None and not (
            n_init and init_state_indices and all(0 <= i < n_init for i in init_state_indices)
        ):
            raise UserError(f"init_state_indices must be non-empty indices below {n_init}; "
                            f"got {init_state_indices!r}")
        self.starts = EpisodeStarts(n_init, np.random.default_rng(seed), init_state_indices)
        env_backend = (SuccessHoldBackend(backend, config.success_hold_steps)
                       if config.reward_mode == "success_hold" else backend)
        self.venv = chunk_env_for_policy(env_backend, task, config.n_envs, policy.config,
                                         workers=env_workers, **(env_options or {}))
        for env_index in range(len(self.venv)):
            self.starts.reset(self.venv, env_index)
        self.reward_scaler = (RunningRewardScaler(config.n_envs, config.gamma)
                              if config.reward_scaling else None)
        policy.start_fine_tuning()
        self.actor_optimizer = torch.optim.Adam(policy.trainable_parameters(),
                                                lr=config.actor_lr)
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
        """One PPO iteration; returns its statistics.

        Reads in the order of CleanRL's ``ppo_continuous_action.py``: rollout, GAE, the
        minibatch epochs with the clipped loss, logging; then the learning-rate schedules
        step for the next iteration.
        """
        config = self.config
        started = time.perf_counter()

        # 1. rollout: n_steps stochastic decisions (action chunks) in each of n_envs envs
        rollout = self.rollout()

        # 2. GAE: (scaled) rewards -> advantages and value targets, one row per decision
        batch = self.advantages(rollout)
        collected = time.perf_counter()

        with torch_threads(config.update_threads):
            # diagnostics of this batch, measured before the update changes the policy
            self.policy.train()
            diagnostics = self.batch_diagnostics(rollout, batch)

            # 3. update: epochs of shuffled minibatches, the ratio clipped per denoising
            #    step (generators.ppo.update; only the critic learns during its warm-up)
            update = ppo_update(
                self.policy, self.value_network, batch,
                config, self.actor_optimizer, self.critic_optimizer,
                iteration=self.iteration, generator=self.generator,
            )
        self.policy.eval()
        updated = time.perf_counter()
        if config.eval_every and (self.iteration + 1) % config.eval_every == 0:
            diagnostics["eval_success"] = self.evaluate()

        # 4. logging: this iteration's rates, episodes, losses and diagnostics
        stats = {
            "iteration": float(self.iteration),
            "actor_lr": self.actor_optimizer.param_groups[0]["lr"],
            "critic_lr": self.critic_optimizer.param_groups[0]["lr"],
            **episode_statistics(rollout),
            **update,
            **diagnostics,
            "rollout_seconds": collected - started,
            "update_seconds": updated - collected,
            "eval_seconds": time.perf_counter() - updated,
            # end to end: collection, advantages and update (not the periodic evaluation)
            "env_steps_per_second": rollout.env_steps / (updated - started),
        }

        # learning-rate schedules (the actor's stands still during the critic warm-up)
        if not update["critic_warmup"]:
            self.actor_scheduler.step()
        self.critic_scheduler.step()
        self.iteration += 1
        return stats

    def rollout(self) -> Rollout:
        """One stochastic rollout of the current policy (see :func:`collect_rollout`)."""
        self.policy.eval()
        return collect_rollout(
            self.policy, self.value_network, self.venv, self.starts, self.config.n_steps,
            gamma=self.config.gamma, generator=self.generator,
        )

    def advantages(self, rollout: Rollout) -> RolloutBatch:
        """``rollout``'s rewards (scaled by the running return spread when
        ``reward_scaling``), plus the truncations' bootstrap, through GAE: advantages and
        value targets, flattened into a batch of S * N decisions."""
        rewards = rollout.rewards
        if self.reward_scaler is not None:
            rewards = torch.from_numpy(self.reward_scaler(
                rewards.cpu().numpy(), rollout.dones.cpu().numpy())).to(rewards)
        advantages, returns = compute_gae(
            rewards + rollout.bootstrap, rollout.values, rollout.dones, rollout.last_values,
            gamma=self.config.gamma, gae_lambda=self.config.gae_lambda,
        )
        return flatten_rollout(rollout, advantages, returns)

    def collect(self) -> tuple[Rollout, RolloutBatch]:
        """Steps 1 and 2 of an iteration: a rollout and its batch of advantages."""
        rollout = self.rollout()
        return rollout, self.advantages(rollout)

    def batch_diagnostics(self, rollout: Rollout, batch: RolloutBatch) -> dict[str, float]:
        """The critic's explained variance, and (every ``gradient_agreement_every``
        iterations) the agreement of two half-batch policy gradients, drawn from the
        diagnostics' own random stream; ``eval_success`` starts unmeasured (NaN)."""
        diagnostics = {"explained_variance": explained_variance(rollout.values.flatten(),
                                                                batch.returns),
                       "gradient_agreement": math.nan, "eval_success": math.nan}
        every = self.config.gradient_agreement_every
        if every and self.iteration % every == 0:
            diagnostics["gradient_agreement"] = gradient_agreement(
                self.policy, batch, self.config, self.diagnostics_generator)
        return diagnostics

    def evaluate(self) -> float:
        """Deterministic success from every fixed initial state of the task."""
        starts = range(len(self.backend.init_states(self.task.task_id)))
        return evaluate(self.policy, self.backend, self.task, starts,
                        seed=EVAL_SEED).success_rate

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


def explained_variance(values: torch.Tensor, returns: torch.Tensor) -> float:
    """1 - Var(returns - values) / Var(returns) over all decisions (NaN for constant
    returns): 1 for a critic that predicts the value targets, <= 0 for one that does not."""
    spread = float(returns.var())
    if spread == 0.0:
        return math.nan
    return 1.0 - float((returns - values).var()) / spread


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
