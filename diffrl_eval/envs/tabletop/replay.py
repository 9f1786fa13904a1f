"""Replay recorded actions in a tabletop env and collect camera frames (for videos).

Physics is deterministic, so replaying an episode's actions from the initial state it
started in reproduces it exactly. Episodes of the ``human`` generator start from fixed
initial state ``episode_index mod 50`` (its default); a sampled start needs the env seed
the episode recorded (``Episode.seed``) instead.
"""

from __future__ import annotations

import numpy as np

from diffrl_eval.constants import OBS_AGENTVIEW_IMAGE
from diffrl_eval.envs.replay_frames import check_actions, check_camera, replay_frames
from diffrl_eval.envs.tabletop.env import INIT_STATE_OPTION, TabletopEnv
from diffrl_eval.envs.tabletop.rendering import require_gl
from diffrl_eval.envs.tabletop.tasks import task_def


def render_episode(task_id: str, actions: np.ndarray, *, init_state_index: int | None = None,
                   seed: int | None = None, image_size: int = 128,
                   camera: str = OBS_AGENTVIEW_IMAGE) -> np.ndarray:
    """Frames of ``camera`` before each action and after the last, (T + 1, S, S, 3) uint8.

    ``actions`` (T, 7), T > 0. Give ``init_state_index`` for episodes that started from a fixed
    initial state, else the ``seed`` the episode's env was reset with.
    """
    check_camera(camera)
    actions = check_actions(actions)
    require_gl()
    options = None if init_state_index is None else {INIT_STATE_OPTION: init_state_index}
    return replay_frames(TabletopEnv(task_def(task_id), images=True, image_size=image_size),
                         actions, camera, seed=seed, options=options)
