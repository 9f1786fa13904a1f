"""One episode in memory: what generators produce and the dataset writer consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffrl_eval.constants import ACTION_DIM, EEF_POS_DIM, STATE_DIM
from diffrl_eval.errors import DatasetError


@dataclass
class Episode:
    """A single rollout of one task.

    Shapes (T = number of environment steps):
        states:  (T, 8)  proprio state observed *before* each action
        eef_pos: (T, 3)  end-effector position observed before each action
        actions: (T, 7)  the commanded action at each step
        rewards: (T,)
        successes: (T,)  bool, the goal predicate holds after the step
        images:  camera name -> (T, H, W, 3) uint8, optional
        init_sim_state: (D,) float64, optional

    ``states``, ``eef_pos`` and ``images`` are observed before each action, except in
    recordings marked ``obs_after_action`` (LIBERO's demonstration files observe after
    each action: row t is what action t led to).
    """

    task_id: str
    instruction: str
    states: np.ndarray
    eef_pos: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    successes: np.ndarray
    seed: int | None = None
    images: dict[str, np.ndarray] = field(default_factory=dict)
    # Which of the task's fixed evaluation initial states the episode started from (None:
    # a placement sampled from ``seed``). With the actions, it is enough to replay it.
    init_state_index: int | None = None
    # The flattened simulator state before the first action (LIBERO's demo ``states[0]``),
    # for recordings that keep neither seed nor fixed initial state: replay starts from it.
    init_sim_state: np.ndarray | None = None
    obs_after_action: bool = False

    def __post_init__(self) -> None:
        self.states = np.asarray(self.states, dtype=np.float32)
        self.eef_pos = np.asarray(self.eef_pos, dtype=np.float32)
        self.actions = np.asarray(self.actions, dtype=np.float32)
        self.rewards = np.asarray(self.rewards, dtype=np.float32).reshape(-1)
        self.successes = np.asarray(self.successes, dtype=bool).reshape(-1)
        if self.init_sim_state is not None:
            self.init_sim_state = np.asarray(self.init_sim_state, dtype=np.float64)
        self.obs_after_action = bool(self.obs_after_action)
        self.validate()

    @property
    def length(self) -> int:
        return int(self.actions.shape[0])

    @property
    def success(self) -> bool:
        return bool(self.successes.any())

    def validate(self) -> None:
        """Raise :class:`DatasetError` naming the first inconsistency found."""
        n = self.actions.shape[0] if self.actions.ndim == 2 else -1
        if n <= 0:
            raise DatasetError(f"episode of task {self.task_id!r} has no steps")
        expected = {
            "states": (self.states, (n, STATE_DIM)),
            "eef_pos": (self.eef_pos, (n, EEF_POS_DIM)),
            "actions": (self.actions, (n, ACTION_DIM)),
            "rewards": (self.rewards, (n,)),
            "successes": (self.successes, (n,)),
        }
        for name, (array, shape) in expected.items():
            if array.shape != shape:
                raise DatasetError(
                    f"episode of task {self.task_id!r}: {name} has shape {array.shape}, "
                    f"expected {shape}"
                )
            if array.dtype != bool and not np.isfinite(array).all():
                raise DatasetError(f"episode of task {self.task_id!r}: {name} has NaN or inf")
        start = self.init_sim_state
        if start is not None:
            if start.ndim != 1 or start.size == 0:
                raise DatasetError(
                    f"episode of task {self.task_id!r}: init_sim_state has shape "
                    f"{start.shape}, expected (D,) with D > 0"
                )
            if not np.isfinite(start).all():
                raise DatasetError(
                    f"episode of task {self.task_id!r}: init_sim_state has NaN or inf")
        for camera, frames in self.images.items():
            if frames.ndim != 4 or frames.shape[0] != n or frames.shape[-1] != 3:
                raise DatasetError(
                    f"episode of task {self.task_id!r}: camera {camera!r} has shape "
                    f"{frames.shape}, expected ({n}, H, W, 3)"
                )


def action_chunks(actions: np.ndarray, horizon: int) -> np.ndarray:
    """(T, Da) actions of one episode -> (T, Ta, Da) with Ta = ``horizon``: row t holds
    actions t .. t+Ta-1, the last one repeated past the episode's end.

    The chunk a policy is trained to predict at step t (behaviour cloning of the RL
    experts, the VLA's training samples). Repeating the final action rather than inventing
    motion past the end teaches a policy to hold still once the task is done.
    """
    index = np.minimum(np.arange(len(actions))[:, None] + np.arange(horizon)[None, :],
                       len(actions) - 1)
    return actions[index]
