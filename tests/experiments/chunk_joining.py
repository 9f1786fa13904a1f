"""Experiment: how each chunk-join mode changes a trained expert's data.

Not a test. Loads a finished expert run (``train-expert --out DIR``), runs it
deterministically from the task's fixed initial states once per join mode, and prints per
mode: success on those starts, the action second difference and squared jerk at the chunk
boundaries against inside the chunk (successful episodes), and the mean squared jerk of
the successful episodes. One JSON line per mode.

    python tests/experiments/chunk_joining.py --run /tmp/experts/spatial_left_cube_on_plate

or a saved policy directly (a checkpoint directory, e.g. ``expert_tabletop.py
--save-policy`` or ``--bc-cache`` entries) with its task named:

    python tests/experiments/chunk_joining.py --checkpoint DIR --task spatial_left_cube_on_plate
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from diffrl_eval.dataset import load_dataset
from diffrl_eval.dataset.writer import write_dataset
from diffrl_eval.envs.tabletop import TabletopBackend
from diffrl_eval.metrics import mean_squared_jerk, roughness_by_chunk_position
from generators.expert.chunk_joining import CHUNK_JOIN_MODES, executed_steps
from generators.expert.evaluation import rollout_episodes
from generators.policy.checkpoint import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", type=Path, help="finished expert run directory")
    source.add_argument("--checkpoint", type=Path,
                        help="a saved policy directory (needs --task)")
    parser.add_argument("--task", help="task id, with --checkpoint")
    parser.add_argument("--modes", default=",".join(CHUNK_JOIN_MODES))
    parser.add_argument("--states", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    backend = TabletopBackend()
    if args.run is not None:
        run = json.loads((args.run / "run.json").read_text())
        task = backend.task(run["task"])
        kind = "gaussian" if run["generator"] == "gaussian-ppo" else "diffusion"
        policy = load_checkpoint(args.run / "policy", kind=kind).eval()
    else:
        if not args.task:
            parser.error("--checkpoint needs --task")
        task = backend.task(args.task)
        policy = load_checkpoint(args.checkpoint).eval()  # its manifest names the kind
    for mode in args.modes.split(","):
        started = time.perf_counter()
        episodes = rollout_episodes(policy, backend, task, list(range(args.states)),
                                    seed=args.seed, chunk_join=mode)
        seconds = time.perf_counter() - started
        successes = [e for e in episodes if e.success]
        te = executed_steps(mode, policy.config.horizon, policy.config.action_steps)
        with tempfile.TemporaryDirectory() as tmp:
            path = write_dataset(Path(tmp) / "data", successes, source="expert",
                                 backend=backend.name, suite=None,
                                 control_hz=backend.control_hz)
            frames = load_dataset(path).frames_df
        table = roughness_by_chunk_position(frames, te, backend.control_hz)
        boundary = table.filter(pl.col("boundary"))
        inside = table.filter(~pl.col("boundary"))

        def weighted(part: pl.DataFrame, column: str) -> float:
            return float((part[column] * part["samples"]).sum() / part["samples"].sum())

        msj = mean_squared_jerk(frames, backend.control_hz)
        print(json.dumps({
            "mode": mode, "executed_steps": te,
            "success": len(successes) / len(episodes),
            "second_difference_boundary": weighted(boundary, "action_second_difference"),
            "second_difference_inside": weighted(inside, "action_second_difference"),
            "squared_jerk_boundary": weighted(boundary, "squared_jerk"),
            "squared_jerk_inside": weighted(inside, "squared_jerk"),
            "mean_squared_jerk": float(np.nanmean(msj)),
            "mean_length": float(np.mean([e.length for e in successes])),
            "by_position": table[["position", "action_second_difference"]].to_dicts(),
            "seconds": seconds,
            "frames": int(frames.height),
        }), flush=True)


if __name__ == "__main__":
    main()
