"""The tabletop task table, suites, fixed initial states and backend errors."""

from __future__ import annotations

import numpy as np
import pytest

from diffrl_eval import registry
from diffrl_eval.envs.tabletop import TabletopBackend
from diffrl_eval.envs.tabletop.init_states import (
    N_INIT_STATES,
    load_init_states,
    sample_init_states,
)
from diffrl_eval.envs.tabletop.predicates import subgoals
from diffrl_eval.envs.tabletop.tasks import PRETRAIN, SUITES, TASKS, suite_tasks
from diffrl_eval.errors import UserError

SMALL_SUITES = [s for s in SUITES if s != PRETRAIN]


def test_the_backend_lists_the_five_libero_shaped_suites():
    assert TabletopBackend().suites() == [
        "tabletop-spatial", "tabletop-object", "tabletop-goal", "tabletop-long", "tabletop-90",
    ]


@pytest.mark.parametrize("suite", SMALL_SUITES)
def test_each_small_suite_has_at_least_five_tasks(suite):
    assert len(TabletopBackend().tasks(suite)) >= 5


def test_pretraining_suite_is_larger_and_disjoint_from_the_small_suites():
    pretrain = suite_tasks(PRETRAIN)
    assert len(pretrain) >= 20
    small = [t for s in SMALL_SUITES for t in suite_tasks(s)]
    assert not {t.instruction for t in pretrain} & {t.instruction for t in small}
    assert not {t.goal for t in pretrain} & {t.goal for t in small}


def test_spatial_tasks_share_their_objects_and_object_tasks_share_their_goal_kind():
    spatial = suite_tasks("tabletop-spatial")
    assert len({t.objects for t in spatial}) == 1
    objects = suite_tasks("tabletop-object")
    assert len({type(t.goal) for t in objects}) == 1
    assert len({t.goal.item for t in objects}) == len(objects)


def test_goal_tasks_share_one_scene_and_long_tasks_have_two_stages():
    assert len({t.objects for t in suite_tasks("tabletop-goal")}) == 1
    assert all(len(subgoals(t.goal)) == 2 for t in suite_tasks("tabletop-long"))


def test_instructions_name_every_object_the_goal_moves():
    for task in TASKS.values():
        for name in task.goal.objects():
            spec = task.spec(name)
            noun = "drawer" if spec.kind.value == "cabinet" else spec.kind.value
            assert noun in task.instruction, (task.task_id, name)


@pytest.mark.parametrize("task_id", list(TASKS))
def test_stored_init_states_regenerate_bit_for_bit(task_id):
    stored = load_init_states(task_id)
    assert stored.shape == (N_INIT_STATES, 3 * len(TASKS[task_id].objects) + 1)
    np.testing.assert_array_equal(stored, sample_init_states(TASKS[task_id]))


def test_init_states_are_distinct_and_read_only():
    states = TabletopBackend().init_states("goal_open_drawer")
    assert len(np.unique(states, axis=0)) == N_INIT_STATES
    with pytest.raises(ValueError):
        states[0, 0] = 1.0


def test_task_specs_carry_the_backend_and_suite_budget():
    spec = TabletopBackend().task("long_both_cubes_in_basket")
    assert (spec.backend, spec.suite, spec.max_steps) == ("tabletop", "tabletop-long", 520)


@pytest.mark.parametrize(("call", "message"), [
    (lambda b: b.tasks("tabletop-nope"), "unknown tabletop suite 'tabletop-nope'"),
    (lambda b: b.task("no_such_task"), "unknown task 'no_such_task'"),
    (lambda b: b.make_env("no_such_task"), "unknown task 'no_such_task'"),
    (lambda b: b.make_vector_env("goal_open_drawer", 0), "n_envs must be positive"),
    (lambda b: b.make_env("goal_open_drawer", image_size=0), "image size must be positive"),
])
def test_bad_input_is_one_line_user_error(call, message):
    with pytest.raises(UserError, match=message) as caught:
        call(TabletopBackend())
    assert "\n" not in str(caught.value)


def test_backend_is_found_through_the_env_registry_when_registered():
    registry.envs.register("tabletop")(TabletopBackend)
    try:
        assert registry.envs.load("tabletop") is TabletopBackend
    finally:
        registry.envs.unregister("tabletop")


@pytest.mark.parametrize("suite", SUITES)
def test_no_fixed_init_state_already_satisfies_its_goal(suite):
    from diffrl_eval.envs.tabletop import INIT_STATE_OPTION

    backend = TabletopBackend()
    for spec in backend.tasks(suite):
        env = backend.make_env(spec.task_id)
        for index in range(N_INIT_STATES):
            _, info = env.reset(options={INIT_STATE_OPTION: index})
            assert not info["success"], (spec.task_id, index)
