"""Replaying recorded actions in LIBERO: the replay check of demonstrations, and frames.

A LIBERO demonstration (robomimic layout) holds the flattened MuJoCo state before every
action (``states`` (T, D)) and the actions (T, 7); an episode of the project's own
records its official initial state and seed instead. The replay check starts the task's
env where the recording started, sends the actions one by one and reports whether the
recorded outcome comes back: success, and how far the simulated states drift from the
recorded ones. Files written from this project's own LIBERO
episodes reproduce exactly; LIBERO's original files were recorded with older MuJoCo
versions and may drift, which is what the check is for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffrl_eval.constants import OBS_AGENTVIEW_IMAGE
from diffrl_eval.envs.libero.env import (
    INIT_SIM_STATE_OPTION,
    INIT_STATE_OPTION,
    MODEL_XML_OPTION,
    SETTLE_STEPS_OPTION,
    LiberoEnv,
)
from diffrl_eval.envs.libero.tasks import get_task
from diffrl_eval.envs.replay_frames import check_actions, check_camera, replay_frames
from diffrl_eval.errors import UserError


@dataclass(frozen=True)
class ReplayCheck:
    """The outcome of replaying one recorded episode.

    ``successes`` (T,) is the goal check after each replayed action; ``state_error`` the
    largest absolute difference between replayed and recorded joint positions (qpos:
    metres and radians; NaN when only the first state was given).
    """

    successes: np.ndarray
    state_error: float
    recorded_success: bool | None

    @property
    def success(self) -> bool:
        """Whether the replay reached the goal at some step."""
        return bool(self.successes.any())

    @property
    def first_success_step(self) -> int | None:
        hits = np.flatnonzero(self.successes)
        return int(hits[0]) if hits.size else None

    @property
    def reproduced(self) -> bool:
        """The replay ends as the recording says it did (success or not)."""
        return self.recorded_success is None or self.success == self.recorded_success


def replay_check(task_id: str, actions: np.ndarray, *, states: np.ndarray | None = None,
                 init_state_index: int | None = None, seed: int | None = None,
                 model_xml: str | None = None, recorded_success: bool | None = None,
                 env: LiberoEnv | None = None) -> ReplayCheck:
    """Replay ``actions`` (T, 7) from the recording's start and compare with it.

    The start is either recorded simulator states -- ``states`` (T, D), the flattened
    MuJoCo state before every action as LIBERO's files hold it, or (D,) / (1, D), the
    first one only (so are (T, D) states whose later rows are NaN, as our exporter writes
    them for episodes that record their first state only) -- from which the actions run
    at once; or the official initial state
    ``init_state_index`` followed by the settle steps, as the project's generators start
    their episodes. ``seed`` is the seed the recording's env was reset with: it places
    LIBERO's fixtures as they were, which makes the replay exact. ``model_xml`` (a demo's
    ``model_file``) loads the recorded scene instead; it keeps six significant digits,
    so an object resting in a delicate contact may drift by millimetres. Pass ``env`` to
    reuse an env of the same task (making one costs seconds).
    """
    actions = check_actions(actions, np.float64)
    if (states is None) == (init_state_index is None):
        raise UserError("give the recording's start: states or init_state_index (one of them)")
    options: dict = {MODEL_XML_OPTION: model_xml}
    if states is not None:
        states = np.atleast_2d(np.asarray(states, dtype=np.float64))
        if len(states) not in (1, len(actions)):
            raise UserError(f"states must hold the first state or one per action "
                            f"({len(actions)}), got {len(states)}")
        options.update({INIT_SIM_STATE_OPTION: states[0], SETTLE_STEPS_OPTION: 0})
    else:
        options[INIT_STATE_OPTION] = init_state_index
    own_env = env is None
    env = env or LiberoEnv(get_task(task_id))
    try:
        env.reset(seed=seed, options=options)
        nq = env.libero_env.sim.model.nq
        successes = np.zeros(len(actions), dtype=bool)
        compared = (states is not None and len(states) > 1
                    and bool(np.isfinite(states[1:]).all()))
        error = 0.0 if compared else float("nan")
        for t, action in enumerate(actions):
            *_, info = env.step(action)
            successes[t] = info["success"]
            if compared and t + 1 < len(states):
                # flattened states are (time, qpos, qvel)
                replayed, recorded = env.sim_state()[1:1 + nq], states[t + 1][1:1 + nq]
                error = max(error, float(np.abs(replayed - recorded).max()))
        return ReplayCheck(successes, error, recorded_success)
    finally:
        if own_env:
            env.close()


def render_episode(task_id: str, actions: np.ndarray, *, init_state_index: int | None = None,
                   seed: int | None = None, image_size: int = 128,
                   camera: str = OBS_AGENTVIEW_IMAGE) -> np.ndarray:
    """Frames of ``camera`` before each action and after the last, (T + 1, S, S, 3) uint8.

    The episode starts as the generators start theirs: LIBERO's initial state
    ``init_state_index`` (or a placement sampled from ``seed``), then the settle steps.
    """
    check_camera(camera)
    actions = check_actions(actions, np.float64)
    options = None if init_state_index is None else {INIT_STATE_OPTION: init_state_index}
    return replay_frames(LiberoEnv(get_task(task_id), images=True, image_size=image_size),
                         actions, camera, seed=seed, options=options)
