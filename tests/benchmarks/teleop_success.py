"""Experiment: the simulated teleoperator's success rate on every task over all 50 fixed
initial states (the normal test suite checks 3 per task).

    python tests/benchmarks/teleop_success.py [--suite tabletop-spatial] [--seed 0]

Prints one line per task (successes / episodes, mean length, no-op fraction) and exits
non-zero if any task is below 90 %.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from diffrl_eval.constants import ACTION_MOTION_DIMS, GRIPPER_ACTION_INDEX
from diffrl_eval.envs.tabletop import TabletopBackend
from diffrl_eval.envs.tabletop.init_states import N_INIT_STATES
from generators.human import HumanGenerator

THRESHOLD = 0.9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=N_INIT_STATES)
    args = parser.parse_args()
    backend = TabletopBackend()
    generator = HumanGenerator(backend)
    worst = 1.0
    start = time.perf_counter()
    for task in backend.tasks(args.suite):
        eps = list(generator.generate(task, args.episodes, args.seed))
        rate = np.mean([ep.success for ep in eps])
        lengths = [ep.length for ep in eps if ep.success]
        actions = np.concatenate([ep.actions for ep in eps])
        still = np.linalg.norm(actions[:, :ACTION_MOTION_DIMS], axis=1) < 1e-4
        grip = actions[:, GRIPPER_ACTION_INDEX]
        no_op = still & np.r_[False, grip[1:] == grip[:-1]]
        worst = min(worst, rate)
        print(f"{task.task_id:62s} {int(rate * len(eps)):3d}/{len(eps)}  "
              f"mean length {np.mean(lengths):6.1f}  no-op fraction {no_op.mean():.3f}",
              flush=True)
    print(f"worst task success {worst:.2f}; {time.perf_counter() - start:.0f} s")
    return 0 if worst >= THRESHOLD else 1


if __name__ == "__main__":
    sys.exit(main())
