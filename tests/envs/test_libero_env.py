"""The real LIBERO backend: suites, official initial states, stepping, the BDDL goal check.

One task per suite. The goal check is exercised by putting the scene into a state where
the task's BDDL goal holds (objects moved onto their targets, articulations turned to
where LIBERO's predicates accept them) and watching ``info["success"]`` report it.
Needs the ``libero`` extra; skipped without it.
"""

from __future__ import annotations

import hashlib

import gymnasium as gym
import numpy as np
import pytest

from diffrl_eval.constants import (
    OBS_AGENTVIEW_IMAGE,
    OBS_EEF_POS,
    OBS_OBJECT_POSES,
    OBS_STATE,
    OBS_WRIST_IMAGE,
)
from diffrl_eval.envs.base import get_backend
from diffrl_eval.envs.libero import (
    DUMMY_ACTION,
    INIT_STATE_OPTION,
    SETTLE_STEPS_OPTION,
    SUITE_MAX_STEPS,
    LiberoEnv,
    gym_id,
    register_gym_envs,
    runtime,
)
from diffrl_eval.envs.tabletop.rendering import gl_available
from diffrl_eval.errors import UserError

pytestmark = pytest.mark.skipif(
    not runtime.ready(),
    reason="needs the libero extra: pip install -e '.[libero]' && diffrl-eval doctor --install-libero",
)

# one task per suite, each with a different kind of BDDL goal
SUITE_TASKS = {
    "libero_spatial": "pick_up_the_black_bowl_between_the_plate_and_the_ramekin_and_place_it_on_the_plate",
    "libero_object": "pick_up_the_alphabet_soup_and_place_it_in_the_basket",
    "libero_goal": "turn_on_the_stove",
    "libero_10": "KITCHEN_SCENE3_turn_on_the_stove_and_put_the_moka_pot_on_it",
    "libero_90": "KITCHEN_SCENE10_close_the_top_drawer_of_the_cabinet",
}


@pytest.fixture(scope="module")
def backend():
    return get_backend("libero")


@pytest.fixture(scope="module", params=list(SUITE_TASKS))
def suite_env(request, backend):
    env = backend.make_env(SUITE_TASKS[request.param])
    yield request.param, env
    env.close()


# --- putting a scene into its goal state (test scaffolding) ----------------------------

def _make_predicate_hold(libero_env, predicate: list[str]) -> None:
    """Change the simulation state so that one BDDL goal predicate holds."""
    name, subject, *target = predicate
    sim = libero_env.sim
    if name in ("on", "in"):
        # drop the object 5 cm above the target (an object or a region site)
        goal = libero_env.object_states_dict[target[0]].get_geom_state()["pos"]
        joint = libero_env.get_object(subject).joints[-1]
        qpos = sim.data.get_joint_qpos(joint).copy()
        qpos[:3] = goal + (0.0, 0.0, 0.05)
        sim.data.set_joint_qpos(joint, qpos)
        sim.data.set_joint_qvel(joint, np.zeros(6))
    else:
        # turn the articulation to the first position LIBERO's predicate accepts
        state = libero_env.object_states_dict[subject]
        check = getattr(state, {"open": "is_open", "close": "is_close",
                                "turnon": "turn_on", "turnoff": "turn_off"}[name])
        for position in np.linspace(-2.1, 2.1, 841):
            state.set_joint(position)
            if check():
                break
        else:
            raise AssertionError(f"no joint position satisfies {predicate}")
    sim.forward()


def _settle(env: LiberoEnv, steps: int = 20) -> bool:
    """Step with the dummy action; whether the goal check reported success at the end."""
    success = False
    for _ in range(steps):
        *_, info = env.step(DUMMY_ACTION)
        success = info["success"]
    return success


# --- suites and tasks ------------------------------------------------------------------

