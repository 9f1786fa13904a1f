"""Initial simulator states in datasets: what LIBERO's demonstrations start from.

An episode may record the flattened simulator state it started from (LIBERO's demo
``states[0]``) and whether its observations follow each action (LIBERO's convention).
The dataset keeps both beside the frames, the content hash covers the states, datasets
written before keep loading, and ``import``/``export --format libero-hdf5`` carry them
through LIBERO's layout. No simulator is needed here (tests/generators/test_libero_hdf5_clone.py
replays real ones).
"""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
from conftest import make_episode, run_cli

from diffrl_eval.dataset import load_dataset, write_dataset
from diffrl_eval.dataset.format import frames_content_hash
from diffrl_eval.errors import DatasetError
from tests.export.libero_demo_files import random_demo, write_libero_file

SIM_DIM = 47


def episodes_with_starts(rng: np.random.Generator, starts: list[np.ndarray | None]):
    episodes = []
    for i, start in enumerate(starts):
        episode = make_episode(rng, 5 + i)
        episode.init_sim_state = start
        episode.obs_after_action = start is not None
        episode.__post_init__()
        episodes.append(episode)
    return episodes


def write(path, episodes):
    return write_dataset(path, episodes, source="human", backend="libero", suite="libero_90")


@pytest.fixture
def starts():
    rng = np.random.default_rng(3)
    return [rng.normal(size=SIM_DIM), None, rng.normal(size=SIM_DIM)]


def test_initial_sim_states_and_observation_timing_come_back_exactly(tmp_path, starts):
    path = write(tmp_path / "ds", episodes_with_starts(np.random.default_rng(0), starts))
    dataset = load_dataset(path)
    assert dataset.manifest["init_sim_states"] == {"file": "init_sim_states.npz",
                                                   "episodes": [0, 2]}
    assert dataset.manifest["episode_obs_after_action"] == [True, False, True]
    for index, start in enumerate(starts):
        if start is None:
            assert dataset.init_sim_state(index) is None
        else:
            state = dataset.init_sim_state(index)
            assert state.dtype == np.float64
            np.testing.assert_array_equal(state, start)
    assert [dataset.obs_after_action(i) for i in range(3)] == [True, False, True]


def test_the_content_hash_covers_the_initial_states_and_is_deterministic(tmp_path, starts):
    a = write(tmp_path / "a", episodes_with_starts(np.random.default_rng(0), starts))
    b = write(tmp_path / "b", episodes_with_starts(np.random.default_rng(0), starts))
    moved = [starts[0].copy(), None, starts[2].copy()]
    moved[2][5] += 1e-9
    c = write(tmp_path / "c", episodes_with_starts(np.random.default_rng(0), moved))
    none = write(tmp_path / "none", episodes_with_starts(np.random.default_rng(0), [None] * 3))
    hashes = [load_dataset(p).content_hash for p in (a, b, c, none)]
    assert hashes[0] == hashes[1]
    assert hashes[0] != hashes[2] and hashes[0] != hashes[3]
    # without initial states the hash is the frames' alone, as before the states existed
    assert hashes[3] == frames_content_hash(load_dataset(none).frames_df)
    assert load_dataset(none).manifest["init_sim_states"] is None


def test_datasets_written_before_the_initial_states_existed_still_load(toy_dataset):
    manifest_path = toy_dataset / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for key in ("init_sim_states", "episode_obs_after_action"):
        manifest.pop(key)
    manifest_path.write_text(json.dumps(manifest))
    dataset = load_dataset(toy_dataset)
    assert dataset.init_sim_states == {}
    assert dataset.init_sim_state(0) is None and not dataset.obs_after_action(0)


def test_changed_missing_or_mislisted_initial_states_are_refused(tmp_path, starts):
    path = write(tmp_path / "ds", episodes_with_starts(np.random.default_rng(0), starts))
    states = dict(np.load(path / "init_sim_states.npz"))

    def edited(name, arrays=None, manifest=None):
        copy = tmp_path / name
        shutil.copytree(path, copy)
        if arrays is None:
            (copy / "init_sim_states.npz").unlink()
        else:
            np.savez(copy / "init_sim_states.npz", **arrays)
        if manifest:
            text = json.loads((copy / "manifest.json").read_text())
            (copy / "manifest.json").write_text(json.dumps({**text, **manifest}))
        return copy

    changed = {**states, "episode_000002": states["episode_000002"] + 1e-6}
    with pytest.raises(DatasetError, match="content hash mismatch.*initial simulator states"):
        load_dataset(edited("changed", changed))
    with pytest.raises(DatasetError, match="init_sim_states.npz is missing"):
        load_dataset(edited("missing"))
    with pytest.raises(DatasetError, match="disagree"):
        load_dataset(edited("mislisted", states, {"init_sim_states": {
            "file": "init_sim_states.npz", "episodes": [0, 1]}}))
    nan = {**states, "episode_000000": np.full(SIM_DIM, np.nan)}
    with pytest.raises(DatasetError, match="episode_000000 has NaN"):
        load_dataset(edited("nan", nan))


