"""RL experts clone LIBERO's own demonstration files: the import keeps each demo's first
simulator state, and the replay starts there.

LIBERO's files are not reachable offline, so the demonstrations are made here in the real
env and written the way LIBERO's dataset script writes its files: each teleoperated demo
reset without settle steps, its first few steps left out (gripper open, the arm drifting),
per step the flattened MuJoCo state before the action and the observation after it, the
scene's MJCF, problem_info/env_args attributes, LIBERO's observation names, and no seed or
initial-state index anywhere. The scripted teleoperator closes the open top drawer of
KITCHEN_SCENE10 (libero_90) as in tests/export/test_libero_hdf5.py. Camera images are left out:
the replay does not read them. Needs the ``libero`` extra; skipped without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli

from diffrl_eval import constants as C
from diffrl_eval.cli import main
from diffrl_eval.dataset import Episode, load_dataset
from diffrl_eval.dataset.replay import RECORDED_START_TOLERANCE
from diffrl_eval.envs.base import get_backend
from diffrl_eval.envs.libero import INIT_STATE_OPTION, SETTLE_STEPS_OPTION, runtime
from diffrl_eval.errors import DatasetError
from tests.envs.libero_drawer import TASK, drawer_env_fixture, drawer_push

pytestmark = pytest.mark.skipif(
    not runtime.ready(),
    reason="needs the libero extra: pip install -e '.[libero]' && diffrl-eval doctor --install-libero",
)

h5py = pytest.importorskip("h5py")

torch.set_num_threads(1)

SUITE = "libero_90"
SKIPPED_STEPS = 5  # LIBERO's dataset script leaves out each demo's first five steps
# the arm's drift during the skipped steps, one per demo: each demo starts elsewhere
LEADS = [(0.6, 0.0, 0.0), (0.0, 0.6, 0.0), (-0.4, -0.4, 0.3)]
TINY_FLAGS = ["--bc-steps", "20", "--demos", str(len(LEADS)), "--iterations", "3",
              "--n-envs", "2", "--batch-size", "10",
              "--option", "ppo.n_steps=3", "--option", "policy.mlp_hidden=[16]",
              "--option", "policy.encoder_hidden=16", "--option", "policy.obs_feature_dim=8"]


def teleoperate(env, *, init_state_index: int, seed: int, lead) -> dict:
    """One demonstration recorded as LIBERO's are (see the module docstring)."""
    obs, _ = env.reset(seed=seed, options={INIT_STATE_OPTION: init_state_index,
                                           SETTLE_STEPS_OPTION: 0})
    for _ in range(SKIPPED_STEPS):
        obs, *_ = env.step(np.array([*lead, 0.0, 0.0, 0.0, -1.0]))
    states, actions, proprio, joints, successes = [], [], [], [], []
    robot, push = env.libero_env.robots[0], drawer_push(env)
    for step in range(150):
        action = push(obs, step)
        states.append(env.sim_state())
        actions.append(action)
        obs, _, terminated, _, info = env.step(action)
        proprio.append(obs[C.OBS_STATE].astype(np.float64))
        joints.append(np.array(robot._joint_positions))
        successes.append(info["success"])
        if terminated:
            break
    assert successes[-1], "the scripted push must close the drawer"
    return {"states": np.array(states), "actions": np.array(actions),
            "proprio": np.array(proprio), "joints": np.array(joints),
            "model_xml": env.model_xml()}


