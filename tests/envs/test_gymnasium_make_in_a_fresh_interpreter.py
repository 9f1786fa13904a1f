"""``gymnasium.make("tabletop/<task>-v0")`` works in a fresh interpreter that never imported
diffrl_eval; the instruction comes with the reset; LeRobot's observation keys on request.

The fresh interpreters are subprocesses. The start-up hook is loaded the way an installed
wheel loads it: its ``.pth`` file is processed by ``site.addsitedir`` (what ``site`` does for
site-packages at start-up) from a folder laid out as the wheel's top level, so the test does
not depend on how this checkout happens to be installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import diffrl_eval.envs as envs_package
from diffrl_eval import constants as C
from diffrl_eval.envs import gym_registration
from diffrl_eval.envs.libero.runtime import installed as libero_installed
from diffrl_eval.envs.tabletop import gym_id
from diffrl_eval.envs.tabletop.rendering import gl_available
from diffrl_eval.envs.tabletop.tasks import TASKS
from diffrl_eval.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
ENVS_DIR = Path(envs_package.__file__).parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FORCE_INCLUDE = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
HEAVY = ("mujoco", "torch", "libero", "robosuite")


@pytest.fixture(scope="module")
def wheel_top(tmp_path_factory) -> Path:
    """A folder holding what the wheel puts at the top of site-packages (the force-include
    map of pyproject.toml): the ``.pth`` file and the hook module under its shipped name."""
    top = tmp_path_factory.mktemp("site")
    for source, target in FORCE_INCLUDE.items():
        shutil.copy(ROOT / source, top / target)
    return top


def fresh_python(code: str, wheel_top: Path | None = None) -> dict:
    """Run ``code`` in a new interpreter (site dir ``wheel_top`` added first, as at start-up)
    and return the JSON it prints last."""
    prelude = "import json, site, sys\n"
    if wheel_top is not None:
        prelude += f"site.addsitedir({str(wheel_top)!r})\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", prelude + code], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_listed_tabletop_ids_are_the_task_table():
    assert gym_registration.TABLETOP_TASK_IDS == tuple(TASKS)


def test_the_wheel_ships_a_pth_line_that_imports_the_hook_under_its_shipped_name():
    pth = [target for target in FORCE_INCLUDE.values() if target.endswith(".pth")]
    modules = {Path(target).stem for target in FORCE_INCLUDE.values() if target.endswith(".py")}
    assert len(pth) == 1 and len(modules) == 1
    line = (ENVS_DIR / pth[0]).read_text().strip()
    assert line == f"import {modules.pop()}"


def test_start_up_imports_nothing_of_the_project_and_gymnasium_then_knows_every_task(wheel_top):
    out = fresh_python(
        "before = sorted(m for m in ('diffrl_eval', 'numpy', 'gymnasium') if m in sys.modules)\n"
        "import gymnasium\n"
        "ids = sorted(k for k in gymnasium.registry if k.startswith('tabletop/'))\n"
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "print(json.dumps({'before': before, 'ids': ids, 'heavy': heavy}))\n", wheel_top)
    assert out["before"] == []
    assert out["ids"] == sorted(gym_id(task_id) for task_id in TASKS)
    assert out["heavy"] == []


def test_every_tabletop_task_is_made_and_reset_by_gymnasium_alone(wheel_top):
    out = fresh_python(
        "import gymnasium\n"
        "made = {}\n"
        "for env_id in [k for k in gymnasium.registry if k.startswith('tabletop/')]:\n"
        "    env = gymnasium.make(env_id)\n"
        "    obs, info = env.reset(seed=0, options={'init_state_index': 0})\n"
        "    obs, reward, terminated, truncated, _ = env.step(env.action_space.sample() * 0)\n"
        "    made[env_id] = [info['instruction'], sorted(obs), env.unwrapped.task.task_id]\n"
        "    env.close()\n"
        "print(json.dumps(made))\n", wheel_top)
    assert len(out) == len(TASKS)
    for task_id, task in TASKS.items():
        instruction, keys, made_task = out[gym_id(task_id)]
        assert (instruction, made_task) == (task.instruction, task_id)
        assert keys == sorted([C.OBS_STATE, C.OBS_EEF_POS, C.OBS_OBJECT_POSES])


def test_gymnasium_module_syntax_registers_through_import_diffrl_eval_without_the_hook():
    out = fresh_python(
        "sys.meta_path[:] = [f for f in sys.meta_path  # an installed hook, if any, disarmed\n"
        "                    if not getattr(f, '_diffrl_eval_registers_gymnasium_envs', 0)]\n"
        "import gymnasium\n"
        "assert not any(k.startswith('tabletop/') for k in gymnasium.registry)\n"
        "env = gymnasium.make('diffrl_eval:tabletop/goal_open_drawer-v0')\n"
        "_, info = env.reset(seed=0)\n"
        "print(json.dumps(info))\n")
    assert out == {"success": False, "instruction": TASKS["goal_open_drawer"].instruction}


def test_a_failing_registration_is_a_warning_and_gymnasium_still_imports(wheel_top):
    out = fresh_python(
        "import warnings\n"
        "sys.modules['diffrl_eval.envs.gym_registration'] = None  # unimportable\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import gymnasium\n"
        "print(json.dumps({'warnings': [str(w.message) for w in caught],\n"
        "                  'cartpole': 'CartPole-v1' in gymnasium.registry}))\n", wheel_top)
    assert out["cartpole"]
    assert any(m.startswith("diffrl-eval environments were not registered") for m in
               out["warnings"])


@pytest.mark.skipif(not libero_installed(), reason="the libero extra is not installed")
def test_with_the_libero_extra_every_libero_task_is_registered_at_start_up(wheel_top):
    from diffrl_eval.envs.libero.tasks import all_tasks

    assert gym_registration.libero_task_ids() == list(all_tasks())
    out = fresh_python(
        "import gymnasium\n"
        "ids = [k for k in gymnasium.registry if k.startswith('libero/')]\n"
        "print(json.dumps({'ids': ids, 'torch': 'torch' in sys.modules}))\n", wheel_top)
    assert len(out["ids"]) == 130 and not out["torch"]


def test_the_gymnasium_plugin_entry_points_register_in_their_own_namespace():
    """gymnasium 0.26-0.29 call each ``gymnasium.envs`` entry point inside a namespace
    context named after it; the ids must not follow another plug-in's context."""
    group = PYPROJECT["project"]["entry-points"]["gymnasium.envs"]
    assert group["tabletop"].endswith(":register_tabletop")
    with gym.envs.registration.namespace("someone_else"):
        gym_registration.register_tabletop()
    assert all(gym_id(task_id) in gym.registry for task_id in TASKS)
    assert not any(k.startswith("someone_else/") for k in gym.registry)


