"""Experiment: PPO throughput with environments in-process against worker processes.

Not a test. On one tabletop task, with the diffusion-ppo recipe's networks and batch
(MLP decoder, 400 envs x 28 decisions, 10 epochs, minibatch 7,500; ``--ppo key=json``
overrides), measures in the same process and interleaved, ``--repeats`` times each:

- ``pure_env``: the envs stepped with random chunks and nothing else (in-process, and
  with ``--workers`` worker processes);
- ``rollout``: PPO's collector (policy + value inference, recording) alone, and
  ``inference_seconds``: the policy and value passes of one rollout without any env (what
  overlapping inference with stepping could hide at most);
- ``ppo``: whole PPO iterations, end to end (collection, GAE, update), as the trainer
  reports them (``env_steps_per_second``), with the share of the update;
- ``update_threads_N`` (with ``--update-threads N``): one iteration's update alone on 1
  and on N torch threads, in seconds; and ``ppo_wW_threadsN``: whole iterations with the
  W env workers and the update on N threads (``ppo.update_threads``), i.e. both cores.

First it measures what parallelism the machine gives right now (``machine_parallelism``:
the same pure-Python loop run once, then in two processes at once; 2.0 = two free cores).
The networks are freshly initialized (speed does not depend on what they learnt) and the
trainer runs warm-up iterations first. One JSON line per measurement, then a summary (median,
min, max per measure). The machine may be shared: read the spread, not one number.

    python tests/experiments/ppo_throughput.py --repeats 5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from diffrl_eval.envs.tabletop import TabletopBackend
from generators.diffusion_ppo import DiffusionPPOGenerator
from generators.expert import state_policy_config
from generators.expert.subprocess_env import chunk_env_for_policy
from generators.policy import DiffusionChainPolicy, ValueNetwork
from generators.ppo.config import PPOConfig
from generators.ppo.gae import compute_gae
from generators.ppo.rollout import EpisodeStarts, collect_rollout
from generators.ppo.trainer import PPOTrainer, flatten_rollout
from generators.ppo.update import ppo_update

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from machine_parallelism import machine_parallelism  # noqa: E402


def pure_env_rate(backend, task, config, n_envs: int, decisions: int, workers: int) -> float:
    venv = chunk_env_for_policy(backend, task, n_envs, config, workers=workers)
    try:
        starts = EpisodeStarts(len(backend.init_states(task.task_id)), np.random.default_rng(0))
        for index in range(n_envs):
            starts.reset(venv, index)
        venv.observation()  # sends the resets
        rng = np.random.default_rng(0)
        everyone, steps = np.arange(n_envs), 0
        started = time.perf_counter()
        for _ in range(decisions):
            outcome = venv.step_chunk(everyone, rng.uniform(
                -1, 1, (n_envs, config.action_steps, 7)).astype(np.float32))
            steps += int(outcome.steps.sum())
            for index in np.flatnonzero(outcome.dones):
                starts.reset(venv, int(index))
            venv.observation()
        return steps / (time.perf_counter() - started)
    finally:
        venv.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="spatial_left_cube_on_plate")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=2, help="PPO iterations per repeat")
    parser.add_argument("--ppo", nargs="*", default=[], help="PPOConfig key=json overrides")
    parser.add_argument("--update-threads", type=int, default=0,
                        help="also time the update alone on 1 and on this many threads")
    args = parser.parse_args()
    torch.set_num_threads(1)
    recipe = DiffusionPPOGenerator.recipe
    # the in-process and worker arms update on one thread (as before PPO used both cores)
    ppo_values = {**recipe["ppo"], "critic_warmup_iterations": 0, "n_iterations": 10**6,
                  "update_threads": 1}
    ppo_values.update({k: json.loads(v) for k, v in (p.split("=", 1) for p in args.ppo)})
    ppo = PPOConfig(**ppo_values)
    backend = TabletopBackend()
    task = backend.task(args.task)
    obs, _ = backend.make_env(args.task).reset(seed=0)
    config = state_policy_config(obs, **recipe["policy"])
    torch.manual_seed(0)
    policy, value = DiffusionChainPolicy(config), ValueNetwork(config)
    trainers = {workers: PPOTrainer(policy, value, backend, task, ppo, seed=0,
                                    env_workers=workers)
                for workers in (1, args.workers)}
    # both cores: the env workers, and the update on update_threads while they wait
    both = (PPOTrainer(policy, value, backend, task,
                       dataclasses.replace(ppo, update_threads=args.update_threads), seed=0,
                       env_workers=args.workers) if args.update_threads else None)
    results: dict[str, list[float]] = {}

    def record(name: str, rate: float, **extra) -> None:
        results.setdefault(name, []).append(rate)
        print(json.dumps({"measure": name, "env_steps_per_s": round(rate), **extra,
                          "load_1min": round(os.getloadavg()[0], 2)}), flush=True)

    print(json.dumps({"measure": "machine_parallelism", "ratio": round(machine_parallelism(), 2),
                      "load_1min": round(os.getloadavg()[0], 2)}), flush=True)
    try:
        for trainer in [*trainers.values(), *([both] if both else [])]:
            trainer.run_iteration()  # warm-up: first-call costs, worker start
        for _ in range(args.repeats):
            for workers in trainers:
                record(f"pure_env_w{workers}", pure_env_rate(
                    backend, task, config, ppo.n_envs, ppo.n_steps, workers))
            for workers, trainer in trainers.items():
                policy.eval()
                started = time.perf_counter()
                rollout = collect_rollout(policy, value, trainer.venv, trainer.starts,
                                          ppo.n_steps, gamma=ppo.gamma,
                                          generator=trainer.generator)
                record(f"rollout_w{workers}",
                       rollout.env_steps / (time.perf_counter() - started))
            obs = trainers[1].venv.observation()
            started = time.perf_counter()
            with torch.no_grad():
                for _ in range(ppo.n_steps):
                    policy.act(obs, generator=trainers[1].generator)
                    value(obs)
            seconds = time.perf_counter() - started
            results.setdefault("inference_seconds", []).append(seconds)
            print(json.dumps({"measure": "inference_seconds", "seconds": round(seconds, 3),
                              "load_1min": round(os.getloadavg()[0], 2)}), flush=True)
            arms = {f"ppo_w{workers}": trainer for workers, trainer in trainers.items()}
            if both:
                arms[f"ppo_w{args.workers}_threads{args.update_threads}"] = both
            for name, trainer in arms.items():
                for _ in range(args.iterations):
                    stats = trainer.run_iteration()
                    share = stats["update_seconds"] / (stats["rollout_seconds"]
                                                      + stats["update_seconds"])
                    record(name, stats["env_steps_per_second"],
                           update_share=round(share, 3),
                           rollout_seconds=round(stats["rollout_seconds"], 3),
                           update_seconds=round(stats["update_seconds"], 3))
            if args.update_threads:
                trainer = trainers[1]
                policy.eval()
                rollout = collect_rollout(policy, value, trainer.venv, trainer.starts,
                                          ppo.n_steps, gamma=ppo.gamma,
                                          generator=trainer.generator)
                advantages, returns = compute_gae(rollout.rewards, rollout.values,
                                                  rollout.dones, rollout.last_values,
                                                  gamma=ppo.gamma, gae_lambda=ppo.gae_lambda)
                batch = flatten_rollout(rollout, advantages, returns)
                policy.train()
                for threads in (1, args.update_threads):
                    torch.set_num_threads(threads)
                    started = time.perf_counter()
                    ppo_update(policy, value, batch, ppo, trainer.actor_optimizer,
                               trainer.critic_optimizer, iteration=trainer.iteration,
                               generator=trainer.generator)
                    seconds = time.perf_counter() - started
                    results.setdefault(f"update_seconds_threads{threads}", []).append(seconds)
                    print(json.dumps({"measure": f"update_seconds_threads{threads}",
                                      "seconds": round(seconds, 3),
                                      "load_1min": round(os.getloadavg()[0], 2)}), flush=True)
                torch.set_num_threads(1)
    finally:
        for trainer in [*trainers.values(), *([both] if both else [])]:
            trainer.close()
    summary = {name: {"median": round(statistics.median(rates), 3),
                      "min": round(min(rates), 3), "max": round(max(rates), 3), "n": len(rates)}
               for name, rates in results.items()}
    print(json.dumps({"summary": summary, "ppo": ppo_values, "workers": args.workers}))


if __name__ == "__main__":
    main()
