"""`import --format libero-hdf5`: LIBERO demonstration files read into a `human` dataset.

LIBERO's own files are not reachable offline; the files here are written by the tests the
way LIBERO's dataset script writes them (and by our exporter, for the round trip).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from libero_demo_files import random_demo, write_libero_file

from diffrl_eval.cli import main
from diffrl_eval.dataset import load_dataset
from diffrl_eval.envs.tabletop import gl_available
from diffrl_eval.metrics.no_op import no_op_counts

S = np.sqrt(0.5)


# --- round trip on the tabletop benchmark ------------------------------------------------------

@pytest.fixture(scope="module")
def tabletop_dataset(tmp_path_factory) -> Path:
    """Human teleoperation on two tasks, with camera images where a GL backend exists."""
    out = tmp_path_factory.mktemp("human") / "human"
    images = ["--images", "--image-size", "32"] if gl_available() else []
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--source", "human", "--task", "goal_open_drawer", "--task",
              "spatial_left_cube_on_plate", "--episodes", "2", *images, "--out", str(out)])
    assert exit_info.value.code == 0
    return out


def test_export_then_import_gives_back_the_same_episodes(tabletop_dataset, tmp_path, capsys):
    code, _, err = run_cli(["export", "-f", "libero-hdf5", tabletop_dataset, tmp_path / "h5"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["import", "-f", "libero-hdf5", tmp_path / "h5", tmp_path / "back"],
                             capsys)
    assert code == 0, err
    source, back = load_dataset(tabletop_dataset), load_dataset(tmp_path / "back")
    order = ["task_id", "episode_index", "step_index"]
    a, b = source.frames_df.sort(order), back.frames_df.sort(order)
    assert back.manifest["n_episodes"] == source.manifest["n_episodes"] == 4
    assert back.task_instructions == source.task_instructions
    for column in ("action", "state", "eef_pos", "reward", "success", "done", "instruction",
                   "step_index"):
        np.testing.assert_array_equal(b[column].to_numpy(), a[column].to_numpy(), err_msg=column)
    assert back.source == "human" and back.source_label == source.source_label
    assert back.backend == "tabletop"
    assert sorted(back.manifest["episode_seeds"]) == sorted(source.manifest["episode_seeds"])
    assert back.cameras == source.cameras
    for e in range(4):  # export groups by task; the episodes of each task keep their order
        task, rank = a.filter(a["episode_index"] == e)["task_id"][0], None
        same_task = sorted(set(a.filter(a["task_id"] == task)["episode_index"].to_list()))
        rank = same_task.index(e)
        imported = sorted(set(b.filter(b["task_id"] == task)["episode_index"].to_list()))[rank]
        for camera in source.cameras:
            np.testing.assert_array_equal(back.images(imported)[camera], source.images(e)[camera])
    no_ops = int(no_op_counts(source.frames_df)["no_op_count"].sum())
    assert f"no-op steps: {no_ops} kept" in out


# --- LIBERO's own layout --------------------------------------------------------------------

def test_a_libero_file_becomes_a_human_dataset_with_libero_state(tmp_path, capsys):
    rng = np.random.default_rng(0)
    demos = [random_demo(rng, 6, images=True), random_demo(rng, 4, images=True)]
    path = write_libero_file(tmp_path / "PUT_BOWL_ON_PLATE_demo.hdf5", demos, images=True)
    code, out, err = run_cli(["import", path, tmp_path / "ds", "--suite", "libero_spatial"], capsys)
    assert code == 0, err
    dataset = load_dataset(tmp_path / "ds")
    assert (dataset.source, dataset.backend, dataset.suite) == ("human", "libero", "libero_spatial")
    assert "LIBERO" in dataset.source_label
    assert dataset.task_instructions == {"PUT_BOWL_ON_PLATE": "put the bowl on the plate"}
    frames = dataset.frames_df.sort(["episode_index", "step_index"])
    for e, demo in enumerate(demos):
        rows = frames.filter(frames["episode_index"] == e)
        state = rows["state"].to_numpy()
        np.testing.assert_allclose(rows["action"].to_numpy(), demo["actions"], rtol=1e-6)
        np.testing.assert_allclose(state[:, :3], demo["ee_pos"], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(state[:, 6:], demo["gripper"], rtol=1e-6)
        np.testing.assert_allclose(rows["eef_pos"].to_numpy(), demo["ee_pos"], rtol=1e-6, atol=1e-7)
        # LIBERO's demos succeed on their last step, where the reward is 1
        assert rows["success"].to_list() == [False] * (len(rows) - 1) + [True]
        np.testing.assert_array_equal(dataset.images(e)["agentview_image"], demo["agentview"])
        np.testing.assert_array_equal(dataset.images(e)["wrist_image"], demo["wrist"])
    assert "wrote" in out and "2 episodes" in out


@pytest.mark.parametrize("proprio", ["ee_states", "robot_states"])
def test_orientation_is_read_from_ee_states_or_the_robot_state_quaternion(tmp_path, proprio, capsys):
    rng = np.random.default_rng(1)
    demo = random_demo(rng, 5)
    demo["quat"][0] = [0, 0, S, S]  # 90 degrees about z
    demo["quat"][1] = [0, 0, -S, -S]  # the same rotation
    path = write_libero_file(tmp_path / "f_demo.hdf5", [demo], proprio=proprio)
    code, _, err = run_cli(["import", path, tmp_path / "ds"], capsys)
    assert code == 0, err
    state = load_dataset(tmp_path / "ds").frames_df["state"].to_numpy()
    np.testing.assert_allclose(state[0, 3:6], [0, 0, np.pi / 2], atol=1e-6)
    np.testing.assert_allclose(state[1, 3:6], [0, 0, np.pi / 2], atol=1e-6)
    np.testing.assert_allclose(state[:, :3], demo["ee_pos"], rtol=1e-6, atol=1e-7)


def test_demos_are_read_in_numeric_order_from_files_and_folders(tmp_path, capsys):
    rng = np.random.default_rng(2)
    demos = [random_demo(rng, 3 + i) for i in range(12)]
    folder = tmp_path / "libero_spatial"
    folder.mkdir()
    write_libero_file(folder / "A_demo.hdf5", demos, bddl="x/libero_spatial/A.bddl")
    write_libero_file(folder / "B_demo.hdf5", demos[:1], bddl="x/libero_spatial/B.bddl",
                      instruction="other")
    code, _, err = run_cli(["import", folder, tmp_path / "ds"], capsys)
    assert code == 0, err
    frames = load_dataset(tmp_path / "ds").frames_df
    lengths = frames.group_by("episode_index", maintain_order=True).len().sort("episode_index")
    assert lengths["len"].to_list() == [3 + i for i in range(12)] + [3]  # demo_10 after demo_9


# --- no-ops --------------------------------------------------------------------------------

def no_op_demo() -> dict:
    """Hand-worked: 9 steps, of which 5 are no-ops by OpenVLA's rule."""
    still_open = [0, 0, 0, 0, 0, 0, -1.0]
    actions = np.array([
        still_open,  # no-op: nothing kept yet, arm still
        still_open,  # no-op
        [0.5, 0, 0, 0, 0, 0, -1.0],  # kept: moves
        still_open,  # no-op: arm still, gripper as the last kept step
        [0, 0, 0, 0, 0, 0.2, -1.0],  # kept: rotates
        still_open,  # no-op
        [0, 0, 0, 0, 0, 0, 1.0],  # kept: arm still but the gripper closes
        [0, 0, 0, 0, 0, 0, 1.0],  # no-op: gripper stays closed
        [0, 0, 0.3, 0, 0, 0, 1.0],  # kept
    ])
    rng = np.random.default_rng(3)
    demo = random_demo(rng, len(actions))
    demo["actions"] = actions
    return demo


