"""LeRobot's observation keys for any backend's env (``gymnasium.make(..., observation_keys=
"lerobot")``).

The project's envs return ``state``, ``eef_pos``, ``object_poses`` and, with ``images=True``,
``agentview_image`` / ``wrist_image``. :class:`LeRobotObservation` renames them to the feature
names of LeRobotDataset (the ones ``diffrl-eval export --format lerobot`` writes), so a policy
trained on an export reads the live env with the same keys:

* ``observation.state`` (8,) float32 - unchanged values;
* ``observation.environment_state`` (7 * n_objects,) float32 - the object poses;
* ``observation.images.image`` / ``observation.images.wrist_image`` (H, W, 3) uint8;
* ``task`` - the task's language instruction (a string), as LeRobot batches carry it.

``eef_pos`` is dropped: it is ``observation.state[0:3]``.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from diffrl_eval import constants as C
from diffrl_eval.errors import unknown_choice

NATIVE_KEYS = "native"
LEROBOT_KEYS = "lerobot"
OBSERVATION_KEY_STYLES = (NATIVE_KEYS, LEROBOT_KEYS)

_RENAMES = {
    C.OBS_STATE: C.LEROBOT_STATE,
    C.OBS_OBJECT_POSES: C.LEROBOT_ENVIRONMENT_STATE,
    **C.LEROBOT_CAMERA_KEYS,
}


class LeRobotObservation(gym.ObservationWrapper):
    """Observations under LeRobot's key names, plus the instruction as ``task``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        spaces = env.observation_space.spaces
        self.instruction: str = env.unwrapped.task.instruction
        renamed = {new: spaces[old] for old, new in _RENAMES.items() if old in spaces}
        renamed[C.LEROBOT_TASK] = gym.spaces.Text(
            max_length=max(len(self.instruction), 1), min_length=0, charset=string.printable)
        self.observation_space = gym.spaces.Dict(renamed)

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        out = {new: observation[old] for old, new in _RENAMES.items() if old in observation}
        out[C.LEROBOT_TASK] = self.instruction
        return out


def with_observation_keys(build: Callable[[], gym.Env], observation_keys: str) -> gym.Env:
    """The env ``build()`` makes, as it is (``"native"``) or with LeRobot's keys
    (``"lerobot"``); any other style is refused before the env is built."""
    if observation_keys not in OBSERVATION_KEY_STYLES:
        raise unknown_choice("observation_keys", observation_keys, OBSERVATION_KEY_STYLES)
    env = build()
    return LeRobotObservation(env) if observation_keys == LEROBOT_KEYS else env