@pytest.mark.parametrize("start, message", [
    (np.zeros((2, 3)), r"init_sim_state has shape \(2, 3\)"),
    (np.zeros(0), r"init_sim_state has shape \(0,\)"),
    (np.array([0.0, np.inf]), "init_sim_state has NaN or inf"),
])
def test_a_malformed_initial_state_is_named(start, message):
    episode = make_episode(np.random.default_rng(0), 4)
    episode.init_sim_state = start
    with pytest.raises(DatasetError, match=message):
        episode.__post_init__()


# --- through LIBERO's layout -----------------------------------------------------------------

def libero_file_with_states(path, n_demos=2):
    """A LIBERO-style file whose demos hold distinct flattened states, (T, SIM_DIM)."""
    rng = np.random.default_rng(7)
    demos = [random_demo(rng, 4 + i) for i in range(n_demos)]
    write_libero_file(path, demos)
    states = []
    with h5py.File(path, "a") as handle:
        for i, demo in enumerate(demos):
            del handle[f"data/demo_{i}/states"]
            states.append(rng.normal(size=(len(demo["actions"]), SIM_DIM)))
            handle[f"data/demo_{i}/states"] = states[-1]
    return path, states


def test_import_keeps_each_demos_first_state_and_libero_observation_timing(tmp_path, capsys):
    path, states = libero_file_with_states(tmp_path / "TASK_demo.hdf5")
    code, _, err = run_cli(["import", path, tmp_path / "ds"], capsys)
    assert code == 0, err
    dataset = load_dataset(tmp_path / "ds")
    assert dataset.manifest["episode_seeds"] == [None, None]
    assert dataset.manifest["episode_init_states"] == [None, None]
    for index, demo_states in enumerate(states):
        np.testing.assert_array_equal(dataset.init_sim_state(index), demo_states[0])
        assert dataset.obs_after_action(index)


def test_export_writes_the_first_state_as_libero_does_and_a_reimport_keeps_it(tmp_path, capsys):
    path, states = libero_file_with_states(tmp_path / "TASK_demo.hdf5")
    assert run_cli(["import", path, tmp_path / "ds"], capsys)[0] == 0
    code, _, err = run_cli(["export", "-f", "libero-hdf5", tmp_path / "ds", tmp_path / "h5"],
                           capsys)
    assert code == 0, err
    (exported,) = (tmp_path / "h5").iterdir()
    with h5py.File(exported, "r") as handle:
        for index, demo_states in enumerate(states):
            demo = handle[f"data/demo_{index}"]
            written = demo["states"][()]
            assert written.shape == demo_states.shape == (demo["actions"].shape[0], SIM_DIM)
            np.testing.assert_array_equal(written[0], demo_states[0])
            assert np.isnan(written[1:]).all()  # not recorded
            np.testing.assert_array_equal(demo.attrs["init_state"], demo_states[0])
            provenance = json.loads(demo.attrs["diffrl_eval"])
            assert provenance["states"] == "init_sim_state" and provenance["obs_after_action"]
    assert run_cli(["import", tmp_path / "h5", tmp_path / "back"], capsys)[0] == 0
    first, back = load_dataset(tmp_path / "ds"), load_dataset(tmp_path / "back")
    assert back.content_hash == first.content_hash
    for index, demo_states in enumerate(states):
        np.testing.assert_array_equal(back.init_sim_state(index), demo_states[0])
        assert back.obs_after_action(index)


def test_exports_without_simulator_states_are_read_as_before(toy_dataset, tmp_path, capsys):
    assert run_cli(["export", "-f", "libero-hdf5", toy_dataset, tmp_path / "h5"], capsys)[0] == 0
    exported = tmp_path / "h5" / "task_0_demo.hdf5"
    with h5py.File(exported, "r") as handle:
        demo = handle["data/demo_0"]
        assert demo["states"].shape[1] == 8 and "init_state" not in demo.attrs
        assert json.loads(demo.attrs["diffrl_eval"])["states"] == "proprio"
    # files exported before demos said what their states hold: proprio, observed before
    with h5py.File(exported, "a") as handle:
        for name in handle["data"]:
            provenance = json.loads(handle[f"data/{name}"].attrs["diffrl_eval"])
            for key in ("states", "obs_after_action"):
                provenance.pop(key)
            handle[f"data/{name}"].attrs["diffrl_eval"] = json.dumps(provenance)
    assert run_cli(["import", tmp_path / "h5", tmp_path / "back"], capsys)[0] == 0
    back = load_dataset(tmp_path / "back")
    assert back.init_sim_states == {}
    assert back.manifest["episode_obs_after_action"] == [False] * back.manifest["n_episodes"]


def test_states_that_are_not_one_per_action_are_a_one_line_error(tmp_path, capsys):
    path, _ = libero_file_with_states(tmp_path / "TASK_demo.hdf5")
    with h5py.File(path, "a") as handle:
        del handle["data/demo_1/states"]
        handle["data/demo_1/states"] = np.zeros((2, SIM_DIM))
    code, _, err = run_cli(["import", path, tmp_path / "ds"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "data/demo_1/states has shape (2, 47), expected (5, D)" in err
    assert not (tmp_path / "ds").exists()
