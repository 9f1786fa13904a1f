"""`export --format libero-hdf5`: LIBERO's robomimic layout, one demo file per task."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from conftest import run_cli

from diffrl_eval.dataset import load_dataset
from diffrl_eval.export.libero_layout import axis_angle_to_quat, quat_to_axis_angle

DEMO_DATASETS = {"actions", "states", "robot_states", "rewards", "dones", "obs"}
OBS_DATASETS = {"ee_pos", "ee_ori", "ee_states", "gripper_states", "joint_states"}


@pytest.fixture
def exported(toy_dataset, tmp_path, capsys):
    code, _, err = run_cli(["export", "--format", "libero-hdf5", toy_dataset, tmp_path / "libero"],
                           capsys)
    assert code == 0, err
    return tmp_path / "libero"


def test_one_demo_file_per_task_with_libero_attributes(exported, toy_dataset):
    assert sorted(p.name for p in exported.iterdir()) == ["task_0_demo.hdf5", "task_1_demo.hdf5"]
    frames = load_dataset(toy_dataset).frames_df
    for task in ("task_0", "task_1"):
        with h5py.File(exported / f"{task}_demo.hdf5", "r") as handle:
            data = handle["data"]
            problem_info = json.loads(data.attrs["problem_info"])
            assert problem_info["language_instruction"] == f"do thing {task[-1]}"
            assert problem_info["problem_name"] == task
            env_args = json.loads(data.attrs["env_args"])
            assert env_args["env_kwargs"]["control_freq"] == 20
            assert data.attrs["bddl_file_name"] == f"toy-suite/{task}.bddl"
            rows = frames.filter(frames["task_id"] == task)
            assert data.attrs["total"] == rows.height
            assert data.attrs["num_demos"] == 3 == len(data)
            assert sorted(data) == ["demo_0", "demo_1", "demo_2"]


def test_demo_groups_hold_libero_datasets_filled_from_the_frames(exported, toy_dataset):
    frames = load_dataset(toy_dataset).frames_df.sort(["episode_index", "step_index"])
    with h5py.File(exported / "task_1_demo.hdf5", "r") as handle:
        for demo_index, episode_index in enumerate([1, 3, 5]):  # task_1's episodes, in order
            demo = handle[f"data/demo_{demo_index}"]
            rows = frames.filter(frames["episode_index"] == episode_index)
            n = rows.height
            assert DEMO_DATASETS <= set(demo)
            assert OBS_DATASETS <= set(demo["obs"])
            assert demo.attrs["num_samples"] == n
            state = rows["state"].to_numpy()
            np.testing.assert_array_equal(demo["actions"][()], rows["action"].to_numpy())
            np.testing.assert_array_equal(demo["obs/ee_pos"][()], state[:, :3])
            np.testing.assert_array_equal(demo["obs/ee_ori"][()], state[:, 3:6])
            np.testing.assert_array_equal(demo["obs/ee_states"][()], state[:, :6])
            np.testing.assert_array_equal(demo["obs/gripper_states"][()], state[:, 6:])
            assert demo["obs/joint_states"].shape == (n, 7)
            robot_states = demo["robot_states"][()]
            assert robot_states.shape == (n, 9)  # gripper (2), eef pos (3), eef quat (4)
            np.testing.assert_array_equal(robot_states[:, :2], state[:, 6:])
            np.testing.assert_array_equal(robot_states[:, 2:5], state[:, :3])
            np.testing.assert_allclose(np.linalg.norm(robot_states[:, 5:], axis=1), 1.0)
            dones = demo["dones"][()]
            assert dones.tolist() == [0] * (n - 1) + [1]
            np.testing.assert_array_equal(demo["rewards"][()], rows["reward"].to_numpy())


def test_images_are_stored_rows_bottom_to_top_as_libero_does(tmp_path, capsys):
    from conftest import make_episode

    from diffrl_eval.dataset import Episode, write_dataset

    rng = np.random.default_rng(1)
    base = make_episode(rng, 4)
    agent = rng.integers(0, 256, (4, 6, 8, 3), dtype=np.uint8)
    wrist = rng.integers(0, 256, (4, 6, 8, 3), dtype=np.uint8)
    episode = Episode(task_id="t", instruction="i", states=base.states, eef_pos=base.eef_pos,
                      actions=base.actions, rewards=base.rewards, successes=base.successes,
                      images={"agentview_image": agent, "wrist_image": wrist})
    source = write_dataset(tmp_path / "d", [episode], source="human", backend="tabletop", suite=None)
    code, _, err = run_cli(["export", "-f", "libero-hdf5", source, tmp_path / "x"], capsys)
    assert code == 0, err
    with h5py.File(tmp_path / "x/t_demo.hdf5", "r") as handle:
        assert handle["data"].attrs["macros_image_convention"] == "opengl"
        np.testing.assert_array_equal(handle["data/demo_0/obs/agentview_rgb"][()], agent[:, ::-1])
        np.testing.assert_array_equal(handle["data/demo_0/obs/eye_in_hand_rgb"][()], wrist[:, ::-1])
        assert handle["data"].attrs["bddl_file_name"] == "t.bddl"  # no suite, no folder


def test_existing_out_is_refused_unless_overwrite(exported, toy_dataset, capsys):
    code, _, err = run_cli(["export", "-f", "libero-hdf5", toy_dataset, exported], capsys)
    assert code == 2 and "already exists" in err
    code, _, _ = run_cli(["export", "-f", "libero-hdf5", toy_dataset, exported, "--overwrite"], capsys)
    assert code == 0


# --- orientation maths, against hand-worked rotations ----------------------------------------

S = np.sqrt(0.5)


@pytest.mark.parametrize("quat, axis_angle", [
    ((0, 0, 0, 1), (0, 0, 0)),  # identity
    ((0, 0, S, S), (0, 0, np.pi / 2)),  # 90 degrees about z
    ((1, 0, 0, 0), (np.pi, 0, 0)),  # 180 degrees about x
    ((0, -S, 0, S), (0, -np.pi / 2, 0)),  # -90 degrees about y
    ((0, 0, -S, -S), (0, 0, np.pi / 2)),  # -q is the same rotation as q
    ((0.5, 0.5, 0.5, 0.5), np.full(3, 2 * np.pi / 3 / np.sqrt(3))),  # 120 deg about (1,1,1)
])
def test_quaternion_to_axis_angle_matches_hand_worked_rotations(quat, axis_angle):
    np.testing.assert_allclose(quat_to_axis_angle(np.array(quat, float)), axis_angle, atol=1e-12)


def test_axis_angle_and_quaternion_convert_back_and_forth():
    rng = np.random.default_rng(0)
    axis = rng.normal(size=(200, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    vectors = axis * rng.uniform(0, np.pi * 0.999, size=(200, 1))
    vectors[0] = 0.0
    vectors[1] = [1e-9, 0, 0]
    np.testing.assert_allclose(quat_to_axis_angle(axis_angle_to_quat(vectors)), vectors, atol=1e-9)
    np.testing.assert_allclose(axis_angle_to_quat(np.array([0, 0, np.pi / 2])), [0, 0, S, S])
