"""PPO end to end (collection + GAE + update) on both cores, as ratios against baselines
measured in the same run.

Baselines: the pure environment rollout in this process (random chunks, nothing else) and
PPO end to end as it ran before it used the second core (environments in this process,
the update on one torch thread). Measured: PPO with the environments in worker processes
(update on one thread), and PPO on both cores (worker processes, and the update on
``update_threads=2`` while the workers wait). The PPO runs use the diffusion-ppo recipe's
networks (MLP decoder, DDIM-5) and minibatch (7,500 pairs) on a smaller batch (100 envs x
12 decisions, 2 epochs) so that a round takes a few seconds; the ratios, not the absolute
rates, are the result. The bars, where the machine gives two processes at least 1.5x the
work of one (:mod:`machine_parallelism`, measured in the same run): worker processes are
not slower than in-process (ratio >= 1), and both cores are at least 1.3x the one-core
PPO. Where the machine does not (other jobs hold the cores) the ratios are printed and the
bars are skipped. Measured ratios: reports/results/rl-throughput.md.

Run: ``pytest tests/benchmarks/test_bench_ppo_throughput.py --benchmark-only -s``
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
import torch
from machine_parallelism import machine_parallelism

from diffrl_eval.envs.tabletop import TabletopBackend
from generators.diffusion_ppo import DiffusionPPOGenerator
from generators.expert import ChunkVectorEnv, state_policy_config
from generators.expert.subprocess_env import default_env_workers
from generators.policy import DiffusionChainPolicy, ValueNetwork
from generators.ppo.config import PPOConfig
from generators.ppo.rollout import EpisodeStarts
from generators.ppo.trainer import PPOTrainer

TASK = "spatial_left_cube_on_plate"
N_ENVS, DECISIONS = 100, 12
REQUIRED_RATIO = 1.0  # env workers against in-process
BOTH_CORES_RATIO = 1.3  # env workers + two update threads against one core
MIN_PARALLELISM = 1.5  # below it the machine cannot run two processes faster than one


def _pure_env_rate(backend, task, action_steps: int) -> float:
    venv = ChunkVectorEnv.make(backend, task, N_ENVS, 2)
    starts = EpisodeStarts(len(backend.init_states(TASK)), np.random.default_rng(0))
    for index in range(N_ENVS):
        starts.reset(venv, index)
    rng = np.random.default_rng(0)
    steps, started = 0, time.perf_counter()
    for _ in range(DECISIONS):
        chunks = rng.uniform(-1, 1, (N_ENVS, action_steps, 7)).astype(np.float32)
        outcome = venv.step_chunk(np.arange(N_ENVS), chunks)
        steps += int(outcome.steps.sum())
        for index in np.flatnonzero(outcome.dones):
            starts.reset(venv, int(index))
    venv.close()
    return steps / (time.perf_counter() - started)


def _ppo_rate(trainer: PPOTrainer, rounds: int = 3) -> float:
    """Median end-to-end env steps/s over ``rounds`` iterations, after one warm-up."""
    trainer.run_iteration()
    return float(np.median([trainer.run_iteration()["env_steps_per_second"]
                            for _ in range(rounds)]))


@pytest.mark.skipif(default_env_workers() < 2, reason="needs at least 2 CPU cores")
def test_ppo_with_env_workers_against_in_process_ppo_and_the_pure_env(benchmark):
    torch.set_num_threads(1)
    backend = TabletopBackend()
    task = backend.task(TASK)
    obs, _ = backend.make_env(TASK).reset(seed=0)
    config = state_policy_config(obs, **DiffusionPPOGenerator.recipe["policy"])
    torch.manual_seed(0)
    policy, value = DiffusionChainPolicy(config), ValueNetwork(config)
    ppo = PPOConfig(n_envs=N_ENVS, n_steps=DECISIONS, n_iterations=100, update_epochs=2,
                    batch_size=7500, critic_warmup_iterations=0, actor_lr=3e-5)
    env_rate = _pure_env_rate(backend, task, config.action_steps)
    rates: dict[str, float] = {}
    arms = {"in_process": (1, 1), "workers": (default_env_workers(), 1),
            "both_cores": (default_env_workers(), 2)}
    for name, (workers, threads) in arms.items():
        trainer = PPOTrainer(policy, value, backend, task,
                             dataclasses.replace(ppo, update_threads=threads), seed=0,
                             env_workers=workers)
        try:
            if name == "both_cores":
                measured: list[float] = []
                benchmark.pedantic(
                    lambda t=trainer, m=measured: m.append(t.run_iteration()["env_steps_per_second"]),
                    rounds=4, iterations=1, warmup_rounds=1)
                rates[name] = float(np.median(measured[1:]))  # the first is the warm-up
            else:
                rates[name] = _ppo_rate(trainer)
        finally:
            trainer.close()
    parallelism = machine_parallelism()
    print(f"\nmachine parallelism {parallelism:.2f}; pure env (in-process) {env_rate:,.0f} env "
          f"steps/s; PPO end to end: in-process {rates['in_process']:,.0f}/s, "
          f"{default_env_workers()} env workers {rates['workers']:,.0f}/s, both cores "
          f"{rates['both_cores']:,.0f}/s; ratios against in-process: workers "
          f"{rates['workers'] / rates['in_process']:.2f}, both cores "
          f"{rates['both_cores'] / rates['in_process']:.2f}; both cores / pure env "
          f"{rates['both_cores'] / env_rate:.2f}")
    benchmark.extra_info.update(pure_env_steps_per_s=env_rate,
                                ppo_in_process_steps_per_s=rates["in_process"],
                                ppo_env_workers_steps_per_s=rates["workers"],
                                ppo_both_cores_steps_per_s=rates["both_cores"],
                                ratio_workers_vs_in_process=rates["workers"] / rates["in_process"],
                                ratio_both_cores_vs_in_process=(rates["both_cores"]
                                                                / rates["in_process"]),
                                ratio_both_cores_vs_pure_env=rates["both_cores"] / env_rate,
                                machine_parallelism=parallelism)
    if parallelism < MIN_PARALLELISM:
        pytest.skip(f"the machine gives two processes {parallelism:.2f}x the work of one "
                    f"(other jobs hold the cores); bar not applicable")
    assert rates["workers"] / rates["in_process"] >= REQUIRED_RATIO
    assert rates["both_cores"] / rates["in_process"] >= BOTH_CORES_RATIO
