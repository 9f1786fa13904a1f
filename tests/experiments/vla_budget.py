"""Experiment: how tiny-vla's in-distribution success on human data grows with its budget.

Not a test. For the first ``--tasks`` tasks of tabletop-spatial (the ``quick`` preset's
tasks), generates the simulated-teleoperation data with each ``--episodes`` count, trains
tiny-vla (the ``quick`` hparams with ``train_steps`` set to each ``--steps`` value, seed 0)
and evaluates it on ``--eval-episodes`` fixed initial states per task. Prints one row per
(episodes, steps) with success, its Wilson 95% interval and the wall times; writes
``summary.json`` under ``--out``. What the ``quick`` preset's budget is chosen from.

    nice -n 5 python tests/experiments/vla_budget.py --out runs/vla-budget \
        --tasks 2 --episodes 10 30 --steps 1500 3000 6000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SUITE = "tabletop-spatial"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/vla-budget"))
    parser.add_argument("--tasks", type=int, default=2)
    parser.add_argument("--episodes", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--steps", type=int, nargs="+", default=[1500, 3000, 6000])
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--hparams-preset", default="quick")
    args = parser.parse_args()

    from diffrl_eval.envs.base import get_backend
    from diffrl_eval.vla.evaluation import evaluate_checkpoint
    from diffrl_eval.vla.training import train_vla
    from vla.tiny_vla.hparams import resolve_hparams

    tasks = [t.task_id for t in get_backend("tabletop").tasks(SUITE)][: args.tasks]
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for episodes in args.episodes:
        data = args.out / f"human-{episodes}"
        if not data.exists():
            command = [sys.executable, "-m", "diffrl_eval", "generate", "--source", "human",
                       "--episodes", str(episodes), "--out", str(data)]
            for task in tasks:
                command += ["--task", task]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        for steps in args.steps:
            hparams = resolve_hparams({"preset": args.hparams_preset, "train_steps": steps})
            ckpt = args.out / f"ckpt-{episodes}-{steps}"
            started = time.perf_counter()
            train_vla([data], ckpt, hparams=hparams, seed=0, overwrite=True)
            train_seconds = time.perf_counter() - started
            started = time.perf_counter()
            result = evaluate_checkpoint(ckpt, [SUITE], tasks=tasks, progress=False,
                                         episodes_per_task=args.eval_episodes, seed=0)
            eval_seconds = time.perf_counter() - started
            overall = result["overall"]
            rows.append({"episodes_per_task": episodes, "train_steps": steps,
                         "successes": overall["successes"], "episodes": overall["episodes"],
                         "rate": overall["rate"], "ci_low": overall["ci_low"],
                         "ci_high": overall["ci_high"], "train_seconds": train_seconds,
                         "eval_seconds": eval_seconds})
            print(f"{episodes} episodes/task, {steps} steps: {overall['successes']}/"
                  f"{overall['episodes']} ({overall['rate']:.0%}) "
                  f"[{overall['ci_low']:.0%}, {overall['ci_high']:.0%}], train "
                  f"{train_seconds:.0f} s, eval {eval_seconds:.0f} s", flush=True)
            (args.out / "summary.json").write_text(json.dumps(
                {"tasks": tasks, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
