"""Turning demonstrations into behaviour-cloning samples, and stepping envs chunk by chunk."""

from __future__ import annotations

import numpy as np
import pytest

from diffrl_eval.constants import OBS_OBJECT_POSES, OBS_STATE
from diffrl_eval.envs.tabletop import TabletopBackend
from diffrl_eval.errors import DatasetError
from generators.expert import (
    ChunkVectorEnv,
    ObservationHistory,
    action_chunks,
    demonstration_set,
    history_windows,
    replay_observations,
)
from generators.human import HumanGenerator

TASK = "goal_open_drawer"


@pytest.fixture(scope="module")
def backend():
    return TabletopBackend()


@pytest.fixture(scope="module")
def demos(backend):
    return list(HumanGenerator(backend).generate(backend.task(TASK), 3, seed=0))


def test_history_windows_repeat_the_first_observation_before_the_episode_starts():
    sequence = np.arange(4, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    windows = history_windows(sequence, 3)
    assert windows.shape == (4, 3, 2)
    np.testing.assert_array_equal(windows[:, :, 0], [[0, 0, 0], [0, 0, 1], [0, 1, 2], [1, 2, 3]])


def test_action_chunks_repeat_the_last_action_past_the_episode_end():
    actions = np.arange(3, dtype=np.float32)[:, None] * np.ones((1, 7), np.float32)
    chunks = action_chunks(actions, 4)
    assert chunks.shape == (3, 4, 7)
    np.testing.assert_array_equal(chunks[:, :, 0], [[0, 1, 2, 2], [1, 2, 2, 2], [2, 2, 2, 2]])


def test_observation_history_rolls_per_env_and_leaves_the_others_alone():
    history = ObservationHistory(2, 2, keys=(OBS_STATE,))
    history.reset(0, {OBS_STATE: np.full(8, 1.0)})
    history.reset(1, {OBS_STATE: np.full(8, 5.0)})
    history.push(0, {OBS_STATE: np.full(8, 2.0)})
    frames = history.tensors()[OBS_STATE]
    assert frames.shape == (2, 2, 8)
    assert frames[0, :, 0].tolist() == [1.0, 2.0]
    assert frames[1, :, 0].tolist() == [5.0, 5.0]
    assert history.tensors(np.array([1]))[OBS_STATE].shape == (1, 2, 8)


def test_replaying_a_demonstration_reproduces_its_states_and_recovers_object_poses(
    backend, demos
):
    episode = demos[0]
    replayed = replay_observations(backend, episode)
    np.testing.assert_array_equal(replayed[OBS_STATE], episode.states)
    poses = replayed[OBS_OBJECT_POSES]
    assert poses.shape[0] == episode.length
    # opening the drawer moves it: the recovered poses are the real trajectory, not a copy
    assert np.ptp(poses, axis=0).max() > 0.01


def test_a_demonstration_from_another_environment_is_refused(backend, demos):
    episode = demos[0]
    tampered = type(episode)(
        task_id=episode.task_id, instruction=episode.instruction, states=episode.states + 0.1,
        eef_pos=episode.eef_pos, actions=episode.actions, rewards=episode.rewards,
        successes=episode.successes, seed=episode.seed,
        init_state_index=episode.init_state_index,
    )
    with pytest.raises(DatasetError, match="does not reproduce"):
        replay_observations(backend, tampered)


def test_demonstration_set_has_one_sample_per_step_of_each_successful_episode(backend, demos):
    data = demonstration_set(backend, demos, n_obs_steps=2, horizon=4)
    kept = [e for e in demos if e.success]
    assert data.n_episodes == len(kept)
    assert len(data) == sum(e.length for e in kept)
    assert data.obs[OBS_STATE].shape == (len(data), 2, 8)
    assert data.action_chunks.shape == (len(data), 4, 7)
    first = kept[0]
    np.testing.assert_array_equal(data.action_chunks[0, 0].numpy(), first.actions[0])
    np.testing.assert_array_equal(data.obs[OBS_STATE][1, 1].numpy(), first.states[1])


def test_an_episode_that_ends_inside_a_chunk_drops_the_rest_of_the_chunk(backend, demos):
    episode = demos[0]
    venv = ChunkVectorEnv.make(backend, backend.task(TASK), 1, n_obs_steps=2)
    venv.reset_env(0, seed=episode.seed, init_state_index=episode.init_state_index)
    te = 8
    padded = np.concatenate([episode.actions, np.zeros((te, 7), np.float32)])
    rewards, finished, steps = 0.0, None, 0
    for start in range(0, len(padded) - te + 1, te):
        outcome = venv.step_chunk(np.array([0]), padded[None, start:start + te])
        rewards += float(outcome.rewards[0])
        steps += int(outcome.steps[0])
        if outcome.dones[0]:
            finished = outcome.episodes[0]
            assert outcome.terminated[0] and not outcome.truncated[0]
            break
    venv.close()
    assert finished is not None and finished.success
    assert steps == episode.length == finished.length
    assert rewards == 1.0
    np.testing.assert_array_equal(finished.states, episode.states)
    np.testing.assert_array_equal(finished.actions, episode.actions)
