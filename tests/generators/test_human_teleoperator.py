"""The simulated teleoperator (``human`` generator on tabletop)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from diffrl_eval.constants import (
    ACTION_MOTION_DIMS,
    GRIPPER_ACTION_INDEX,
    OBS_STATE,
    SIMULATED_TELEOP_LABEL,
)
from diffrl_eval.envs.tabletop import INIT_STATE_OPTION, TabletopBackend
from diffrl_eval.envs.tabletop.tasks import TASKS
from diffrl_eval.errors import UserError
from generators.human import HumanConfig, HumanGenerator
from generators.human.operator import Operator, OperatorStyle
from generators.human.skills import Waypoint
from generators.human.teleoperator import draw_strategy

BACKEND = TabletopBackend()
INIT_STATES_PER_TASK = 3  # all 50 are measured by tests/benchmarks/teleop_success.py


def episodes(task_id: str, n: int, seed: int = 0, **config):
    generator = HumanGenerator(BACKEND, HumanGenerator.make_config(config))
    return list(generator.generate(BACKEND.task(task_id), n, seed))


def digest(eps) -> str:
    h = hashlib.sha256()
    for ep in eps:
        for array in (ep.states, ep.actions, ep.rewards, ep.successes):
            h.update(array.tobytes())
    return h.hexdigest()


def no_op_mask(actions: np.ndarray) -> np.ndarray:
    """The design's no-op rule, computed independently of the metrics package."""
    still = np.linalg.norm(actions[:, :ACTION_MOTION_DIMS], axis=1) < 1e-4
    grip = actions[:, GRIPPER_ACTION_INDEX]
    same_grip = np.r_[False, grip[1:] == grip[:-1]]
    return still & same_grip


@pytest.mark.parametrize("task_id", list(TASKS))
def test_teleoperator_solves_every_task_from_its_fixed_init_states(task_id):
    eps = episodes(task_id, INIT_STATES_PER_TASK)
    assert [ep.success for ep in eps] == [True] * INIT_STATES_PER_TASK
    for ep in eps:  # success ends the episode: the last step is the first success
        assert ep.successes[-1] and not ep.successes[:-1].any()
        assert ep.rewards[-1] == 1.0 and ep.length <= BACKEND.task(task_id).max_steps


def test_same_seed_gives_identical_demonstrations_and_other_seeds_differ():
    assert digest(episodes("goal_red_cube_in_bowl", 3, seed=5)) == digest(
        episodes("goal_red_cube_in_bowl", 3, seed=5))
    assert digest(episodes("goal_red_cube_in_bowl", 3, seed=5)) != digest(
        episodes("goal_red_cube_in_bowl", 3, seed=6))


def test_recorded_states_are_those_observed_before_each_action():
    task_id = "spatial_front_cube_on_plate"
    (ep,) = episodes(task_id, 1, seed=3)
    env = BACKEND.make_env(task_id)
    obs, _ = env.reset(seed=ep.seed, options={INIT_STATE_OPTION: 0})
    for t, action in enumerate(ep.actions):
        np.testing.assert_array_equal(ep.states[t], obs[OBS_STATE])
        np.testing.assert_array_equal(ep.eef_pos[t], obs[OBS_STATE][:3])
        obs, reward, _, _, info = env.step(action)
        assert (reward, info["success"]) == (ep.rewards[t], ep.successes[t])


def test_reaction_pauses_are_exact_zero_motion_no_ops():
    eps = episodes("object_blue_can_in_basket", 4, seed=1)
    masks = [no_op_mask(ep.actions) for ep in eps]
    assert sum(int(m.sum()) for m in masks) > 0
    for ep, mask in zip(eps, masks, strict=True):
        assert (ep.actions[mask, :ACTION_MOTION_DIMS] == 0.0).all()
    without = episodes("object_blue_can_in_basket", 4, seed=1, pause_probability=0.0)
    # with no pauses only the gripper-settling waits remain, so fewer no-ops
    assert sum(int(no_op_mask(ep.actions).sum()) for ep in without) < sum(
        int(m.sum()) for m in masks)


