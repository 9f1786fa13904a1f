"""Replay check: recorded LIBERO actions, stepped again from the first recorded state,
reproduce the recorded trajectory and its success.

The recording is a real LIBERO episode made here: a scripted push closes the open top
drawer of KITCHEN_SCENE10 (libero_90) in about 60 steps, and every flattened MuJoCo state
before each action is kept, as LIBERO's demonstration files keep them. Needs the
``libero`` extra; skipped without it.
"""

from __future__ import annotations

import numpy as np
import pytest

from diffrl_eval.constants import OBS_EEF_POS
from diffrl_eval.envs.libero import (
    INIT_STATE_OPTION,
    SETTLE_STEPS_OPTION,
    replay_check,
    runtime,
)
from diffrl_eval.errors import UserError
from tests.envs.libero_drawer import TASK, drawer_env_fixture

pytestmark = pytest.mark.skipif(
    not runtime.ready(),
    reason="needs the libero extra: pip install -e '.[libero]' && diffrl-eval doctor --install-libero",
)


env = drawer_env_fixture()


@pytest.fixture(scope="module")
def recording(env):
    """A successful episode: states (T, D) before each action, actions (T, 7), the scene
    MJCF, per-step successes (T,)."""
    # LIBERO's demonstrations start straight from their first state (no settle steps)
    obs, _ = env.reset(seed=0, options={INIT_STATE_OPTION: 0, SETTLE_STEPS_OPTION: 0})
    drawer = env.libero_env.object_states_dict["wooden_cabinet_1_top_region"]
    x = drawer.get_geom_state()["pos"][0]
    # above the open drawer's front, down to its height, then push it shut (gripper closed)
    waypoints = [np.array([x, 0.06, 1.20]), np.array([x, 0.06, 1.06]), np.array([x, -0.25, 1.06])]
    model_xml = env.model_xml()
    states, actions, successes = [], [], []
    target = 0
    for _ in range(150):
        error = waypoints[target] - obs[OBS_EEF_POS]
        if np.linalg.norm(error) < 0.01 and target < len(waypoints) - 1:
            target += 1
            error = waypoints[target] - obs[OBS_EEF_POS]
        action = np.zeros(7)
        action[:3] = np.clip(10 * error, -1, 1)
        action[6] = 1.0
        states.append(env.sim_state())
        actions.append(action)
        obs, _, terminated, _, info = env.step(action)
        successes.append(info["success"])
        if terminated:
            break
    assert successes[-1], "the scripted push must close the drawer"
    return np.array(states), np.array(actions), model_xml, np.array(successes)


def test_replay_with_the_recording_seed_reproduces_the_trajectory_exactly(env, recording):
    states, actions, _, successes = recording
    check = replay_check(TASK, actions, states=states, seed=0, recorded_success=True, env=env)
    assert check.reproduced and check.success
    assert check.first_success_step == len(actions) - 1
    np.testing.assert_array_equal(check.successes, successes)
    assert check.state_error == 0.0


def test_replay_in_the_recorded_scene_reproduces_the_success(env, recording):
    states, actions, model_xml, successes = recording
    check = replay_check(TASK, actions, states=states, model_xml=model_xml, seed=123,
                         recorded_success=True, env=env)
    assert check.reproduced
    np.testing.assert_array_equal(check.successes, successes)
    # the MJCF keeps six significant digits; a resting object may shift by millimetres
    assert 0.0 < check.state_error < 0.02


def test_replay_from_the_first_state_alone_still_reaches_the_goal(env, recording):
    states, actions, model_xml, _ = recording
    check = replay_check(TASK, actions, states=states[0], model_xml=model_xml, seed=5,
                         recorded_success=True, env=env)
    assert check.reproduced and np.isnan(check.state_error)


def test_replay_check_reports_actions_that_do_not_reproduce_the_recording(env, recording):
    states, actions, _, _ = recording
    stalled = actions.copy()
    stalled[len(actions) // 2:, :6] = 0.0  # the push stops halfway
    check = replay_check(TASK, stalled, states=states, seed=0, recorded_success=True, env=env)
    assert not check.success and not check.reproduced
    assert check.state_error > 0.05


def test_replay_check_rejects_malformed_inputs(env, recording):
    states, actions, _, _ = recording
    with pytest.raises(UserError, match=r"actions must have shape \(T, 7\)"):
        replay_check(TASK, actions[:, :6], states=states, env=env)
    with pytest.raises(UserError, match="states must hold the first state or one per action"):
        replay_check(TASK, actions, states=states[:3], env=env)
    with pytest.raises(UserError, match="initial state for LIBERO task"):
        replay_check(TASK, actions, states=states[:, :-1], env=env)
    with pytest.raises(UserError, match="states or init_state_index"):
        replay_check(TASK, actions, env=env)


def test_a_seeded_reset_builds_the_same_scene_whatever_the_env_ran_before(env):
    def scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
        env.reset(seed=seed, options={INIT_STATE_OPTION: 0, SETTLE_STEPS_OPTION: 0})
        return env.libero_env.sim.model._model.body_pos.copy(), env.sim_state()

    first_layout, first_state = scene(3)
    for seed in (4, 5):
        scene(seed)
        env.step(np.array([0, 0, 1.0, 0, 0, 0, 1.0]))
    layout, state = scene(3)
    np.testing.assert_array_equal(layout, first_layout)  # fixtures (cabinet) included
    np.testing.assert_array_equal(state, first_state)