def test_lerobot_keys_rename_the_observation_and_carry_the_instruction():
    native = gym.make(gym_id("goal_open_drawer"))
    lerobot = gym.make(gym_id("goal_open_drawer"), observation_keys="lerobot")
    obs, _ = native.reset(seed=4)
    renamed, info = lerobot.reset(seed=4)
    assert sorted(renamed) == sorted([C.LEROBOT_STATE, C.LEROBOT_ENVIRONMENT_STATE,
                                      C.LEROBOT_TASK])
    assert lerobot.observation_space.contains(renamed)
    np.testing.assert_array_equal(renamed[C.LEROBOT_STATE], obs[C.OBS_STATE])
    np.testing.assert_array_equal(renamed[C.LEROBOT_ENVIRONMENT_STATE], obs[C.OBS_OBJECT_POSES])
    assert renamed[C.LEROBOT_TASK] == info["instruction"] == "open the drawer"
    action = np.array([0.3, 0, 0, 0, 0, 0, -1], dtype=np.float32)
    stepped, *_ = lerobot.step(action)
    native_stepped, *_ = native.step(action)
    np.testing.assert_array_equal(stepped[C.LEROBOT_STATE], native_stepped[C.OBS_STATE])


@pytest.mark.skipif(not gl_available(), reason="no OpenGL backend for camera images")
def test_lerobot_keys_name_the_cameras_as_the_lerobot_export_does():
    env = gym.make(gym_id("goal_open_drawer"), observation_keys="lerobot", images=True,
                   image_size=32)
    obs, _ = env.reset(seed=0)
    for key in C.LEROBOT_CAMERA_KEYS.values():
        assert obs[key].shape == (32, 32, 3) and obs[key].dtype == np.uint8
    assert env.observation_space.contains(obs)
    env.close()


def test_an_unknown_observation_key_style_is_refused_naming_the_choices():
    with pytest.raises(UserError, match=r"unknown observation_keys 'openpi'; valid choices: "
                                        r"lerobot, native"):
        gym.make(gym_id("goal_open_drawer"), observation_keys="openpi")


def test_an_id_beside_an_unversioned_one_of_the_same_name_is_refused_as_gymnasium_does():
    gym.register(id="tabletop_probe/clash", entry_point="gymnasium.envs.classic_control:CartPoleEnv")
    try:
        with pytest.raises(gym.error.RegistrationError, match="tabletop_probe/clash-v0"):
            gym_registration.register_tasks("tabletop_probe", ["clash"], "x:y")
        assert "tabletop_probe/clash-v0" not in gym.registry
    finally:
        del gym.registry["tabletop_probe/clash"]
