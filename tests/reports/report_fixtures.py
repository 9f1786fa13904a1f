"""Metrics results (``diffrl-eval/metrics`` JSON dicts) for report tests.

Built from per-episode values drawn with a seeded generator; the summaries are computed
from those episodes here, so every number in a fixture is consistent with the others
(success counts, Wilson bounds, means), as the real metrics would be.
"""

from __future__ import annotations

import hashlib
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


# --- VLA evaluation results (``diffrl-eval/vla-eval`` and ``-seeds``) ---------------------------

ID_SUITES = {
    "spatial": ["spatial_0", "spatial_1"],
    "object": ["object_0", "object_1"],
    "goal": ["goal_0", "goal_1"],
}
OOD_SUITES = {"long": ["long_0", "long_1"], "goal": ["goal_0", "goal_1"], "object": ["object_0"]}
HPARAMS_HASH = "sha256:" + "ab" * 32


def _digest(*parts: Any) -> str:
    return "sha256:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def success(successes: int, episodes: int) -> dict[str, Any]:
    low, high = wilson(successes, episodes)
    return {
        "successes": successes,
        "episodes": episodes,
        "rate": successes / episodes if episodes else 0.0,
        "ci_low": low,
        "ci_high": high,
        "confidence": 0.95,
    }


def vla_eval_result(
    sources: list[str],
    *,
    protocol: str = "in-distribution",
    seed: int = 0,
    suites: dict[str, list[str]] | None = None,
    successes_per_task: dict[str, int] | None = None,
    success_probability: float = 0.7,
    episodes_per_task: int = 10,
    train_suites: list[str] | None = None,
    hparams_hash: str = HPARAMS_HASH,
    human_label: str = SIMULATED_TELEOP_LABEL,
    eval_seed: int = 1000,
) -> dict[str, Any]:
    """One VLA checkpoint evaluated once: successes per task drawn (or given), sums consistent."""
    suites = suites or (ID_SUITES if protocol == "in-distribution" else OOD_SUITES)
    rng = np.random.default_rng([seed, len(sources), eval_seed])
    per_task, per_suite = {}, {}
    total = [0, 0]
    for suite, tasks in suites.items():
        suite_total = [0, 0]
        for task in tasks:
            if successes_per_task is not None and task in successes_per_task:
                wins = successes_per_task[task]
            else:
                wins = int(rng.binomial(episodes_per_task, success_probability))
            per_task[task] = {
                "suite": suite,
                "instruction": f"do {task.replace('_', ' ')}",
                **success(wins, episodes_per_task),
                "init_state_indices": list(range(episodes_per_task)),
                "episode_seeds": [eval_seed + i for i in range(episodes_per_task)],
            }
            suite_total[0] += wins
            suite_total[1] += episodes_per_task
        per_suite[suite] = success(*suite_total)
        total[0] += suite_total[0]
        total[1] += suite_total[1]
    if train_suites is None:
        train_suites = list(suites) if protocol == "in-distribution" else ["tabletop-90"]
    datasets = [
        {
            "path": f"/runs/data/{source}",
            "source": source,
            "source_label": human_label if source == "human" else source,
            "suite": suite,
            "content_hash": _digest(source, suite),
            "n_episodes": 50,
        }
        for source in sources
        for suite in train_suites
    ]
    return {
        "kind": "diffrl-eval/vla-eval",
        "schema_version": 1,
        "vla": "tiny-vla",
        "checkpoint": f"/runs/vla/{'+'.join(sorted(sources))}/seed{seed}/model.safetensors",
        "checkpoint_hash": _digest(*sorted(sources), seed, protocol),
        "hparams_hash": hparams_hash,
        "training": {
            "seed": seed,
            "datasets": datasets,
            "sources": sorted(sources),
            "train_suites": train_suites,
        },
        "backend": "tabletop",
        "protocol": protocol,
        "eval_seed": eval_seed,
        "episodes_per_task": episodes_per_task,
        "per_task": per_task,
        "per_suite": per_suite,
        "overall": success(*total),
        "env_steps": total[1] * 150,
        "wall_seconds": 12.5 * total[1],
        "tool_version": "0.1.0",
    }


