"""Experiment: where a cloned expert fails and whether its exploration reaches success there.

Not a test. Loads a behaviour-cloned policy (a checkpoint directory, e.g. one kept by
``expert_tabletop.py --bc-cache``) and measures, on one task:

- deterministic success from each of the task's fixed initial states (the evaluation);
- success of the stochastic training policy (the RL chain with ``rl_eta`` / ``min_std``,
  overridable) from the same states, ``--repeats`` episodes each;
- both on ``--random-starts`` placements drawn from the task's distribution (what PPO
  trains on when it does not start from the fixed states).

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

from diffrl_eval.envs.tabletop import TabletopBackend
from generators.expert import evaluate
from generators.policy import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bc", type=Path, required=True)
    parser.add_argument("--kind", default="diffusion")
    parser.add_argument("--task", default="spatial_left_cube_on_plate")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--random-starts", type=int, default=100)
    parser.add_argument("--set", nargs="*", default=[], help="PolicyConfig key=json (sampling)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    backend = TabletopBackend()
    task = backend.task(args.task)
    policy = load_checkpoint(args.bc, kind=args.kind)
    overrides = {k: json.loads(v) for k, v in (p.split("=", 1) for p in args.set)}
    if overrides:
        policy.config = dataclasses.replace(policy.config, **overrides)
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


if __name__ == "__main__":
    main()
