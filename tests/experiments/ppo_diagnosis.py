"""Experiment: where a cloned expert fails and whether its exploration reaches success there.

Not a test. Loads a behaviour-cloned policy (a checkpoint directory, e.g. one kept by
``expert_tabletop.py --bc-cache``) and measures, on one task:

- deterministic success from each of the task's fixed initial states (the evaluation);
- success of the stochastic training policy (the RL chain with ``rl_eta`` / ``min_std``,
  overridable) from the same states, ``--repeats`` episodes each;
- both on ``--random-starts`` placements drawn from the task's distribution (what PPO
  trains on when it does not start from the fixed states).

- with ``--clipped-decisions N``: along N stochastic decisions of 20 envs from sampled
  placements, the fraction of executed chunk elements whose predicted clean sample
  x0_hat leaves [-1, 1] at each denoising step, per action dimension. Such an element's
  step mean is clip(x0_hat) mixed with noise re-derived from it, so it does not depend on
  the weights: PPO's gradient there is exactly zero.

Prints one JSON line per measurement.

    python tests/experiments/ppo_diagnosis.py --bc /tmp/rlcore/bc/baf4f552dae96ca9 \
        --task spatial_left_cube_on_plate --repeats 4 --set min_std=0.05
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from diffrl_eval.diffusion.noise_schedule import predicted_clean_sample
from diffrl_eval.envs.tabletop import TabletopBackend
from generators.expert import evaluate
from generators.expert.chunk_env import ChunkVectorEnv
from generators.policy import load_checkpoint
from generators.policy.checkpoint import with_sampling_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bc", type=Path, required=True)
    parser.add_argument("--kind", default="diffusion")
    parser.add_argument("--task", default="spatial_left_cube_on_plate")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--random-starts", type=int, default=100)
    parser.add_argument("--clipped-decisions", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], help="PolicyConfig key=json (sampling)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    backend = TabletopBackend()
    task = backend.task(args.task)
    policy = load_checkpoint(args.bc, kind=args.kind)
    overrides = {k: json.loads(v) for k, v in (p.split("=", 1) for p in args.set)}
    if overrides:
        policy = with_sampling_settings(policy, dataclasses.replace(policy.config, **overrides))
    if args.clipped_decisions:
        print(json.dumps(clipped_fractions(policy, backend, task, args.clipped_decisions)),
              flush=True)
    n = len(backend.init_states(task.task_id))
    started = time.perf_counter()
    det = evaluate(policy, backend, task, list(range(n)), seed=1)
    print(json.dumps({"measure": "deterministic, fixed starts", "success": det.success_rate,
                      "failing": [i for i, s in enumerate(det.successes) if not s],
                      "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    started = time.perf_counter()
    stoch = evaluate(policy, backend, task, list(range(n)) * args.repeats, seed=2,
                     deterministic=False)
    per_start = np.array(stoch.successes, dtype=float).reshape(args.repeats, n).mean(0)
    failing = [i for i, s in enumerate(det.successes) if not s]
    print(json.dumps({
        "measure": "stochastic, fixed starts", "settings": overrides,
        "success": stoch.success_rate,
        "success_on_det_failing": float(per_start[failing].mean()) if failing else None,
        "det_failing_with_any_success": int((per_start[failing] > 0).sum()),
        "per_start": [round(float(x), 2) for x in per_start],
        "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    if args.random_starts:
        for deterministic in (True, False):
            started = time.perf_counter()
            result = evaluate(policy, backend, task, [None] * args.random_starts, seed=3,
                              deterministic=deterministic)
            print(json.dumps({"measure": f"{'deterministic' if deterministic else 'stochastic'}"
                              f", random starts", "success": result.success_rate,
                              "seconds": round(time.perf_counter() - started, 1)}), flush=True)


@torch.no_grad()
def clipped_fractions(policy, backend, task, decisions: int, n_envs: int = 20) -> dict:
    """Fraction of executed elements with |x0_hat| > 1: (K, Da) as nested lists."""
    venv = ChunkVectorEnv.for_policy(backend, task, n_envs, policy.config)
    generator = torch.Generator().manual_seed(0)
    reset_seeds = iter(range(10**6))
    executed = policy.config.action_steps
    try:
        for index in range(n_envs):
            venv.reset_env(index, seed=next(reset_seeds), init_state_index=None)
        fractions = []
        for _ in range(decisions):
            obs = venv.observation()
            step = policy.act(obs, generator=generator)
            timesteps, _ = policy.chain_timesteps()
            cond = policy.encoder(obs)
            per_step = []
            for k, t in enumerate(timesteps):
                x_k = step.record[:, k]
                t_batch = t.expand(len(x_k))
                x0 = predicted_clean_sample(x_k, policy.decoder(x_k, t_batch, cond),
                                            policy.alpha_bar(t_batch))
                per_step.append((x0.abs() > 1).float()[:, :executed].mean((0, 1)))
            fractions.append(torch.stack(per_step))
            outcome = venv.step_chunk(np.arange(n_envs), step.action_chunk[:, :executed].numpy())
            for index in np.flatnonzero(outcome.dones):
                venv.reset_env(int(index), seed=next(reset_seeds), init_state_index=None)
    finally:
        venv.close()
    mean = torch.stack(fractions).mean(0)
    return {"measure": "fraction of executed elements with |x0_hat| > 1 (rows: denoising "
                       "step, noisiest first; columns: action dimension)",
            "fractions": [[round(float(v), 2) for v in row] for row in mean],
            "scored_dimensions": policy.likelihood_mask()[0].tolist()}


if __name__ == "__main__":
    main()