def test_the_five_suites_hold_130_tasks_with_their_step_budgets(backend):
    assert backend.suites() == ["libero_spatial", "libero_object", "libero_goal", "libero_10",
                                "libero_90"]
    counts = {suite: len(backend.tasks(suite)) for suite in backend.suites()}
    assert counts == {"libero_spatial": 10, "libero_object": 10, "libero_goal": 10,
                      "libero_10": 10, "libero_90": 90}
    assert len({task.task_id for task in backend.tasks()}) == 130
    for task in backend.tasks():
        assert task.max_steps == SUITE_MAX_STEPS[task.suite]
        assert task.backend == "libero"
    assert [SUITE_MAX_STEPS[s] for s in backend.suites()] == [220, 280, 300, 520, 400]


def test_task_specs_carry_libero_instructions(backend):
    spec = backend.task("turn_on_the_stove")
    assert (spec.suite, spec.instruction, spec.max_steps) == ("libero_goal", "turn on the stove", 300)


def test_every_task_can_be_registered_with_gymnasium():
    register_gym_envs()
    register_gym_envs()  # idempotent
    spec = gym.spec(gym_id("turn_on_the_stove"))
    assert spec.id == "libero/turn_on_the_stove-v0"
    assert spec.kwargs == {"task_id": "turn_on_the_stove"}
    assert sum(env_id.startswith("libero/") for env_id in gym.registry) == 130


def test_unknown_task_and_suite_names_are_one_line_errors(backend):
    with pytest.raises(UserError, match="unknown LIBERO task 'open_the_fridge'"):
        backend.task("open_the_fridge")
    with pytest.raises(UserError, match="unknown libero suite 'libero_100'"):
        backend.tasks("libero_100")


def test_every_task_has_50_official_initial_states(backend):
    for task in backend.tasks():
        states = backend.init_states(task.task_id)
        assert states.ndim == 2 and states.shape[0] == 50, task.task_id
        assert np.isfinite(states).all()


# --- one env per suite -------------------------------------------------------------------

def test_reset_without_settling_is_exactly_the_official_initial_state(suite_env):
    _, env = suite_env
    env.reset(seed=0, options={INIT_STATE_OPTION: 3, SETTLE_STEPS_OPTION: 0})
    np.testing.assert_array_equal(env.sim_state()[1:], env.init_states[3][1:])


def test_reset_settles_for_ten_dummy_steps_and_observes_in_the_project_schema(suite_env):
    suite, env = suite_env
    obs, info = env.reset(seed=0, options={INIT_STATE_OPTION: 0})
    assert info == {"success": False, "instruction": env.task.instruction}
    assert env.observation_space.contains(obs)
    assert obs[OBS_STATE].shape == (8,) and obs[OBS_OBJECT_POSES].shape == (7 * len(env.object_names),)
    np.testing.assert_array_equal(obs[OBS_EEF_POS], obs[OBS_STATE][:3])
    raw = env.libero_env._get_observations()
    np.testing.assert_allclose(obs[OBS_EEF_POS], raw["robot0_eef_pos"], atol=1e-6)
    np.testing.assert_allclose(obs[OBS_STATE][6:], raw["robot0_gripper_qpos"], atol=1e-6)
    # ten simulated steps of 50 ms have passed since the stored state (time is entry 0)
    assert env.sim_state()[0] == pytest.approx(env.init_states[0][0] + 10 * 0.05, abs=1e-9)
    # quaternions in object_poses are unit (w, x, y, z)
    quats = obs[OBS_OBJECT_POSES].reshape(-1, 7)[:, 3:]
    np.testing.assert_allclose(np.linalg.norm(quats, axis=1), 1.0, atol=1e-5)
    assert env.max_steps == SUITE_MAX_STEPS[suite]


def test_stepping_moves_the_arm_and_reports_no_success_while_the_goal_is_unmet(suite_env):
    _, env = suite_env
    obs, _ = env.reset(seed=0, options={INIT_STATE_OPTION: 1})
    start = obs[OBS_EEF_POS].copy()
    for _ in range(5):
        obs, reward, terminated, truncated, info = env.step(np.array([0, 0, 1.0, 0, 0, 0, -1]))
    assert obs[OBS_EEF_POS][2] > start[2] + 0.02  # upwards, as commanded
    assert (reward, terminated, truncated, info) == (0.0, False, False, {"success": False})


