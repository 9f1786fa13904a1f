"""Speed of the data-quality metrics on a LIBERO-90-sized dataset, against a pandas baseline.

The baseline is the straightforward implementation: ``groupby(episode).apply`` with a
per-episode function (numpy inside each episode, the no-op rule as a loop over steps, as
OpenVLA's filtering script does), then a per-task pass for action variance. Both run on
one CPU core in the same session; the benchmark asserts the speed-up and records both times.

Run: ``pytest tests/benchmarks --benchmark-only -p no:cacheprovider``
"""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd
import polars as pl
import pytest

from diffrl_eval import constants as C
from diffrl_eval.metrics import compute_metrics

N_TASKS = 90
EPISODES_PER_TASK = 50
CONTROL_HZ = 20
N_POINTS = 100
REQUIRED_SPEEDUP = 20.0
TIME_BUDGET_S = 2.0


def libero90_sized_frames(seed: int = 0) -> pl.DataFrame:
    """4,500 episodes of 100-200 steps over 90 tasks: smooth eef paths plus jitter, pauses."""
    rng = np.random.default_rng(seed)
    n_episodes = N_TASKS * EPISODES_PER_TASK
    lengths = rng.integers(100, 201, n_episodes)
    n = int(lengths.sum())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    episode = np.repeat(np.arange(n_episodes), lengths)
    step = np.arange(n) - np.repeat(starts, lengths)
    tau = step / np.repeat(lengths - 1, lengths)
    reach = (10 * tau**3 - 15 * tau**4 + 6 * tau**5)[:, None]  # a minimum-jerk reach
    target = np.repeat(rng.uniform(-0.3, 0.3, (n_episodes, 3)), lengths, axis=0)
    wiggle = 0.02 * np.sin(2 * np.pi * tau[:, None] * rng.uniform(1, 3, (1, 3)))
    eef = reach * target + wiggle + rng.normal(0, 2e-4, (n, 3))
    actions = np.clip(np.diff(eef, axis=0, prepend=eef[:1]) * 40, -1, 1)
    actions = np.hstack([actions, rng.normal(0, 0.05, (n, 3)), np.zeros((n, 1))])
    actions[:, 6] = np.where(tau > rng.uniform(0.3, 0.6), 1.0, -1.0)
    # reaction pauses: ~8% of steps with no arm motion, some of them at episode starts
    pause = (rng.random(n) < 0.08) | (step < rng.integers(0, 6, n_episodes)[episode])
    actions[pause, :6] = 0.0
    succeeded = np.repeat(rng.random(n_episodes) < 0.8, lengths)
    success_step = np.repeat((lengths * rng.uniform(0.85, 1.0, n_episodes)).astype(int), lengths)
    task = np.repeat(np.arange(n_episodes) % N_TASKS, lengths)
    task_names = np.array([f"libero_90_task_{i:02d}" for i in range(N_TASKS)])
    return pl.DataFrame(
        [
            pl.Series(C.COL_EPISODE, episode, pl.Int64),
            pl.Series(C.COL_STEP, step, pl.Int64),
            pl.Series(C.COL_TASK, task_names[task]),
            pl.Series(C.COL_INSTRUCTION, np.char.add("do ", task_names[task])),
            pl.Series(C.COL_STATE, np.zeros((n, C.STATE_DIM), np.float32)),
            pl.Series(C.COL_EEF_POS, eef.astype(np.float32)),
            pl.Series(C.COL_ACTION, actions.astype(np.float32)),
            pl.Series(C.COL_REWARD, np.zeros(n, np.float32)),
            pl.Series(C.COL_SUCCESS, succeeded & (step >= success_step - 1)),
            pl.Series(C.COL_DONE, step == np.repeat(lengths - 1, lengths)),
        ]
    )


