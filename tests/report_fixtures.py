"""Metrics results (``diffrl-eval/metrics`` JSON dicts) for report tests.

Built from per-episode values drawn with a seeded generator; the summaries are computed
from those episodes here, so every number in a fixture is consistent with the others
(success counts, Wilson bounds, means), as the real metrics would be.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from diffrl_eval.constants import ACTION_DIM, SIMULATED_TELEOP_LABEL

WILSON_Z = 1.959963984540054
N_CURVE_POINTS = 100


def wilson(successes: int, episodes: int) -> tuple[float, float]:
    if episodes == 0:
        return 0.0, 1.0
    p = successes / episodes
    z2 = WILSON_Z**2
    centre = (p + z2 / (2 * episodes)) / (1 + z2 / episodes)
    half = (
        WILSON_Z * math.sqrt(p * (1 - p) / episodes + z2 / (4 * episodes**2)) / (1 + z2 / episodes)
    )
    return max(0.0, centre - half), min(1.0, centre + half)


def statistic(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "mean": None, "std": None, "median": None}
    array = np.asarray(values, dtype=float)
    return {
        "count": len(values),
        "mean": float(array.mean()),
        "std": float(array.std()),
        "median": float(np.median(array)),
    }


def summary(episodes: list[dict], steps: int, no_ops: int, action_variance: float | None) -> dict:
    successes = sum(e["success"] for e in episodes)
    low, high = wilson(successes, len(episodes))
    return {
        "success": {
            "successes": successes,
            "episodes": len(episodes),
            "rate": successes / len(episodes) if episodes else 0.0,
            "ci_low": low,
            "ci_high": high,
            "confidence": 0.95,
        },
        "trajectory_length": statistic([e["steps_to_success"] for e in episodes if e["success"]]),
        "no_op_count": no_ops,
        "no_op_fraction": no_ops / steps if steps else 0.0,
        "mean_squared_jerk": statistic(
            [e["mean_squared_jerk"] for e in episodes if e["mean_squared_jerk"] is not None]
        ),
        "log_dimensionless_jerk": statistic(
            [
                e["log_dimensionless_jerk"]
                for e in episodes
                if e["log_dimensionless_jerk"] is not None
            ]
        ),
        "action_variance": action_variance,
    }


def metrics_result(
    source: str,
    *,
    source_label: str | None = None,
    tasks: dict[str, str] | None = None,
    episodes_per_task: int = 12,
    success_probability: float = 0.7,
    jerk_scale: float = 1.0,
    suite: str | None = "spatial",
    seed: int = 0,
) -> dict[str, Any]:
    """A complete metrics result for ``source`` on ``tasks`` (task_id -> instruction)."""
    rng = np.random.default_rng(seed)
    tasks = tasks or {
        "spatial_0": "put the red block on the plate",
        "spatial_1": "put the blue block in the bowl",
        "spatial_2": "push the green block to the left edge",
    }
    episodes: list[dict] = []
    per_task: dict[str, dict] = {}
    curves: dict[str, dict] = {}
    total_steps = total_no_ops = 0
    variances = []
    for task_id, instruction in tasks.items():
        task_episodes, task_steps, task_no_ops = [], 0, 0
        for _ in range(episodes_per_task):
            success = bool(rng.random() < success_probability)
            length = int(rng.integers(60, 140))
            steps_to_success = int(length - rng.integers(0, 5)) if success else None
            no_ops = int(rng.integers(0, 8))
            episode = {
                "episode_index": len(episodes),
                "task_id": task_id,
                "success": success,
                "length": length,
                "steps_to_success": steps_to_success,
                "no_op_count": no_ops,
                "mean_squared_jerk": float(jerk_scale * rng.lognormal(1.0, 0.6)),
                "log_dimensionless_jerk": float(-rng.uniform(6.0, 12.0) * jerk_scale**0.2),
            }
            episodes.append(episode)
            task_episodes.append(episode)
            task_steps += length
            task_no_ops += no_ops
        n_successful = sum(e["success"] for e in task_episodes)
        variance = None
        if n_successful >= 2:
            time = np.linspace(0.0, 1.0, N_CURVE_POINTS)[:, None]
            amplitude = rng.uniform(0.5, 1.5, size=(1, ACTION_DIM)) * 1e-3 * jerk_scale
            curve = amplitude * (1.0 + np.sin(np.pi * time * (1 + np.arange(ACTION_DIM))) ** 2)
            curves[task_id] = {
                "n_points": N_CURVE_POINTS,
                "n_episodes": n_successful,
                "variance": curve.tolist(),
            }
            variance = float(curve.mean())
            variances.append(variance)
        per_task[task_id] = {
            **summary(task_episodes, task_steps, task_no_ops, variance),
            "instruction": instruction,
        }
        total_steps += task_steps
        total_no_ops += task_no_ops
    overall = summary(
        episodes, total_steps, total_no_ops, float(np.mean(variances)) if variances else None
    )
    return {
        "kind": "diffrl-eval/metrics",
        "schema_version": 1,
        "dataset": {
            "path": f"/data/{source}",
            "source": source,
            "source_label": source_label or source,
            "backend": "tabletop",
            "suite": suite,
            "content_hash": f"sha256:{seed:064x}",
            "n_episodes": len(episodes),
            "n_frames": total_steps,
            "control_hz": 20,
            "tool_version": "0.1.0",
        },
        "overall": overall,
        "per_suite": {suite or "all": overall},
        "per_task": per_task,
        "action_variance_curves": curves,
        "episodes": episodes,
    }


def three_sources() -> list[dict[str, Any]]:
    """human (simulated teleoperation), gaussian-ppo and diffusion-ppo on the same tasks."""
    return [
        metrics_result(
            "human",
            source_label=SIMULATED_TELEOP_LABEL,
            success_probability=0.9,
            jerk_scale=3.0,
            seed=1,
        ),
        metrics_result("gaussian-ppo", success_probability=0.6, jerk_scale=5.0, seed=2),
        metrics_result("diffusion-ppo", success_probability=0.85, jerk_scale=1.0, seed=3),
    ]


def computed_results(directory: Path) -> list[dict[str, Any]]:
    """Metrics computed by ``compute_metrics`` on two datasets written to ``directory``.

    Includes the awkward cases real data have: a task with a single success (no variance
    curve), an episode too short for jerk, and an episode that never moves (zero jerk).
    """
    from diffrl_eval.dataset import Episode, load_dataset, write_dataset
    from diffrl_eval.metrics import compute_metrics

    def episode(rng, task_id: str, length: int, success: bool, still: bool = False) -> Episode:
        successes = np.zeros(length, dtype=bool)
        if success:
            successes[int(length * 0.8) :] = True
        steps = np.zeros((length, 3)) if still else rng.normal(scale=0.01, size=(length, 3))
        actions = (
            np.zeros((length, ACTION_DIM)) if still else rng.uniform(-1, 1, (length, ACTION_DIM))
        )
        return Episode(
            task_id=task_id,
            instruction=f"{task_id.replace('_', ' ')} the block",
            states=rng.normal(size=(length, 8)),
            eef_pos=np.cumsum(steps, axis=0),
            actions=actions,
            rewards=successes.astype(np.float32),
            successes=successes,
        )

    results = []
    for seed, (source, label) in enumerate(
        [("human", SIMULATED_TELEOP_LABEL), ("diffusion-ppo", None)]
    ):
        rng = np.random.default_rng(seed)
        episodes = [episode(rng, "lift", int(rng.integers(30, 60)), bool(i % 4)) for i in range(8)]
        episodes += [episode(rng, "push", 40, i == 0) for i in range(3)]
        episodes += [episode(rng, "push", 3, False), episode(rng, "lift", 25, False, still=True)]
        path = write_dataset(
            directory / source,
            episodes,
            source=source,
            source_label=label,
            backend="tabletop",
            suite="toy",
            seed=seed,
        )
        # Through JSON, as `diffrl-eval metrics --json` hands it to the report.
        results.append(json.loads(json.dumps(compute_metrics(load_dataset(path)))))
    return results