def test_no_ops_are_counted_and_kept_by_default(tmp_path, capsys):
    path = write_libero_file(tmp_path / "f_demo.hdf5", [no_op_demo()])
    code, out, err = run_cli(["import", path, tmp_path / "ds"], capsys)
    assert code == 0, err
    assert "no-op steps: 5 kept" in out
    dataset = load_dataset(tmp_path / "ds")
    assert dataset.frames_df.height == 9
    assert int(no_op_counts(dataset.frames_df)["no_op_count"].sum()) == 5
    assert dataset.manifest["generator_config"]["no_op_steps"] == 5


def test_drop_no_ops_keeps_exactly_the_other_steps(tmp_path, capsys):
    demo = no_op_demo()
    path = write_libero_file(tmp_path / "f_demo.hdf5", [demo])
    code, out, err = run_cli(["import", path, tmp_path / "ds", "--drop-no-ops"], capsys)
    assert code == 0, err
    assert "no-op steps: 5 dropped" in out
    frames = load_dataset(tmp_path / "ds").frames_df.sort("step_index")
    kept = [2, 4, 6, 8]
    np.testing.assert_array_equal(frames["action"].to_numpy(), demo["actions"][kept].astype(np.float32))
    np.testing.assert_allclose(frames["eef_pos"].to_numpy(), demo["ee_pos"][kept], rtol=1e-6)
    assert frames["step_index"].to_list() == [0, 1, 2, 3]
    assert frames["success"].to_list() == [False, False, False, True]


