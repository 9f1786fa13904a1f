"""LIBERO HDF5 round trip on real LIBERO episodes: episodes run in hf-libero's env are
written as a dataset, exported to LIBERO's robomimic layout, imported back as a ``human``
dataset, and replayed from what the file records.

The episodes start as the generators start theirs (official initial state, seed, settle
steps): a scripted push that closes the open top drawer of KITCHEN_SCENE10 (libero_90)
and a short random one that does not. Needs the ``libero`` extra; skipped without it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from diffrl_eval import constants as C
from diffrl_eval.dataset import Episode, load_dataset, write_dataset
from diffrl_eval.envs.base import get_backend
from diffrl_eval.envs.libero import INIT_STATE_OPTION, replay_check, runtime
from tests.envs.libero_drawer import TASK, drawer_env_fixture, drawer_push

pytestmark = pytest.mark.skipif(
    not runtime.ready(),
    reason="needs the libero extra: pip install -e '.[libero]' && diffrl-eval doctor --install-libero",
)

h5py = pytest.importorskip("h5py")
libero_hdf5 = pytest.importorskip("diffrl_eval.export.libero_hdf5")
libero_import = pytest.importorskip("diffrl_eval.export.libero_import")
layout = pytest.importorskip("diffrl_eval.export.libero_layout")

SUITE = "libero_90"


def run_episode(env, *, seed: int, init_state_index: int, policy, max_steps: int) -> Episode:
    obs, _ = env.reset(seed=seed, options={INIT_STATE_OPTION: init_state_index})
    states, eef, actions, successes = [], [], [], []
    for step in range(max_steps):
        action = policy(obs, step)
        states.append(obs[C.OBS_STATE])
        eef.append(obs[C.OBS_EEF_POS])
        actions.append(action)
        obs, _, terminated, _, info = env.step(action)
        successes.append(info["success"])
        if terminated:
            break
    spec = get_backend("libero").task(TASK)
    return Episode(task_id=TASK, instruction=spec.instruction, states=np.array(states),
                   eef_pos=np.array(eef), actions=np.array(actions),
                   rewards=np.array(successes, dtype=np.float32), successes=np.array(successes),
                   seed=seed, init_state_index=init_state_index)


env = drawer_env_fixture()


@pytest.fixture(scope="module")
def recorded(env, tmp_path_factory):
    """A dataset of two real LIBERO episodes, its LIBERO export and the re-import."""
    backend = get_backend("libero")
    pushed = run_episode(env, seed=0, init_state_index=0, policy=drawer_push(env),
                         max_steps=150)
    rng = np.random.default_rng(0)
    wander = run_episode(env, seed=1, init_state_index=7, max_steps=15,
                         policy=lambda obs, step: rng.uniform(-1, 1, 7))
    assert pushed.success and not wander.success
    root = tmp_path_factory.mktemp("libero_hdf5")
    dataset = write_dataset(root / "real", [pushed, wander], source="human", backend="libero",
                            suite=SUITE, control_hz=backend.control_hz)
    exported = libero_hdf5.export_libero_hdf5(dataset, root / "hdf5", show_progress=False)
    summary = libero_import.import_libero_hdf5([exported], root / "back", suite=SUITE,
                                               show_progress=False)
    return dataset, exported, summary, (pushed, wander)


def test_export_writes_one_libero_file_for_the_task(recorded):
    _, exported, _, (pushed, wander) = recorded
    (path,) = exported.iterdir()
    assert path.name == f"{TASK}_demo.hdf5"
    with h5py.File(path, "r") as handle:
        data = handle["data"]
        assert sorted(data) == ["demo_0", "demo_1"]
        problem = json.loads(data.attrs["problem_info"])
        assert problem["language_instruction"] == "close the top drawer of the cabinet"
        assert data.attrs["bddl_file_name"] == f"{SUITE}/{TASK}.bddl"
        demo = data["demo_0"]
        np.testing.assert_array_equal(demo["actions"][()], pushed.actions)
        np.testing.assert_allclose(demo["obs/ee_pos"][()], pushed.eef_pos, atol=1e-6)
        np.testing.assert_allclose(demo["obs/gripper_states"][()], pushed.states[:, 6:], atol=1e-6)
        assert demo["rewards"][()].tolist() == pushed.rewards.tolist()
        assert demo["dones"][()][-1] == 1
        assert data["demo_1"]["actions"].shape == (wander.length, 7)


def test_import_gives_back_the_frames_as_a_human_dataset(recorded):
    dataset_path, _, summary, _ = recorded
    original, back = load_dataset(dataset_path), load_dataset(summary.path)
    assert (back.source, back.backend, back.suite) == ("human", "libero", SUITE)
    assert summary.n_episodes == 2 and summary.n_frames == original.frames_df.height
    columns = [C.COL_EPISODE, C.COL_STEP, C.COL_TASK, C.COL_INSTRUCTION, C.COL_REWARD,
               C.COL_SUCCESS, C.COL_DONE]
    assert back.frames_df.select(columns).equals(original.frames_df.select(columns))
    for column in (C.COL_STATE, C.COL_EEF_POS, C.COL_ACTION):
        np.testing.assert_allclose(back.frames_df[column].to_numpy(),
                                   original.frames_df[column].to_numpy(), atol=1e-6)


def test_replaying_the_exported_actions_reproduces_each_episode(env, recorded):
    _, exported, _, (pushed, wander) = recorded
    (path,) = exported.iterdir()
    with h5py.File(path, "r") as handle:
        for name, episode in (("demo_0", pushed), ("demo_1", wander)):
            demo = handle["data"][name]
            start = json.loads(demo.attrs[layout.PROVENANCE])
            check = replay_check(TASK, demo["actions"][()],
                                 init_state_index=start["init_state_index"], seed=start["seed"],
                                 recorded_success=bool(demo["rewards"][()].any()), env=env)
            assert check.reproduced
            np.testing.assert_array_equal(check.successes, episode.successes)
