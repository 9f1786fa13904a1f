"""The replay loop every backend shares: recorded actions back into camera frames.

A backend's ``render_episode`` checks its arguments with :func:`check_camera` and
:func:`check_actions` before it builds its (costly) env, then hands the env to
:func:`replay_frames`, which resets it where the episode started, sends the actions one by
one and keeps the camera's frame before each action and after the last.

Shape legend: T actions, S image size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from diffrl_eval.constants import ACTION_DIM, CAMERA_KEYS
from diffrl_eval.errors import UserError


def check_camera(camera: str) -> str:
    """``camera`` when it is one of the recorded cameras, else a one-line error."""
    if camera not in CAMERA_KEYS:
        raise UserError(f"unknown camera {camera!r}; valid choices: {', '.join(CAMERA_KEYS)}")
    return camera


def check_actions(actions: Any, dtype: Any = None) -> np.ndarray:
    """``actions`` as a (T, 7) array with T > 0 (of ``dtype`` when given), else a one-line
    error."""
    actions = np.asarray(actions, dtype=dtype)
    if actions.ndim != 2 or actions.shape[1] != ACTION_DIM or len(actions) == 0:
        raise UserError(f"actions must have shape (T, {ACTION_DIM}) with T > 0, "
                        f"got {actions.shape}")
    return actions


def replay_frames(env: Any, actions: np.ndarray, camera: str, *, seed: int | None,
                  options: Mapping[str, Any] | None) -> np.ndarray:
    """Frames of ``camera`` before each of ``actions`` (T, 7) and after the last,
    (T + 1, S, S, 3) uint8, with ``env`` reset by ``seed`` and ``options``; closes ``env``."""
    try:
        obs, _ = env.reset(seed=seed, options=None if options is None else dict(options))
        frames = [obs[camera]]
        for action in actions:
            obs, *_ = env.step(action)
            frames.append(obs[camera])
        return np.stack(frames)
    finally:
        env.close()