def vla_seed_aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The multi-seed aggregate of ``runs`` (same sources, protocol and hparams)."""

    def spread(rates: list[float]) -> dict[str, Any]:
        array = np.asarray(rates)
        return {"mean": float(array.mean()), "std": float(array.std()), "rates": rates}

    first = runs[0]
    return {
        "kind": "diffrl-eval/vla-eval-seeds",
        "schema_version": 1,
        "hparams_hash": first["hparams_hash"],
        "sources": first["training"]["sources"],
        "protocol": first["protocol"],
        "seeds": [run["training"]["seed"] for run in runs],
        "per_suite": {
            suite: spread([run["per_suite"][suite]["rate"] for run in runs])
            for suite in first["per_suite"]
        },
        "overall": spread([run["overall"]["rate"] for run in runs]),
        "per_task": {
            task: spread([run["per_task"][task]["rate"] for run in runs])
            for task in first["per_task"]
        },
        "runs": runs,
    }


def paper_vla_results() -> list[dict[str, Any]]:
    """Table I from three seeds per source (as aggregates), Table II from one seed per row."""
    in_distribution = [
        vla_seed_aggregate(
            [
                vla_eval_result([source], seed=seed, success_probability=probability)
                for seed in (0, 1, 2)
            ]
        )
        for source, probability in (
            ("human", 0.75),
            ("gaussian-ppo", 0.55),
            ("diffusion-ppo", 0.85),
        )
    ]
    ood = [
        vla_eval_result(sources, protocol="ood-zero-shot", success_probability=probability)
        for sources, probability in (
            (["human"], 0.05),
            (["diffusion-ppo"], 0.1),
            (["diffusion-ppo", "human"], 0.25),
        )
    ]
    return [*in_distribution, *ood]


def generation_cost() -> dict[str, Any]:
    return {
        "human": {
            "env_steps": 3600,
            "wall_seconds": 41.5,
            "episodes": 36,
            "expert_env_steps": None,
            "expert_seconds": None,
        },
        "gaussian-ppo": {
            "env_steps": 3000,
            "wall_seconds": 30.0,
            "episodes": 36,
            "expert_env_steps": 1_200_000,
            "expert_seconds": 5400.0,
        },
        "diffusion-ppo": {
            "env_steps": 2800,
            "wall_seconds": 95.0,
            "episodes": 36,
            "expert_env_steps": 900_000,
            "expert_seconds": 7300.0,
        },
    }


def ablation() -> dict[str, Any]:
    steps = [0, 50_000, 100_000, 150_000, 200_000]
    return {
        "task": "spatial_0",
        "curves": [
            {"variant": "full method", "env_steps": steps,
             "success_rate": [0.3, 0.55, 0.75, 0.85, 0.9]},
            {"variant": "DDPM 100 steps", "env_steps": steps,
             "success_rate": [0.3, 0.45, 0.6, 0.7, 0.75]},
            {"variant": "constant learning rate", "env_steps": steps,
             "success_rate": [0.3, 0.5, 0.35, 0.2, 0.1]},
        ],
    }


PRESET_NOTE = "quick: 3 tasks per suite, 12 episodes per task, 10 evaluation trials per task"


def paper_run() -> dict[str, Any]:
    """Every input of a full report, as keyword arguments of ``build_report``/``render_page``."""
    return {
        "vla_results": paper_vla_results(),
        "generation_cost": generation_cost(),
        "ablation": ablation(),
        "preset_note": PRESET_NOTE,
    }


def run_extras(results: list[dict[str, Any]], vla_results: list[dict[str, Any]],
               directory: Path) -> dict[str, Any]:
    """What a `compare` run adds to the page: its verdict, the experts' training curves and
    episode clips (an animated WebP and an MP4 per source, written under ``directory``)."""
    from diffrl_eval.clip import write_clip
    from diffrl_eval.compare.verdict import build_verdict

    y, x = np.mgrid[0:64, 0:64]
    frames = np.stack([np.stack([(x * 4 + 8 * t) % 256, y * 4, np.full_like(x, 90)], -1)
                       for t in range(12)]).astype(np.uint8)
    sources = list(dict.fromkeys(r["dataset"]["source"] for r in results))
    task = next(iter(results[0]["per_task"]))
    clips = []
    for source in sources:
        for kind, suffix in (("data", ".webp"), ("VLA rollout", ".mp4")):
            name = f"{source}-{kind.split()[0]}{suffix}".replace("/", "_")
            write_clip(frames, directory / name)
            clips.append({"source": source, "task": task, "kind": kind, "success": True,
                          "path": name})
    curves = {source: {t: {"env_steps": [0, 2000, 4000], "success_rate": [0.3, 0.5, 0.7]}
                       for t in results[0]["per_task"]}
              for source in ("gaussian-ppo", "diffusion-ppo")}
    verdict = build_verdict(results, vla_results, sources=sources)
    return {"verdict": verdict, "expert_curves": curves, "clips": clips,
            "clips_base": directory}
