"""Recovering a recorded episode's full observations by replaying its actions.

Recorded :class:`~diffrl_eval.dataset.Episode` objects carry proprioception and actions
but not object poses, which a state-only policy needs. The environments are
deterministic (same start, same actions, same trajectory), so the full observations are
recovered by replaying each episode's actions from its recorded start; a replay whose
proprioception differs from the recording is refused. The RL experts and the VLA both
read their state-mode training observations from here.

The recorded start is the episode's seed and fixed initial state (episodes generated
here: the replay is exact), or the simulator state it started from (LIBERO's
demonstration files, whose ``states[0]`` the import keeps: the replay is close, see
:data:`RECORDED_START_TOLERANCE`).

Shape legend: T steps of an episode, D a key's width, H x W a camera frame.
"""

from __future__ import annotations

import numpy as np

from diffrl_eval.constants import (
    INIT_STATE_OPTION,
    OBS_OBJECT_POSES,
    OBS_STATE,
    RECORDED_START_OPTION,
)
from diffrl_eval.dataset.episode import Episode
from diffrl_eval.envs.base import EnvBackend
from diffrl_eval.errors import DatasetError

# float32 observations of a bit-exact replay match exactly; the slack only absorbs
# platform differences in the last bits of the physics
REPLAY_TOLERANCE = 1e-4
# A replay from a recorded simulator state (LIBERO's demonstrations) cannot match
# exactly, because the state does not hold everything the recording ran on:
# - where LIBERO placed the scene's fixtures (cabinets, stoves) at the recording's reset,
#   about a centimetre of spread; the replay's reset (RECORDED_START_SEED) places them
#   anew, and wherever the arm touches one the trajectory shifts: up to 1.4 cm of eef
#   position measured on the drawer push of KITCHEN_SCENE10;
# - the robot's control state (arm controller, gripper command ramp), which the replay
#   takes to be a running episode's with the gripper open (the libero env's
#   RECORDED_START_OPTION);
# - for LIBERO's own files, the arithmetic of the older MuJoCo they were recorded with.
# The proprioception (eef position in m, axis-angle in rad, finger joints in m) must stay
# within this bound at every step: a replay that starts elsewhere, misses a grasp or
# pushes from elsewhere leaves it. Reaching the recorded goal is not required here (it is
# of exact replays): where the fixtures stand decides whether a push that ended on the
# goal ends a few millimetres short of it (measured: one drawer push of three replayed
# 1.4 mm from its recording missed the goal, all three reached it in the recorded scene),
# while the trajectory, and so what a policy learns from it, stays the same.
RECORDED_START_TOLERANCE = 0.02
# The fixtures' placement is not recorded, so any seed places them as well as another;
# a fixed one makes the replay, and so the policies trained on it, deterministic.
RECORDED_START_SEED = 0
# what a state-only policy reads: proprioception and object poses
STATE_KEYS = (OBS_STATE, OBS_OBJECT_POSES)


def replay_start(episode: Episode) -> tuple[int | None, dict | None]:
    """The ``env.reset`` seed and options that start ``episode`` where it was recorded."""
    if episode.init_sim_state is not None:
        seed = RECORDED_START_SEED if episode.seed is None else episode.seed
        return seed, {RECORDED_START_OPTION: episode.init_sim_state}
    if episode.seed is None and episode.init_state_index is None:
        raise DatasetError(
            f"episode of task {episode.task_id!r} records neither its seed nor its initial "
            "state, so its object poses cannot be recovered by replay"
        )
    options = (None if episode.init_state_index is None
               else {INIT_STATE_OPTION: int(episode.init_state_index)})
    return episode.seed, options


def replay_observations(
    backend: EnvBackend, episode: Episode, keys: tuple[str, ...] = STATE_KEYS, *, env=None
) -> dict[str, np.ndarray]:
    """The observations before each of ``episode``'s actions: key -> (T, D) float32
    ((T, H, W, 3) uint8 for a camera).

    Always the observation *before* each action, whichever way the episode was recorded;
    the replay is checked against the recording (see the module docstring), and an episode
    observed after each action (LIBERO's files) is compared with the replay's observations
    after each action. ``env`` (an env of the episode's task) is reused when given: making
    one costs seconds on some backends.
    """
    seed, options = replay_start(episode)
    own_env = env is None
    env = backend.make_env(episode.task_id) if own_env else env
    try:
        obs, _ = env.reset(seed=seed, options=options)
        seen: dict[str, list[np.ndarray]] = {key: [] for key in keys}
        proprio = []  # (T + 1) states: before each action, then after the last
        success = False
        for action in episode.actions:
            for key in keys:
                value = np.asarray(obs[key])  # camera frames stay uint8
                seen[key].append(value if value.dtype == np.uint8 else value.astype(np.float32))
            proprio.append(np.asarray(obs[OBS_STATE], dtype=np.float32))
            obs, _, _, _, info = env.step(action)
            success = success or bool(info.get("success"))
        proprio.append(np.asarray(obs[OBS_STATE], dtype=np.float32))
    finally:
        if own_env:
            env.close()
    check_replay(episode, np.stack(proprio), success)
    return {key: np.stack(values) for key, values in seen.items()}


def check_replay(episode: Episode, proprio: np.ndarray, success: bool) -> None:
    """Refuse a replay of ``episode`` that is not the recording: ``proprio`` (T + 1, 8)
    the replayed states before each action and after the last, ``success`` whether the
    replay reached the goal (required of exact replays, see RECORDED_START_TOLERANCE)."""
    from_state = episode.init_sim_state is not None
    start = "its recorded simulator state" if from_state else "its recorded start"
    observed = proprio[1:] if episode.obs_after_action else proprio[:-1]
    error = np.abs(observed - episode.states).max(axis=1)  # (T,)
    tolerance = RECORDED_START_TOLERANCE if from_state else REPLAY_TOLERANCE
    off = np.flatnonzero(error > tolerance)
    if off.size:
        cause = ("its simulator states and actions do not belong together, or it was "
                 "recorded in another scene" if from_state
                 else "it was not recorded in this environment")
        raise DatasetError(
            f"replaying an episode of task {episode.task_id!r} from {start} does not "
            f"reproduce its recorded states (off by {error[off[0]]:.3g} at step {off[0]}, "
            f"more than {tolerance:g}): {cause}"
        )
    if episode.success and not success and not from_state:
        raise DatasetError(
            f"replaying an episode of task {episode.task_id!r} from {start} does not reach "
            "the goal the recording reached, so its replayed observations are not the "
            "demonstration's"
        )