# --- the baseline ----------------------------------------------------------------------------
def _episode_row(group: pd.DataFrame) -> pd.Series:
    actions = np.stack(group[C.COL_ACTION].to_numpy()).astype(np.float64)
    eef = np.stack(group[C.COL_EEF_POS].to_numpy()).astype(np.float64)
    success = group[C.COL_SUCCESS].to_numpy()
    dt = 1.0 / CONTROL_HZ
    no_ops, last_kept = 0, None
    for action in actions:
        if np.linalg.norm(action[:6]) < 1e-4 and (last_kept is None or action[6] == last_kept):
            no_ops += 1
        else:
            last_kept = action[6]
    msj = ldlj = None
    if len(eef) >= 4:
        jerk = np.diff(eef, n=3, axis=0) / dt**3
        squared = (jerk**2).sum(axis=1)
        msj = squared.mean()
        peak = np.linalg.norm(np.diff(eef, axis=0) / dt, axis=1).max()
        integral = squared.sum() * dt
        if peak > 0 and integral > 0:
            ldlj = -math.log(((len(eef) - 1) * dt) ** 3 / peak**2 * integral)
    resampled = None
    if success.any():
        grid = np.linspace(0, len(actions) - 1, N_POINTS)
        steps = np.arange(len(actions))
        resampled = np.stack([np.interp(grid, steps, actions[:, d]) for d in range(7)], axis=1)
    return pd.Series(
        {
            "task_id": group[C.COL_TASK].iloc[0],
            "success": bool(success.any()),
            "steps_to_success": int(success.argmax()) + 1 if success.any() else None,
            "no_op_count": no_ops,
            "length": len(actions),
            "mean_squared_jerk": msj,
            "log_dimensionless_jerk": ldlj,
            "resampled": resampled,
        }
    )


def pandas_reference(frames: pd.DataFrame) -> dict:
    episodes = frames.groupby(C.COL_EPISODE, sort=True).apply(_episode_row, include_groups=False)
    per_task = {}
    for task, rows in episodes.groupby("task_id"):
        lengths = rows["steps_to_success"].dropna().astype(float)
        msj = rows["mean_squared_jerk"].dropna().astype(float)
        ldlj = rows["log_dimensionless_jerk"].dropna().astype(float)
        curves = [r for r in rows["resampled"] if r is not None]
        variance = np.stack(curves).var(axis=0).mean() if len(curves) >= 2 else None
        per_task[task] = {
            "successes": int(rows["success"].sum()),
            "length_mean": lengths.mean(),
            "length_std": lengths.std(ddof=0),
            "no_op_count": int(rows["no_op_count"].sum()),
            "msj_mean": msj.mean(),
            "ldlj_mean": ldlj.mean(),
            "action_variance": variance,
        }
    return {"episodes": episodes, "per_task": per_task}


# --- the benchmark ---------------------------------------------------------------------------
@contextmanager
def one_core():
    """Pin this process to a single CPU for the measurements (where the OS allows it)."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@pytest.fixture(scope="module")
def frames() -> pl.DataFrame:
    return libero90_sized_frames()


def test_metrics_on_libero90_sized_data_beat_the_pandas_baseline(benchmark, frames):
    frames_pandas = frames.to_pandas()
    with one_core():
        start = time.perf_counter()
        reference = pandas_reference(frames_pandas)
        reference_s = time.perf_counter() - start
        result = benchmark.pedantic(
            compute_metrics, args=(frames,), kwargs={"control_hz": CONTROL_HZ},
            rounds=5, iterations=1, warmup_rounds=1,
        )
    metrics_s = benchmark.stats.stats.median
    speedup = reference_s / metrics_s
    benchmark.extra_info.update(
        n_episodes=frames[C.COL_EPISODE].n_unique(),
        n_frames=frames.height,
        compute_metrics_median_s=metrics_s,
        pandas_reference_s=reference_s,
        speedup=speedup,
    )
    print(
        f"\ncompute_metrics {metrics_s:.3f} s (median of 5), pandas reference {reference_s:.3f} s, "
        f"speed-up {speedup:.1f}x on {frames.height} frames"
    )

    # the two implementations measure the same thing
    by_episode = reference["episodes"]
    episodes = result["episodes"]
    assert [e["no_op_count"] for e in episodes] == by_episode["no_op_count"].tolist()
    assert [e["steps_to_success"] for e in episodes] == [
        None if pd.isna(v) else int(v) for v in by_episode["steps_to_success"]
    ]
    np.testing.assert_allclose(
        [e["mean_squared_jerk"] for e in episodes],
        by_episode["mean_squared_jerk"].astype(float), rtol=1e-9,
    )
    for task, expected in reference["per_task"].items():
        summary = result["per_task"][task]
        assert summary["success"]["successes"] == expected["successes"]
        assert summary["no_op_count"] == expected["no_op_count"]
        assert summary["trajectory_length"]["std"] == pytest.approx(expected["length_std"])
        assert summary["log_dimensionless_jerk"]["mean"] == pytest.approx(expected["ldlj_mean"])
        assert summary["action_variance"] == pytest.approx(expected["action_variance"], rel=1e-9)
    assert result["overall"]["no_op_count"] > 0

    assert metrics_s <= TIME_BUDGET_S
    assert speedup >= REQUIRED_SPEEDUP