def write_libero_file(path: Path, demos: list[dict], env) -> Path:
    """The demos as LIBERO's dataset script lays out a task's file."""
    from diffrl_eval.export.libero_layout import axis_angle_to_quat

    task = env.task
    bddl = f"chiliocosm/bddl_files/{task.suite}/{task.task_id}.bddl"
    sim_env = env._sim_env
    with h5py.File(path, "w") as handle:
        data = handle.create_group("data")
        data.attrs["env_name"] = type(env.libero_env).__name__
        data.attrs["problem_info"] = json.dumps({
            "problem_name": sim_env.problem_name, "domain_name": sim_env.domain_name,
            "language_instruction": get_backend("libero").task(TASK).instruction,
        })
        data.attrs["macros_image_convention"] = "opengl"
        data.attrs["bddl_file_name"] = bddl
        data.attrs["bddl_file_content"] = Path(task.bddl_file).read_text()
        data.attrs["env_args"] = json.dumps({
            "type": 1, "env_name": type(env.libero_env).__name__,
            "problem_name": sim_env.problem_name, "bddl_file": bddl,
            "env_kwargs": {"robots": ["Panda"], "controller": "OSC_POSE", "control_freq": 20,
                           "camera_heights": 128, "camera_widths": 128},
        })
        for i, demo in enumerate(demos):
            group = data.create_group(f"demo_{i}")
            n = len(demo["actions"])
            ee_pos, ee_ori, gripper = (demo["proprio"][:, :3], demo["proprio"][:, 3:6],
                                       demo["proprio"][:, 6:])
            obs = group.create_group("obs")
            obs["ee_pos"], obs["ee_ori"] = ee_pos, ee_ori
            obs["ee_states"] = np.hstack([ee_pos, ee_ori])
            obs["gripper_states"] = gripper
            obs["joint_states"] = demo["joints"]
            group["actions"] = demo["actions"]
            group["states"] = demo["states"]
            group["robot_states"] = np.hstack([gripper, ee_pos, axis_angle_to_quat(ee_ori)])
            flags = np.zeros(n, dtype=np.uint8)
            flags[-1] = 1
            group["rewards"], group["dones"] = flags, flags.copy()
            group.attrs["num_samples"] = n
            group.attrs["model_file"] = demo["model_xml"]
            group.attrs["init_state"] = demo["states"][0]
        data.attrs["num_demos"] = len(demos)
        data.attrs["total"] = sum(len(d["actions"]) for d in demos)
    return path


env = drawer_env_fixture()


@pytest.fixture(scope="module")
def demos(env) -> list[dict]:
    """Three demos from official initial states 0-2, each reset with its own seed (the
    fixtures stand elsewhere than where the replay's reset puts them)."""
    return [teleoperate(env, init_state_index=i, seed=40 + i, lead=lead)
            for i, lead in enumerate(LEADS)]