def test_demonstrations_are_multi_modal_in_grasp_yaw():
    task_id = "spatial_left_cube_on_plate"
    eps = episodes(task_id, 12, seed=2)
    init_states = BACKEND.init_states(task_id)
    across_faces = []
    for i, ep in enumerate(eps):
        close = int(np.argmax(ep.actions[:, GRIPPER_ACTION_INDEX] > 0))
        eef_yaw = ep.states[close, 5]  # axis-angle z of a pointing-down gripper = yaw
        cube_yaw = init_states[i][2]  # green_cube_a is the scene's first object
        relative = (eef_yaw - cube_yaw) % np.pi  # a parallel gripper is symmetric by pi
        across_faces.append(abs(relative - np.pi / 2) > np.pi / 4)
    # some grasps close across one pair of faces, some across the other
    assert 0 < sum(across_faces) < len(eps)


def test_strategies_cover_approach_sides_yaw_modes_and_sub_goal_orders():
    rng = np.random.default_rng(0)
    goal = TASKS["long_both_cubes_in_basket"].goal
    drawn = [draw_strategy(rng, goal) for _ in range(60)]
    assert {s.approach_side for s in drawn} == {-1, 0, 1}
    assert {s.grasp_yaw_mode for s in drawn} == {0, 1, 2}
    assert {s.reverse_order for s in drawn} == {False, True}
    single = TASKS["goal_open_drawer"].goal
    assert not any(draw_strategy(rng, single).reverse_order for _ in range(20))


def _style(**overrides) -> OperatorStyle:
    base = {"pause_probability": 0.0, "pause_steps": (3, 3), "speed": 0.8,
            "overshoot_probability": 0.0, "overshoot_distance": (0.02, 0.02),
            "tremor_amplitude": 0.06, "tremor_smoothing": 0.85}
    return OperatorStyle(**{**base, **overrides})


def test_operator_overshoots_free_space_moves_along_the_motion_direction():
    operator = Operator(_style(overshoot_probability=1.0), np.random.default_rng(0))
    waypoint = Waypoint((0.1, 0.0, 0.15), 0.0, -1.0, transport=True)
    pause, aim = operator.start(waypoint, np.array([-0.1, 0.0, 0.15]))
    assert pause == 0
    np.testing.assert_allclose(aim, [0.12, 0.0, 0.15])
    precise = Waypoint((0.1, 0.0, 0.02), 0.0, -1.0)
    assert operator.start(precise, np.array([-0.1, 0.0, 0.15]))[1] is None


def test_operator_tremor_is_low_frequency_noise_on_the_motion():
    operator = Operator(_style(), np.random.default_rng(0))
    here = np.zeros(3)
    motion = np.array([operator.move_action(here, 0.0, -1.0, here)[:3] for _ in range(2000)])
    assert 0.04 < motion.std() < 0.08
    lag1 = np.corrcoef(motion[:-1, 0], motion[1:, 0])[0, 1]
    assert lag1 > 0.7


def test_failed_attempts_are_kept_with_success_false():
    (ep,) = episodes("goal_red_cube_in_bowl", 1, speed=(0.02, 0.02))
    assert not ep.success
    assert ep.length == BACKEND.task("goal_red_cube_in_bowl").max_steps


def test_generator_is_labelled_simulated_teleoperation():
    generator = HumanGenerator(BACKEND)
    assert generator.name == "human"
    assert generator.label() == SIMULATED_TELEOP_LABEL
    assert generator.description


@pytest.mark.parametrize(("overrides", "message"), [
    ({"pause_probability": 1.5}, "pause_probability"),
    ({"speed": (0.9, 0.5)}, "speed"),
    ({"tremor_smoothing": 1.0}, "tremor_smoothing"),
    ({"bogus": 1}, "unknown option"),
])
def test_nonsense_configuration_is_a_user_error(overrides, message):
    with pytest.raises(UserError, match=message):
        HumanGenerator.make_config(overrides)


def test_non_positive_episode_count_is_a_user_error():
    with pytest.raises(UserError, match="must be positive"):
        episodes("goal_open_drawer", 0)


def test_config_round_trips_into_a_manifest_dict():
    config = HumanGenerator(BACKEND).config_dict()
    assert config["pause_steps"] == (3, 10) and config["use_init_states"] is True
    assert isinstance(HumanGenerator(BACKEND).config, HumanConfig)
