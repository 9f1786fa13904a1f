"""Speed of the tabletop backend (run with ``pytest tests/benchmarks --benchmark-enable``).

* control steps/s of one state-only env against a bare ``mj_step`` loop on the same
  compiled model with the same substeps and the same actuator commands (bars: overhead
  <= 1.3x, >= 2,000 control steps/s on one core);
* vector env throughput with 1 and 2 subprocess workers;
* offscreen render frames/s at 64 and 128 px (skipped without a GL backend).

The action sequence is a real teleoperated demonstration, so grasps, contacts and
carried objects are part of what is timed.
"""

from __future__ import annotations

import time

import mujoco
import numpy as np
import pytest

from diffrl_eval.constants import OBS_AGENTVIEW_IMAGE
from diffrl_eval.envs.tabletop import INIT_STATE_OPTION, TabletopBackend, gl_available
from diffrl_eval.envs.tabletop.env import SUBSTEPS
from diffrl_eval.envs.tabletop.rendering import CameraRig
from generators.human import HumanGenerator

TASK = "goal_red_cube_in_bowl"
BACKEND = TabletopBackend()
REPEATS = 5


def demonstration_actions(n_episodes: int = 6) -> list[np.ndarray]:
    generator = HumanGenerator(BACKEND)
    return [ep.actions for ep in generator.generate(BACKEND.task(TASK), n_episodes, seed=0)]


def _env_pass(env, episodes: list[np.ndarray]) -> int:
    steps = 0
    for index, actions in enumerate(episodes):
        env.reset(options={INIT_STATE_OPTION: index})
        for action in actions:
            env.step(action)
        steps += len(actions)
    return steps


def _recorded_controls(env, episodes: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per episode: the start qpos and the actuator commands the env sent each step."""
    recorded = []
    for index, actions in enumerate(episodes):
        env.reset(options={INIT_STATE_OPTION: index})
        qpos = env.data.qpos.copy()
        controls = []
        for action in actions:
            env.step(action)
            controls.append(env.data.ctrl.copy())
        recorded.append((qpos, np.array(controls)))
    return recorded


def _bare_pass(model, data, recorded) -> int:
    steps = 0
    for qpos, controls in recorded:
        mujoco.mj_resetData(model, data)
        data.qpos[:] = qpos
        for ctrl in controls:
            data.ctrl[:] = ctrl
            mujoco.mj_step(model, data, nstep=SUBSTEPS)
        steps += len(controls)
    return steps


def _best_rate(run) -> float:
    best = 0.0
    for _ in range(REPEATS):
        start = time.perf_counter()
        steps = run()
        best = max(best, steps / (time.perf_counter() - start))
    return best


def test_env_step_overhead_over_bare_mj_step(benchmark):
    episodes = demonstration_actions()
    env = BACKEND.make_env(TASK)
    recorded = _recorded_controls(env, episodes)
    # the bare loop gets its own model and data, so neither run warms the other's caches
    bare_model = env.model.__copy__()
    bare_data = mujoco.MjData(bare_model)

    env_rate = _best_rate(lambda: _env_pass(env, episodes))
    bare_rate = _best_rate(lambda: _bare_pass(bare_model, bare_data, recorded))
    benchmark.pedantic(_env_pass, args=(env, episodes), rounds=3, iterations=1)
    overhead = bare_rate / env_rate
    benchmark.extra_info.update(env_steps_per_s=round(env_rate), bare_steps_per_s=round(
        bare_rate), overhead=round(overhead, 3))
    print(f"\nenv {env_rate:.0f} control steps/s, bare mj_step {bare_rate:.0f}/s, "
          f"overhead {overhead:.2f}x")
    assert env_rate >= 2000
    assert overhead <= 1.3


def _vector_rate(n_envs: int, steps: int = 300) -> float:
    """Best-of-3 env steps per second (all workers together) of an async vector env."""
    vec = BACKEND.make_vector_env(TASK, n_envs)
    actions = np.zeros((n_envs, 7), dtype=np.float32)
    actions[:, 0] = 0.2
    try:
        vec.reset(seed=list(range(n_envs)))
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(steps):
                vec.step(actions)
            best = max(best, n_envs * steps / (time.perf_counter() - start))
        return best
    finally:
        vec.close()


def test_vector_env_scales_from_one_to_two_workers(benchmark):
    one = _vector_rate(1)
    two = benchmark.pedantic(_vector_rate, args=(2,), rounds=1, iterations=1)
    benchmark.extra_info.update(one_worker_steps_per_s=round(one),
                                two_workers_steps_per_s=round(two), scaling=round(two / one, 2))
    print(f"\n1 worker {one:.0f} env steps/s, 2 workers {two:.0f} env steps/s, "
          f"scaling {two / one:.2f}x")
    assert two > one  # on 2 cores the parent process competes with the two workers


@pytest.mark.skipif(not gl_available(), reason="no OpenGL backend")
@pytest.mark.parametrize("size", [64, 128])
def test_render_frames_per_second(benchmark, size):
    env = BACKEND.make_env(TASK)
    env.reset(options={INIT_STATE_OPTION: 0})
    rig = CameraRig(env.model, size)
    try:
        frames = 100
        benchmark.pedantic(lambda: [rig.render(env.data, OBS_AGENTVIEW_IMAGE)
                                    for _ in range(frames)], rounds=3, iterations=1)
    finally:
        rig.close()
    rate = frames / benchmark.stats.stats.min
    benchmark.extra_info.update(size=size, frames_per_s=round(rate))
    print(f"\n{size} px: {rate:.0f} frames/s")
    assert rate >= 100
