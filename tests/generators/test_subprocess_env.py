"""Environments stepped in worker processes: the same outcomes as in-process for the same
seeds, the same trained expert whatever the worker count, and no process left behind."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch
from policy_fixtures import tiny_tabletop_config

from diffrl_eval.envs.tabletop import TabletopBackend
from diffrl_eval.errors import UserError
from generators.expert import ChunkVectorEnv, state_policy_config
from generators.expert.subprocess_env import (
    SubprocessChunkVectorEnv,
    check_env_workers,
    chunk_env_for_policy,
)
from generators.policy import DiffusionChainPolicy, ValueNetwork
from generators.ppo.config import PPOConfig
from generators.ppo.rollout import EpisodeStarts
from generators.ppo.trainer import PPOTrainer

torch.set_num_threads(1)

TASK = "spatial_left_cube_on_plate"
N_ENVS = 5


@pytest.fixture(scope="module")
def backend():
    return TabletopBackend()


@pytest.fixture(scope="module")
def task(backend):
    """The task every test here steps."""
    return backend.task(TASK)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a child that exited but was not reaped yet is a zombie, not a running worker
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def _drive(venv, decisions: int = 10, chunk: int = 40):
    """Random chunks long enough that episodes end by time limit (220 steps) within the
    run, every env reset from the same seeded starts: the observations seen, the episodes
    finished and the per-chunk outcomes, in order."""
    starts = EpisodeStarts(50, np.random.default_rng(0))
    for index in range(len(venv)):
        starts.reset(venv, index)
    rng = np.random.default_rng(1)
    seen, finished, rewards = [], [], []
    for _ in range(decisions):
        seen.append({k: v.numpy().copy() for k, v in venv.observation().items()})
        outcome = venv.step_chunk(np.arange(len(venv)), rng.uniform(-1, 1, (len(venv), chunk, 7)))
        rewards.append((outcome.rewards.copy(), outcome.dones.copy(), outcome.steps.copy()))
        for index in np.flatnonzero(outcome.dones):
            finished.append(outcome.episodes[index])
            starts.reset(venv, int(index))
    # a subset of envs, as evaluation steps only the running ones
    subset = np.array([3, 1])
    outcome = venv.step_chunk(subset, rng.uniform(-1, 1, (2, chunk, 7)))
    rewards.append((outcome.rewards.copy(), outcome.dones.copy(), outcome.steps.copy()))
    seen.append({k: v.numpy().copy() for k, v in venv.observation(subset).items()})
    return seen, finished, rewards


@pytest.mark.parametrize("workers", [2, 3])
def test_worker_processes_give_the_same_observations_rewards_and_episodes(
        backend, task, workers):
    reference = ChunkVectorEnv.make(backend, task, N_ENVS, 2)
    try:
        expected = _drive(reference)
    finally:
        reference.close()
    with SubprocessChunkVectorEnv(backend, task, N_ENVS, 2, workers=workers) as venv:
        assert venv.workers == workers
        got = _drive(venv)
    for seen, want in zip(got[0], expected[0]):
        assert seen.keys() == want.keys()
        for key in want:
            np.testing.assert_array_equal(seen[key], want[key])
    assert len(got[1]) == len(expected[1]) > 0
    for episode, want in zip(got[1], expected[1]):
        for name in ("states", "eef_pos", "actions", "rewards", "successes"):
            np.testing.assert_array_equal(getattr(episode, name), getattr(want, name))
        assert (episode.seed, episode.init_state_index) == (want.seed, want.init_state_index)
    for (r, d, s), (wr, wd, ws) in zip(got[2], expected[2]):
        np.testing.assert_array_equal(r, wr)
        np.testing.assert_array_equal(d, wd)
        np.testing.assert_array_equal(s, ws)


def _trained_weights(backend, task, workers: int) -> dict[str, torch.Tensor]:
    config = tiny_tabletop_config(backend, TASK)
    torch.manual_seed(0)
    policy, value = DiffusionChainPolicy(config), ValueNetwork(config)
    ppo = PPOConfig(n_envs=4, n_steps=6, n_iterations=2, critic_warmup_iterations=0,
                    batch_size=20, update_epochs=1)
    trainer = PPOTrainer(policy, value, backend, task, ppo, seed=3, env_workers=workers)
    try:
        history = trainer.train()
    finally:
        trainer.close()
    assert all(row["env_steps_per_second"] > 0 for row in history)
    return {**policy.state_dict(), **{f"value.{k}": v for k, v in value.state_dict().items()}}


def test_ppo_trains_the_same_expert_in_process_and_with_worker_processes(backend, task):
    alone = _trained_weights(backend, task, workers=1)
    spread = _trained_weights(backend, task, workers=2)
    assert alone.keys() == spread.keys()
    for name in alone:
        assert torch.equal(alone[name], spread[name]), name


def test_close_and_a_worker_error_leave_no_worker_process(backend, task):
    venv = SubprocessChunkVectorEnv(backend, task, 4, 2, workers=2)
    pids = [p.pid for p in venv._processes]
    assert all(_alive(pid) for pid in pids)
    venv.close()
    venv.close()  # idempotent
    assert not any(_alive(pid) for pid in pids)

    venv = SubprocessChunkVectorEnv(backend, task, 4, 2, workers=2)
    pids = [p.pid for p in venv._processes]
    with pytest.raises(RuntimeError, match="no running episode"):
        venv.step_chunk(np.arange(4), np.zeros((4, 8, 7)))  # never reset
    assert not any(_alive(pid) for pid in pids)


def test_workers_ignore_ctrl_c_and_leave_shutdown_to_the_main_process(backend, task):
    with SubprocessChunkVectorEnv(backend, task, 2, 2, workers=2) as venv:
        pids = [p.pid for p in venv._processes]
        for pid in pids:
            os.kill(pid, signal.SIGINT)
        venv.reset_env(0, seed=0, init_state_index=0)
        venv.reset_env(1, seed=1, init_state_index=1)
        outcome = venv.step_chunk(np.arange(2), np.zeros((2, 8, 7)))
        assert outcome.steps.tolist() == [8, 8]
    assert not any(_alive(pid) for pid in pids)


def test_worker_count_must_be_positive_and_one_worker_stays_in_process(backend, task):
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(UserError, match="env_workers must be a whole number >= 1"):
            check_env_workers(bad)
    assert check_env_workers(None) >= 1
    obs, _ = backend.make_env(TASK).reset(seed=0)
    config = state_policy_config(obs, decoder="mlp")
    venv = chunk_env_for_policy(backend, task, 3, config, workers=1)
    assert isinstance(venv, ChunkVectorEnv)
    venv.close()