def test_the_bddl_goal_state_is_detected_as_success(suite_env):
    _, env = suite_env
    env.reset(seed=0, options={INIT_STATE_OPTION: 0})
    assert not env.goal_holds()
    for predicate in env.libero_env.parsed_problem["goal_state"]:
        _make_predicate_hold(env.libero_env, predicate)
    assert _settle(env) is True
    obs, reward, terminated, truncated, info = env.step(DUMMY_ACTION)
    assert (reward, terminated, truncated, info) == (1.0, True, False, {"success": True})


def test_same_seed_and_actions_give_the_same_episode_and_the_budget_truncates_it(backend):
    env = backend.make_env(SUITE_TASKS["libero_10"])

    def episode_hash(seed: int) -> str:
        obs, _ = env.reset(seed=seed, options={INIT_STATE_OPTION: 2})
        digest = hashlib.sha256(obs[OBS_OBJECT_POSES].tobytes())
        for action in np.random.default_rng(0).uniform(-1, 1, (8, 7)):
            obs, *_ = env.step(action)
            digest.update(obs[OBS_STATE].tobytes() + obs[OBS_OBJECT_POSES].tobytes())
        return digest.hexdigest()

    try:
        assert episode_hash(7) == episode_hash(7)
        # the index wraps around like cycling through the evaluation states
        env.reset(seed=0, options={INIT_STATE_OPTION: 53, SETTLE_STEPS_OPTION: 0})
        np.testing.assert_array_equal(env.sim_state()[1:], env.init_states[3][1:])
        # the suite's budget truncates the episode (skip ahead: the budget is what is tested)
        env._steps = SUITE_MAX_STEPS["libero_10"] - 2
        assert env.step(DUMMY_ACTION)[3] is False
        _, _, terminated, truncated, _ = env.step(DUMMY_ACTION)
        assert (terminated, truncated) == (False, True)
    finally:
        env.close()


# --- goals with more than one part, cameras, vector envs -------------------------------

def test_half_of_a_two_part_goal_is_not_success(backend):
    env = backend.make_env(SUITE_TASKS["libero_10"])
    try:
        env.reset(seed=0, options={INIT_STATE_OPTION: 0})
        stove_on, pot_on_stove = env.libero_env.parsed_problem["goal_state"]
        _make_predicate_hold(env.libero_env, stove_on)
        assert _settle(env, 5) is False
        _make_predicate_hold(env.libero_env, pot_on_stove)
        assert _settle(env) is True
    finally:
        env.close()


@pytest.mark.skipif(not gl_available(), reason="no OpenGL backend for camera images")
def test_camera_mode_returns_both_cameras_upright(backend):
    env = backend.make_env(SUITE_TASKS["libero_goal"], images=True, image_size=64)
    try:
        obs, _ = env.reset(seed=0, options={INIT_STATE_OPTION: 0, SETTLE_STEPS_OPTION: 0})
        assert env.observation_space.contains(obs)
        for key in (OBS_AGENTVIEW_IMAGE, OBS_WRIST_IMAGE):
            assert obs[key].shape == (64, 64, 3) and obs[key].dtype == np.uint8
            assert obs[key].std() > 5  # a scene, not a blank frame
        raw = env.libero_env._get_observations()["agentview_image"]
        np.testing.assert_array_equal(obs[OBS_AGENTVIEW_IMAGE], raw[::-1, ::-1])
        # render() draws the same camera (software GL may differ in a few edge pixels)
        differs = np.abs(env.render().astype(int) - obs[OBS_AGENTVIEW_IMAGE]).max(axis=-1) > 0
        assert differs.mean() < 0.01
    finally:
        env.close()


def test_vector_env_steps_copies_of_one_task(backend):
    envs = backend.make_vector_env(SUITE_TASKS["libero_goal"], 2, asynchronous=False)
    try:
        obs, info = envs.reset(seed=0, options={INIT_STATE_OPTION: 0})
        assert obs[OBS_STATE].shape == (2, 8)
        obs, reward, terminated, truncated, info = envs.step(np.tile(DUMMY_ACTION, (2, 1)))
        assert reward.shape == (2,) and not terminated.any()
    finally:
        envs.close()
