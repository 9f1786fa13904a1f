"""From environment observations to policy inputs.

A state-only policy (``encoder="mlp"``) reads the proprioception ``state`` and the
``object_poses`` of the scene; a camera-based one (``encoder="resnet"``) reads ``state``
and the camera images, which its environments must then render. Either way the policy sees
the last To control steps; at the start of an episode, where fewer than To observations
exist, the first observation is repeated (the robot was at rest there).

Shape legend: N environments, T steps of an episode, To observation steps, D a key's width.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from diffrl_eval.constants import CAMERA_KEYS, OBS_OBJECT_POSES, OBS_STATE
from diffrl_eval.errors import unknown_choice
from generators.policy.config import PolicyConfig

LOWDIM_KEYS = (OBS_STATE, OBS_OBJECT_POSES)
ENCODERS = ("mlp", "resnet")  # state MLP | ResNet over the cameras


def state_policy_config(observation: dict[str, np.ndarray], **overrides: Any) -> PolicyConfig:
    """A state-only :class:`PolicyConfig` sized for ``observation`` (one env's obs dict).

    The MLP encoder reads ``LOWDIM_KEYS`` concatenated; proprioception also enters every
    FiLM layer through the encoder's conditioning vector.
    """
    width = sum(int(np.asarray(observation[key]).shape[-1]) for key in LOWDIM_KEYS)
    return PolicyConfig(encoder="mlp", lowdim_keys=LOWDIM_KEYS, lowdim_dim=width, **overrides)


def expert_policy_config(observation: dict[str, np.ndarray], **overrides: Any) -> PolicyConfig:
    """The expert's :class:`PolicyConfig`: state-only unless ``overrides`` ask for
    ``encoder="resnet"``, which reads ``state`` and the cameras (``image_keys``, default
    both) at ``image_size``."""
    encoder = overrides.get("encoder", "mlp")
    if encoder not in ENCODERS:
        raise unknown_choice("expert encoder", str(encoder), ENCODERS)
    if encoder == "resnet":
        return PolicyConfig(**{"image_keys": CAMERA_KEYS, **overrides})
    return state_policy_config(observation, **{k: v for k, v in overrides.items()
                                               if k != "encoder"})


def observation_keys(config: PolicyConfig) -> tuple[str, ...]:
    """The observation keys a policy with ``config`` reads."""
    if config.encoder == "resnet":
        return (OBS_STATE, *config.image_keys)
    return tuple(config.lowdim_keys) or (OBS_STATE,)


def camera_env_options(config: PolicyConfig) -> dict[str, Any]:
    """``make_env`` options the policy's observations need (cameras on, at its size)."""
    if config.encoder == "resnet":
        return {"images": True, "image_size": config.image_size}
    return {}


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
            value = np.asarray(obs[key])
            if key not in self._frames:
                # camera frames stay uint8 (a quarter of the memory); the rest is float32
                dtype = np.uint8 if value.dtype == np.uint8 else np.float32
                self._frames[key] = np.zeros(
                    (self.n_envs, self.n_obs_steps, *value.shape), dtype=dtype
                )
            self._frames[key][env_index] = value

    def push(self, env_index: int, obs: dict[str, np.ndarray]) -> None:
        """Append ``obs`` to env ``env_index``'s history, dropping the oldest step."""
        for key in self.keys:
            frames = self._frames[key][env_index]
            frames[:-1] = frames[1:]
            frames[-1] = obs[key]

    def frames(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """Histories of the envs ``indices`` as arrays: key -> (n, To, ...)."""
        return {key: frames[np.asarray(indices)] for key, frames in self._frames.items()}

    def write(self, indices: np.ndarray, frames: dict[str, np.ndarray]) -> None:
        """Overwrite the histories of envs ``indices`` with ``frames`` (key -> (n, To, ...)),
        as :meth:`frames` returns them (e.g. from the same envs in another process)."""
        for key, values in frames.items():
            if key not in self._frames:
                self._frames[key] = np.zeros((self.n_envs, *values.shape[1:]), values.dtype)
            self._frames[key][np.asarray(indices)] = values

    def tensors(self, indices: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """Histories of the envs ``indices`` (all when None): key -> (n, To, D) float32,
        or (n, To, H, W, 3) uint8 for a camera."""
        return {
            key: torch.from_numpy(
                frames.copy() if indices is None else frames[np.asarray(indices)]
            )
            for key, frames in self._frames.items()
        }