# --- bad input: one line, exit 2, nothing written --------------------------------------------

def write_bad(kind: str, path: Path) -> Path:
    rng = np.random.default_rng(4)
    if kind == "not-hdf5":
        path.write_text("this is not an HDF5 file\n")
    elif kind == "no-data-group":
        with h5py.File(path, "w") as handle:
            handle.create_group("episodes")
    elif kind == "no-demos":
        write_libero_file(path, [])
    elif kind == "action-dims":
        demo = random_demo(rng, 4)
        demo["actions"] = demo["actions"][:, :6]
        write_libero_file(path, [demo])
    elif kind == "no-gripper":
        write_libero_file(path, [random_demo(rng, 4)])
        with h5py.File(path, "a") as handle:
            del handle["data/demo_0/obs/gripper_states"]
    elif kind == "short-obs":
        write_libero_file(path, [random_demo(rng, 4)])
        with h5py.File(path, "a") as handle:
            del handle["data/demo_0/obs/ee_pos"]
            handle["data/demo_0/obs/ee_pos"] = np.zeros((3, 3))
    elif kind == "no-instruction":
        write_libero_file(path, [random_demo(rng, 4)])
        with h5py.File(path, "a") as handle:
            del handle["data"].attrs["problem_info"]
    elif kind == "other-suite":
        write_libero_file(path, [random_demo(rng, 4)], bddl="b/libero_goal/OPEN_DRAWER.bddl")
    return path


@pytest.mark.parametrize("kind, fragments", [
    ("not-hdf5", ["not an HDF5 file"]),
    ("no-data-group", ["no 'data' group"]),
    ("no-demos", ["no demo_N groups"]),
    ("action-dims", ["data/demo_0/actions has shape (4, 6)", "expected (T, 7)"]),
    ("no-gripper", ["data/demo_0/obs lacks gripper_states"]),
    ("short-obs", ["obs/ee_pos has shape (3, 3)", "expected (4, 3)"]),
    ("no-instruction", ["problem_info"]),
    ("other-suite", ["suite 'libero_goal'", "not --suite libero_spatial"]),
])
def test_bad_demo_files_are_one_line_errors_and_write_nothing(tmp_path, kind, fragments, capsys):
    good = write_libero_file(tmp_path / "good_demo.hdf5", [random_demo(np.random.default_rng(5), 3)])
    bad = write_bad(kind, tmp_path / "bad_demo.hdf5")
    out = tmp_path / "out" / "ds"
    code, _, err = run_cli(["import", good, bad, out, "--suite", "libero_spatial"], capsys)
    assert_one_line_error(code, err, str(bad), *fragments)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_missing_path_empty_folder_and_existing_out_are_refused(tmp_path, capsys):
    code, _, err = run_cli(["import", tmp_path / "nope.hdf5", tmp_path / "ds"], capsys)
    assert_one_line_error(code, err, "not found")
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["import", tmp_path / "empty", tmp_path / "ds"], capsys)
    assert_one_line_error(code, err, "no .hdf5 files")
    good = write_libero_file(tmp_path / "g_demo.hdf5", [random_demo(np.random.default_rng(6), 3)])
    code, _, err = run_cli(["import", good, tmp_path / "empty"], capsys)
    assert_one_line_error(code, err, "already exists")
    code, _, err = run_cli(["import", good], capsys)
    assert_one_line_error(code, err, "then OUT")
    code, _, err = run_cli(["import", "-f", "rlds", good, tmp_path / "ds"], capsys)
    assert_one_line_error(code, err, "unknown import format 'rlds'")
