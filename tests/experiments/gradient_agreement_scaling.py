"""Experiment: how much of a PPO policy gradient is signal, as a function of batch size.

Not a test. From a cloned policy (a checkpoint directory), with the recipe's PPO settings:
``--warmup`` iterations fit the critic (the policy does not change), then one rollout of
``--envs`` environments is collected and its advantages normalized over the whole batch.
For each subset size n, ``--pairs`` times: two disjoint random subsets of n decisions,
the cosine between their policy gradients (:func:`generators.ppo.update.policy_gradient`).
If each decision's gradient is the common signal g plus independent noise of variance s2,
the expected cosine is about n |g|^2 / (n |g|^2 + s2) = n / (n + n0): the fit gives n0,
the batch (in decisions) at which half of an update's squared norm is signal.

    python tests/experiments/gradient_agreement_scaling.py --bc BC_DIR --envs 400
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import curve_fit
from torch.nn import functional as F

from diffrl_eval.envs.tabletop import TabletopBackend
from generators.expert import demonstration_set
from generators.expert.recipe import PPO_RECIPE
from generators.human import HumanGenerator
from generators.policy import ValueNetwork, load_checkpoint
from generators.policy.checkpoint import with_sampling_settings
from generators.ppo.config import PPOConfig
from generators.ppo.trainer import PPOTrainer
from generators.ppo.update import ADVANTAGE_EPS, RolloutBatch, policy_gradient


def warmed_rollout(args: argparse.Namespace
                   ) -> tuple[torch.nn.Module, PPOConfig, object, RolloutBatch]:
    """The cloned policy ``args.bc`` (with ``args.set`` sampling overrides), its critic
    fitted for ``args.warmup`` iterations, and one rollout of ``args.envs`` environments
    whose advantages are normalized over the whole batch: (policy in train mode, PPO
    config, rollout, batch)."""
    torch.set_num_threads(1)
    backend = TabletopBackend()
    task = backend.task(args.task)
    policy = load_checkpoint(args.bc, kind="diffusion")
    overrides = {k: json.loads(v) for k, v in (p.split("=", 1) for p in args.set)}
    if overrides:
        policy = with_sampling_settings(policy, dataclasses.replace(policy.config, **overrides))
    episodes = list(HumanGenerator(backend).generate(task, args.demos, seed=0))
    demos = demonstration_set(backend, episodes, policy.config.n_obs_steps,
                              policy.config.horizon, drop_no_ops=True)
    value = ValueNetwork(policy.config)
    value.fit_normalizers(demos.obs)
    config = PPOConfig(**{**PPO_RECIPE, "n_envs": args.envs, "train_starts": args.train_starts,
                          "n_iterations": args.warmup + 1,
                          "critic_warmup_iterations": args.warmup,
                          "gradient_agreement_every": 0})
    trainer = PPOTrainer(policy, value, backend, task, config, seed=args.seed)
    try:
        for stats in trainer.train(args.warmup):
            print(json.dumps({"warmup_iteration": stats["iteration"],
                              "explained_variance": round(stats["explained_variance"], 3),
                              "success_rate": stats["success_rate"]}), flush=True)
        rollout, batch = trainer.collect()
    finally:
        trainer.close()
    advantages = batch.advantages
    advantages = (advantages - advantages.mean()) / (advantages.std() + ADVANTAGE_EPS)
    batch = RolloutBatch(batch.obs, batch.records, batch.old_log_prob, advantages,
                         batch.returns)
    policy.train()
    return policy, config, rollout, batch


def add_rollout_arguments(parser: argparse.ArgumentParser) -> None:
    """The options :func:`warmed_rollout` reads."""
    parser.add_argument("--bc", type=Path, required=True)
    parser.add_argument("--task", default="spatial_left_cube_on_plate")
    parser.add_argument("--demos", type=int, default=20, help="for the critic's normalizer")
    parser.add_argument("--envs", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--train-starts", default="sampled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], help="PolicyConfig key=json (sampling)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_rollout_arguments(parser)
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--sizes", default="175,350,700,1400,2800,5600")
    args = parser.parse_args()
    started = time.perf_counter()
    policy, config, rollout, batch = warmed_rollout(args)
    generator = torch.Generator().manual_seed(args.seed + 7)
    parameters = policy.trainable_parameters()
    sizes = [n for n in (int(s) for s in args.sizes.split(",")) if 2 * n <= len(batch)]
    means = []
    for n in sizes:
        cosines = []
        for _ in range(args.pairs):
            order = torch.randperm(len(batch), generator=generator)
            first = policy_gradient(policy, batch.select(order[:n]), config, parameters)
            second = policy_gradient(policy, batch.select(order[n:2 * n]), config, parameters)
            cosines.append(float(F.cosine_similarity(first, second, dim=0)))
        means.append(float(np.mean(cosines)))
        print(json.dumps({"decisions": n, "cosine_mean": round(means[-1], 4),
                          "cosine_sd": round(float(np.std(cosines)), 4),
                          "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    (n0,), _ = curve_fit(lambda n, n0: n / (n + n0), np.array(sizes, float), np.array(means),
                         p0=[1e4], bounds=(1.0, 1e9))
    print(json.dumps({"rollout_decisions": len(batch), "env_steps": rollout.env_steps,
                      "success_rate": sum(e.success for e in rollout.episodes)
                      / max(1, len(rollout.episodes)),
                      "n0_decisions": round(float(n0)), "seconds":
                      round(time.perf_counter() - started, 1)}), flush=True)


if __name__ == "__main__":
    main()
