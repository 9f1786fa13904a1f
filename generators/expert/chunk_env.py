"""Parallel environments stepped one action chunk at a time, recording episodes.

The RL problem lives at chunk level: a decision is a whole action chunk, of which the
first Te actions are executed. :class:`ChunkVectorEnv` keeps N environments in this
process, their To-step observation histories and the episode each one is in;
:class:`~generators.expert.subprocess_env.SubprocessChunkVectorEnv` spreads them over
worker processes behind the same interface.
An episode that ends inside a chunk drops the chunk's remaining actions; the env then
waits for the caller to reset it, so that the caller can read the final observation
(for bootstrapping a time-limit truncation) and choose the next start.

Shape legend: N environments, n selected environments, Te executed steps, Da action dim,
To observation steps, D a key's width.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from diffrl_eval.constants import ACTION_DIM, INIT_STATE_OPTION, OBS_EEF_POS, OBS_STATE
from diffrl_eval.dataset.episode import Episode
from diffrl_eval.envs.base import TaskSpec
from diffrl_eval.errors import UserError
from generators.expert.observation import (
    LOWDIM_KEYS,
    ObservationHistory,
    camera_env_options,
    observation_keys,
)


def reset_options(init_state_index: int | None) -> dict[str, Any] | None:
    """``env.reset`` options that start from fixed initial state ``init_state_index``."""
    return None if init_state_index is None else {INIT_STATE_OPTION: int(init_state_index)}


def policy_env_options(policy_config, env_options: dict[str, Any]) -> dict[str, Any]:
    """``make_env`` options for a policy with ``policy_config``: ``env_options`` plus its
    cameras; a camera size other than the policy's is a one-line error."""
    options = camera_env_options(policy_config)
    asked = env_options.get("image_size", options.get("image_size"))
    if options and env_options.get("images") and asked != options["image_size"]:
        raise UserError(
            f"the policy reads {options['image_size']} px cameras but {asked} px images "
            f"were asked for; record at {options['image_size']} px or train the expert "
            f"at {asked} px (policy.image_size)"
        )
    return {**env_options, **options}


def checked_chunks(chunks: np.ndarray, n: int) -> np.ndarray:
    """``chunks`` for n envs as float32 (n, Te, Da), clipped to the action range."""
    chunks = np.clip(np.asarray(chunks, dtype=np.float32), -1.0, 1.0)
    if chunks.ndim != 3 or chunks.shape[0] != n or chunks.shape[2] != ACTION_DIM:
        raise ValueError(f"chunks must be ({n}, Te, {ACTION_DIM}); got {chunks.shape}")
    return chunks


@dataclass
class ChunkOutcome:
    """What executing one chunk in n environments gave.

    ``rewards`` (n,) summed over the executed steps; ``terminated`` (n,) the goal was
    reached; ``truncated`` (n,) the step budget ran out first; ``steps`` (n,) actions
    executed; ``episodes`` the finished :class:`Episode` of every env whose episode ended
    (None elsewhere).
    """

    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    steps: np.ndarray
    episodes: list[Episode | None]

    @property
    def dones(self) -> np.ndarray:
        return self.terminated | self.truncated


class ChunkEnvs(Protocol):
    """What a rollout needs from N chunk-stepped environments: :class:`ChunkVectorEnv`
    in this process, or ``SubprocessChunkVectorEnv`` in worker processes."""

    def __len__(self) -> int: ...

    def reset_env(self, index: int, *, seed: int | None,
                  init_state_index: int | None) -> None: ...

    def observation(self, indices: np.ndarray | None = None) -> dict[str, torch.Tensor]: ...

    def step_chunk(self, indices: np.ndarray, chunks: np.ndarray) -> ChunkOutcome: ...

    def close(self) -> None: ...


@dataclass
class _EpisodeRecord:
    seed: int | None
    init_state_index: int | None
    states: list[np.ndarray] = field(default_factory=list)
    eef_pos: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    successes: list[bool] = field(default_factory=list)