@pytest.fixture(scope="module")
def imported(env, demos, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("libero_files")
    path = write_libero_file(root / f"{TASK}_demo.hdf5", demos, env)
    with pytest.raises(SystemExit) as exit_info:
        main(["import", str(path), str(root / "human")])
    assert exit_info.value.code == 0
    return root / "human"


def as_episode(demo: dict, *, seed: int | None = None) -> Episode:
    n = len(demo["actions"])
    successes = np.zeros(n, dtype=bool)
    successes[-1] = True
    return Episode(TASK, "close the top drawer of the cabinet", demo["proprio"],
                   demo["proprio"][:, :3], demo["actions"], successes.astype(np.float32),
                   successes, seed=seed, init_sim_state=demo["states"][0],
                   obs_after_action=True)


def test_import_keeps_each_demos_first_simulator_state(imported, demos):
    dataset = load_dataset(imported)
    assert (dataset.source, dataset.backend, dataset.suite) == ("human", "libero", SUITE)
    assert dataset.manifest["episode_seeds"] == [None] * len(demos)
    assert dataset.manifest["episode_init_states"] == [None] * len(demos)
    for index, demo in enumerate(demos):
        np.testing.assert_array_equal(dataset.init_sim_state(index), demo["states"][0])
        assert dataset.obs_after_action(index)


def test_a_replay_in_the_recorded_scene_gives_back_the_recorded_observations(env):
    from generators.expert.bc_samples import RECORDED_START_SEED, replay_observations

    # reset with the seed the replay uses: the fixtures stand where they stood
    demo = teleoperate(env, init_state_index=3, seed=RECORDED_START_SEED, lead=(0.3, 0.3, 0))
    replayed = replay_observations(get_backend("libero"), as_episode(demo), env=env)
    n = len(demo["actions"])
    assert replayed[C.OBS_STATE].shape == (n, C.STATE_DIM)
    assert replayed[C.OBS_OBJECT_POSES].shape == (n, 7 * len(env.object_names))
    # LIBERO's row t is observed after action t: the replay's observation before t + 1;
    # only the solver's warm start (not in the state either) differs, in the last bits
    np.testing.assert_allclose(replayed[C.OBS_STATE][1:], demo["proprio"][:-1], rtol=0,
                               atol=1e-6)


def test_a_replay_in_a_scene_placed_anew_stays_within_the_tolerance(env, demos):
    from generators.expert.bc_samples import RECORDED_START_TOLERANCE, replay_observations

    errors = []
    for demo in demos:
        replayed = replay_observations(get_backend("libero"), as_episode(demo), env=env)
        errors.append(np.abs(replayed[C.OBS_STATE][1:] - demo["proprio"][:-1]).max())
    assert 0.0 < max(errors) <= RECORDED_START_TOLERANCE, errors


def test_an_exact_replay_that_misses_the_recorded_goal_is_refused(env):
    from generators.expert.bc_samples import replay_observations

    # an episode started as the generators start theirs (seed, initial state, settle
    # steps), its last actions lost but its success kept
    obs, _ = env.reset(seed=5, options={INIT_STATE_OPTION: 4})
    states, actions, push = [], [], drawer_push(env)
    for step in range(150):
        states.append(obs[C.OBS_STATE])
        actions.append(push(obs, step))
        obs, _, terminated, _, _ = env.step(actions[-1])
        if terminated:
            break
    assert terminated
    n = len(actions) - 15
    successes = np.zeros(n, dtype=bool)
    successes[-1] = True
    episode = Episode(TASK, "close the top drawer of the cabinet", np.array(states[:n]),
                      np.array(states[:n])[:, :3], np.array(actions[:n]),
                      successes.astype(np.float32), successes, seed=5, init_state_index=4)
    with pytest.raises(DatasetError, match="does not reach the goal the recording reached"):
        replay_observations(get_backend("libero"), episode, env=env)


def test_train_expert_clones_the_imported_libero_demonstrations(imported, tmp_path, capsys):
    out = tmp_path / "runs"
    cli_run = run_cli(["train-expert", "--backend", "libero", "--task", TASK,
                       "--demos-from", imported, "--out", out, *TINY_FLAGS], capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 0, text
    summary = json.loads((out / TASK / "expert.json").read_text())
    assert summary["bc"]["episodes"] == len(LEADS)
    assert summary["settings"]["demos_from"] == load_dataset(imported).content_hash
    assert summary["iterations"] == 3


def test_a_file_whose_states_do_not_match_its_actions_is_refused_in_one_line(
        env, demos, tmp_path, capsys):
    # demo 0 starts from demo 1's first state (the arm drifted elsewhere before it)
    mixed = {**demos[0], "states": np.vstack([demos[1]["states"][:1], demos[0]["states"][1:]])}
    path = write_libero_file(tmp_path / f"{TASK}_demo.hdf5", [mixed, *demos[1:]], env)
    assert run_cli(["import", path, tmp_path / "human"], capsys)[0] == 0
    out = tmp_path / "runs"
    cli_run = run_cli(["train-expert", "--backend", "libero", "--task", TASK,
                       "--demos-from", tmp_path / "human", "--out", out, *TINY_FLAGS],
                      capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 2, text
    assert len(text.strip().splitlines()) == 1, text
    assert "from its recorded simulator state does not reproduce its recorded states" in text, text
    assert not (out / TASK / "expert.json").exists()


# --- the VLA learns from the same replay -------------------------------------------------
def test_vla_samples_of_imported_demos_are_the_replays_observations_before_each_action(
        env, imported, demos):
    from diffrl_eval.dataset.replay import replay_observations
    from vla.tiny_vla.observation import OBJECT_MASK, ObservationLayout
    from vla.tiny_vla.samples import demonstration_samples

    n_objects = len(env.object_names)
    samples = demonstration_samples([load_dataset(imported)], get_backend("libero"),
                                    ObservationLayout("state", max(8, n_objects)), horizon=4)
    assert samples.n_episodes == len(demos)
    n = len(demos[0]["actions"])
    replayed = replay_observations(get_backend("libero"), as_episode(demos[0]), env=env)
    # the state before action t (the replay's), not the recorded one after it
    np.testing.assert_allclose(samples.inputs[C.OBS_STATE][:n], replayed[C.OBS_STATE],
                               rtol=0, atol=1e-6)
    assert np.abs(samples.inputs[C.OBS_STATE][1:n] - demos[0]["proprio"][:-1]).max() \
        <= RECORDED_START_TOLERANCE
    assert samples.inputs[OBJECT_MASK][:n].sum(axis=1).tolist() == [n_objects] * n


def test_vla_train_in_state_mode_learns_from_imported_libero_demonstrations(
        env, imported, tmp_path, capsys):
    hparams = tmp_path / "hparams.json"
    hparams.write_text(json.dumps({
        "preset": "quick", "observation": "state", "max_objects": max(8, len(env.object_names)),
        "hidden_dim": 32, "trunk_blocks": 1, "train_steps": 3, "warmup_steps": 1,
        "batch_size": 16, "chunk_size": 4, "executed_steps": 4}))
    out = tmp_path / "vla"
    cli_run = run_cli(["vla", "train", "--data", imported, "--out", out,
                       "--hparams", hparams], capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 0, text
    info = json.loads((out / "checkpoint.json").read_text())
    assert info["hparams"]["observation"] == "state"
    assert info["backend"] == "libero"
    assert (out / "model.safetensors").is_file()
