"""Speed of the libero backend (run with ``pytest tests/benchmarks --benchmark-enable``).

* control steps/s of one state-only env (hf-libero's robosuite env behind the project's
  interface) against a bare ``mj_step`` loop on a copy of the same compiled model that
  replays the same actuator commands substep by substep: what robosuite's controller,
  observables and LIBERO's goal checks cost on top of the physics;
* the time of one reset (hard reset, official initial state, 10 settle steps);
* control steps/s with the two 128 px cameras (skipped without a GL backend).

The actions are real LIBERO episodes: a scripted push that closes the open drawer of
KITCHEN_SCENE10 (contacts and an articulated fixture), and random motion on a libero_10
scene full of objects. Needs the ``libero`` extra.
"""

from __future__ import annotations

import time

import mujoco
import numpy as np
import pytest

from diffrl_eval.constants import OBS_EEF_POS
from diffrl_eval.envs.base import get_backend
from diffrl_eval.envs.libero import INIT_STATE_OPTION, runtime
from diffrl_eval.envs.tabletop import gl_available

pytestmark = pytest.mark.skipif(not runtime.ready(), reason="needs the libero extra")

DRAWER_TASK = "KITCHEN_SCENE10_close_the_top_drawer_of_the_cabinet"
CLUTTER_TASK = "LIVING_ROOM_SCENE2_put_both_the_alphabet_soup_and_the_tomato_sauce_in_the_basket"
REPEATS = 3


def drawer_push_actions(env) -> np.ndarray:
    obs, _ = env.reset(seed=0, options={INIT_STATE_OPTION: 0})
    x = env.libero_env.object_states_dict["wooden_cabinet_1_top_region"].get_geom_state()["pos"][0]
    waypoints = [np.array([x, 0.06, 1.20]), np.array([x, 0.06, 1.06]), np.array([x, -0.25, 1.06])]
    target, actions = 0, []
    for _ in range(120):
        error = waypoints[target] - obs[OBS_EEF_POS]
        if np.linalg.norm(error) < 0.01 and target < len(waypoints) - 1:
            target += 1
            error = waypoints[target] - obs[OBS_EEF_POS]
        action = np.zeros(7)
        action[:3] = np.clip(10 * error, -1, 1)
        action[6] = 1.0
        actions.append(action)
        obs, *_ = env.step(action)
    return np.array(actions)


def _env_pass(env, actions: np.ndarray) -> float:
    """Control steps per second of one episode, the reset not counted."""
    env.reset(seed=0, options={INIT_STATE_OPTION: 0})
    begin = time.perf_counter()
    for action in actions:
        env.step(action)
    return len(actions) / (time.perf_counter() - begin)


def _recorded_substeps(env, actions: np.ndarray):
    """The state the episode starts from and the actuator commands of every physics step."""
    env.reset(seed=0, options={INIT_STATE_OPTION: 0})
    sim = env.libero_env.sim
    start = (sim.data._data.qpos.copy(), sim.data._data.qvel.copy())
    controls = []
    original_step = sim.step

    def recording_step(*args, **kwargs):
        controls.append(sim.data._data.ctrl.copy())
        return original_step(*args, **kwargs)

    sim.step = recording_step
    try:
        for action in actions:
            env.step(action)
    finally:
        del sim.step
    return start, np.array(controls)


def _bare_pass(model, data, start, controls, n_control_steps: int) -> float:
    """Control steps per second of the same physics without the env around it."""
    mujoco.mj_resetData(model, data)
    data.qpos[:], data.qvel[:] = start
    begin = time.perf_counter()
    for ctrl in controls:
        data.ctrl[:] = ctrl
        mujoco.mj_step(model, data)
    return n_control_steps / (time.perf_counter() - begin)


def _best_rate(run) -> float:
    return max(run() for _ in range(REPEATS))


@pytest.mark.parametrize("task", [DRAWER_TASK, CLUTTER_TASK])
def test_state_only_step_rate_against_bare_mj_step(benchmark, task):
    backend = get_backend("libero")
    env = backend.make_env(task)
    try:
        if task == DRAWER_TASK:
            actions = drawer_push_actions(env)
        else:
            actions = np.random.default_rng(0).uniform(-1, 1, (120, 7))
        start, controls = _recorded_substeps(env, actions)
        assert len(controls) == 25 * len(actions)  # 20 Hz control, 2 ms physics
        model = env.libero_env.sim.model._model.__copy__()
        data = mujoco.MjData(model)
        env_rate = _best_rate(lambda: _env_pass(env, actions))
        bare_rate = _best_rate(lambda: _bare_pass(model, data, start, controls, len(actions)))
        benchmark.pedantic(_env_pass, args=(env, actions), rounds=1, iterations=1)
    finally:
        env.close()
    overhead = bare_rate / env_rate
    benchmark.extra_info.update(env_steps_per_s=round(env_rate, 1),
                                bare_steps_per_s=round(bare_rate, 1), overhead=round(overhead, 2))
    print(f"\n{task[:40]}: env {env_rate:.1f} control steps/s, bare mj_step "
          f"{bare_rate:.1f}/s, overhead {overhead:.2f}x")
    assert env_rate >= 10
    assert overhead >= 1.0  # the env runs the same physics plus its controller


def test_reset_time(benchmark):
    env = get_backend("libero").make_env(CLUTTER_TASK)
    try:
        benchmark.pedantic(lambda: env.reset(seed=0, options={INIT_STATE_OPTION: 0}), rounds=5,
                           iterations=1, warmup_rounds=1)
    finally:
        env.close()
    seconds = benchmark.stats.stats.min
    benchmark.extra_info.update(reset_s=round(seconds, 2))
    print(f"\nreset (hard reset, initial state, 10 settle steps): {seconds:.2f} s")
    assert seconds < 10


@pytest.mark.skipif(not gl_available(), reason="no OpenGL backend")
def test_camera_step_rate(benchmark):
    env = get_backend("libero").make_env(CLUTTER_TASK, images=True, image_size=128)
    actions = np.random.default_rng(0).uniform(-1, 1, (30, 7))
    try:
        env.reset(seed=0, options={INIT_STATE_OPTION: 0})

        def run():
            for action in actions:
                env.step(action)

        benchmark.pedantic(run, rounds=2, iterations=1)
    finally:
        env.close()
    rate = len(actions) / benchmark.stats.stats.min
    benchmark.extra_info.update(steps_per_s=round(rate, 2))
    print(f"\ntwo 128 px cameras: {rate:.1f} control steps/s")
    assert rate >= 0.5
