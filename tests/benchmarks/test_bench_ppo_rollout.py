"""PPO rollout throughput against a pure environment rollout with the same number of envs.

Both step the same :class:`ChunkVectorEnv` (N in-process tabletop envs, chunks of Te
actions). The baseline executes fixed random chunks and does nothing else; the PPO
rollout samples every chunk from the diffusion policy (DDIM-5 with its likelihood, the
configuration the RL phase uses on CPU: MLP decoder), evaluates the value network and
records everything an update needs. The bar: the PPO rollout keeps at least half the
environment's own speed (ratio >= 0.5).

Run: ``pytest tests/benchmarks/test_bench_ppo_rollout.py --benchmark-only -s``
"""

from __future__ import annotations

import time

import numpy as np
import torch

from diffrl_eval.envs.tabletop import TabletopBackend
from generators.expert.chunk_env import ChunkVectorEnv
from generators.expert.observation import state_policy_config
from generators.policy import DiffusionChainPolicy, ValueNetwork
from generators.ppo.rollout import EpisodeStarts, collect_rollout

TASK = "spatial_left_cube_on_plate"
N_ENVS = 25
DECISIONS = 20
REQUIRED_RATIO = 0.5


def _fresh(backend, task, n_obs_steps, seed):
    venv = ChunkVectorEnv.make(backend, task, N_ENVS, n_obs_steps)
    starts = EpisodeStarts(len(backend.init_states(task.task_id)), np.random.default_rng(seed))
    for index in range(N_ENVS):
        starts.reset(venv, index)
    return venv, starts


def test_ppo_rollout_keeps_at_least_half_the_pure_environment_speed(benchmark):
    torch.set_num_threads(1)
    backend = TabletopBackend()
    task = backend.task(TASK)
    obs, _ = backend.make_env(TASK).reset(seed=0)
    config = state_policy_config(obs, decoder="mlp")
    torch.manual_seed(0)
    policy = DiffusionChainPolicy(config).eval()
    value = ValueNetwork(config).eval()
    rng = np.random.default_rng(0)

    # baseline: the same envs stepped with random chunks, nothing else
    venv, starts = _fresh(backend, task, config.n_obs_steps, 0)
    everyone = np.arange(N_ENVS)
    steps = 0
    started = time.perf_counter()
    for _ in range(DECISIONS):
        chunks = rng.uniform(-1, 1, (N_ENVS, config.action_steps, 7)).astype(np.float32)
        outcome = venv.step_chunk(everyone, chunks)
        steps += int(outcome.steps.sum())
        for index in np.flatnonzero(outcome.dones):
            starts.reset(venv, int(index))
    env_rate = steps / (time.perf_counter() - started)
    venv.close()

    venv, starts = _fresh(backend, task, config.n_obs_steps, 1)
    generator = torch.Generator().manual_seed(0)

    def rollout():
        return collect_rollout(policy, value, venv, starts, DECISIONS, gamma=0.999,
                               generator=generator)

    result = benchmark.pedantic(rollout, rounds=3, iterations=1, warmup_rounds=1)
    venv.close()
    ppo_rate = result.env_steps / benchmark.stats.stats.median
    ratio = ppo_rate / env_rate
    print(f"\npure env {env_rate:,.0f} env steps/s, PPO rollout {ppo_rate:,.0f} env steps/s, "
          f"ratio {ratio:.2f} (bar {REQUIRED_RATIO})")
    benchmark.extra_info.update(env_steps_per_s=env_rate, ppo_steps_per_s=ppo_rate,
                                ratio=ratio)
    assert ratio >= REQUIRED_RATIO