class ChunkVectorEnv:
    """N in-process environments of one task, stepped chunk by chunk."""

    def __init__(
        self,
        envs: list[Any],
        task: TaskSpec,
        n_obs_steps: int,
        keys: tuple[str, ...] = LOWDIM_KEYS,
    ) -> None:
        self.envs = envs
        self.task = task
        self.history = ObservationHistory(len(envs), n_obs_steps, keys)
        self._obs: list[dict[str, np.ndarray] | None] = [None] * len(envs)
        self._records: list[_EpisodeRecord | None] = [None] * len(envs)

    @classmethod
    def make(cls, backend, task: TaskSpec, n_envs: int, n_obs_steps: int,
             keys: tuple[str, ...] = LOWDIM_KEYS, **env_options: Any) -> ChunkVectorEnv:
        envs = [backend.make_env(task.task_id, **env_options) for _ in range(n_envs)]
        return cls(envs, task, n_obs_steps, keys)

    @classmethod
    def for_policy(cls, backend, task: TaskSpec, n_envs: int, policy_config,
                   **env_options: Any) -> ChunkVectorEnv:
        """Envs that produce what a policy with ``policy_config`` reads (its observation
        keys; cameras at its image size when it has a camera encoder)."""
        return cls.make(backend, task, n_envs, policy_config.n_obs_steps,
                        observation_keys(policy_config),
                        **policy_env_options(policy_config, env_options))

    def __len__(self) -> int:
        return len(self.envs)

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def reset_env(self, index: int, *, seed: int | None, init_state_index: int | None) -> None:
        """Start a new episode in env ``index`` from a fixed initial state or a seed."""
        obs, _ = self.envs[index].reset(seed=seed, options=reset_options(init_state_index))
        self._obs[index] = obs
        self.history.reset(index, obs)
        self._records[index] = _EpisodeRecord(seed, init_state_index)

    def observation(self, indices: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """Policy input of envs ``indices`` (all when None): key -> (n, To, D)."""
        return self.history.tensors(indices)

    def step_chunk(self, indices: np.ndarray, chunks: np.ndarray) -> ChunkOutcome:
        """Execute ``chunks`` (n, Te, Da) in the envs ``indices`` (n,), each until its
        chunk is spent or its episode ends."""
        indices = np.asarray(indices, dtype=np.int64)
        chunks = checked_chunks(chunks, len(indices))
        n = len(indices)
        rewards = np.zeros(n, dtype=np.float32)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        steps = np.zeros(n, dtype=np.int64)
        episodes: list[Episode | None] = [None] * n
        for row, index in enumerate(indices):
            env, record = self.envs[index], self._records[index]
            if record is None:
                raise RuntimeError(f"env {index} has no running episode; reset it first")
            obs = self._obs[index]
            for action in chunks[row]:
                record.states.append(obs[OBS_STATE])
                record.eef_pos.append(obs[OBS_EEF_POS])
                record.actions.append(action)
                obs, reward, term, trunc, info = env.step(action)
                record.rewards.append(float(reward))
                record.successes.append(bool(info["success"]))
                rewards[row] += reward
                steps[row] += 1
                self.history.push(index, obs)
                if term or trunc:
                    terminated[row], truncated[row] = term, trunc and not term
                    episodes[row] = self._finish(index)
                    break
            self._obs[index] = obs
        return ChunkOutcome(rewards, terminated, truncated, steps, episodes)

    def _finish(self, index: int) -> Episode:
        record = self._records[index]
        self._records[index] = None
        return Episode(
            task_id=self.task.task_id,
            instruction=self.task.instruction,
            states=np.asarray(record.states),
            eef_pos=np.asarray(record.eef_pos),
            actions=np.asarray(record.actions),
            rewards=np.asarray(record.rewards),
            successes=np.asarray(record.successes),
            seed=record.seed,
            init_state_index=record.init_state_index,
        )
