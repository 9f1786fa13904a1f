"""From environment observations to policy inputs (state-only policies).

A state-only policy reads the proprioception ``state`` and the ``object_poses`` of the
scene, over the last To control steps. At the start of an episode, where fewer than To
observations exist, the first observation is repeated (the robot was at rest there).

Shape legend: N environments, T steps of an episode, To observation steps, D a key's width.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from diffrl_eval.constants import OBS_OBJECT_POSES, OBS_STATE
from generators.policy.config import PolicyConfig

LOWDIM_KEYS = (OBS_STATE, OBS_OBJECT_POSES)


def state_policy_config(observation: dict[str, np.ndarray], **overrides: Any) -> PolicyConfig:
    """A state-only :class:`PolicyConfig` sized for ``observation`` (one env's obs dict).

    The MLP encoder reads ``LOWDIM_KEYS`` concatenated; proprioception also enters every
    FiLM layer through the encoder's conditioning vector.
    """
    width = sum(int(np.asarray(observation[key]).shape[-1]) for key in LOWDIM_KEYS)
    return PolicyConfig(encoder="mlp", lowdim_keys=LOWDIM_KEYS, lowdim_dim=width, **overrides)


def history_windows(sequence: np.ndarray, n_obs_steps: int) -> np.ndarray:
    """(T, D) observations -> (T, To, D): row t holds steps t-To+1 .. t, the first repeated."""
    offsets = np.arange(-n_obs_steps + 1, 1)
    index = np.clip(np.arange(len(sequence))[:, None] + offsets[None, :], 0, None)
    return sequence[index]


class ObservationHistory:
    """The rolling To-step observation history of N environments."""

    def __init__(self, n_envs: int, n_obs_steps: int, keys: tuple[str, ...] = LOWDIM_KEYS):
        self.n_envs = n_envs
        self.n_obs_steps = n_obs_steps
        self.keys = keys
        self._frames: dict[str, np.ndarray] = {}

    def reset(self, env_index: int, obs: dict[str, np.ndarray]) -> None:
        """Start env ``env_index``'s history: ``obs`` fills all To slots."""
        for key in self.keys:
            value = np.asarray(obs[key], dtype=np.float32)
            if key not in self._frames:
                self._frames[key] = np.zeros(
                    (self.n_envs, self.n_obs_steps, value.shape[-1]), dtype=np.float32
                )
            self._frames[key][env_index] = value

    def push(self, env_index: int, obs: dict[str, np.ndarray]) -> None:
        """Append ``obs`` to env ``env_index``'s history, dropping the oldest step."""
        for key in self.keys:
            frames = self._frames[key][env_index]
            frames[:-1] = frames[1:]
            frames[-1] = obs[key]

    def tensors(self, indices: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """Histories of the envs ``indices`` (all when None): key -> (n, To, D) float32."""
        return {
            key: torch.from_numpy(
                frames.copy() if indices is None else frames[np.asarray(indices)]
            )
            for key, frames in self._frames.items()
        }
