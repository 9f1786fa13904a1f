"""The vectorized metrics agree with a slow, step-by-step implementation on random data.

The reference below follows the written definitions literally, one episode and one step at a
time, with no shared code. Random datasets mix episode lengths (including 1-4 steps, where
jerk is undefined), tasks, failures, injected pauses (zero motion, with and without gripper
changes) and shuffled row order.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from metrics_frames import frames_of, make_episode

from diffrl_eval import constants as C
from diffrl_eval.metrics import (
    action_variance_curves,
    compute_metrics,
    episode_metrics,
    no_op_mask,
)

SEEDS = [0, 1, 2, 3, 4, 5]


# --- the reference: plain Python, one step at a time ---------------------------------------
def slow_no_ops(actions: np.ndarray) -> list[bool]:
    flags = []
    last_kept_gripper = None
    for action in actions:
        norm = math.sqrt(sum(float(x) ** 2 for x in action[:6]))
        gripper = float(action[6])
        if norm < 1e-4 and (last_kept_gripper is None or gripper == last_kept_gripper):
            flags.append(True)
        else:
            flags.append(False)
            last_kept_gripper = gripper
    return flags


def slow_jerks(positions: np.ndarray, hz: float) -> tuple[float | None, float | None]:
    dt = 1.0 / hz
    p = [[float(x) for x in row] for row in positions]
    n = len(p)
    if n < 4:
        return None, None
    squared = []
    for t in range(3, n):
        jerk = [(p[t][k] - 3 * p[t - 1][k] + 3 * p[t - 2][k] - p[t - 3][k]) / dt**3 for k in range(3)]
        squared.append(sum(j * j for j in jerk))
    msj = sum(squared) / len(squared)
    velocities = [[(p[t][k] - p[t - 1][k]) / dt for k in range(3)] for t in range(1, n)]
    peak = max(math.sqrt(sum(v * v for v in vel)) for vel in velocities)
    second = []
    for t in range(2, len(velocities)):
        acc2 = [
            (velocities[t][k] - 2 * velocities[t - 1][k] + velocities[t - 2][k]) / dt**2
            for k in range(3)
        ]
        second.append(sum(a * a for a in acc2))
    integral = sum(second) * dt
    duration = (n - 1) * dt
    if peak == 0 or integral == 0:
        return msj, None
    return msj, -math.log(duration**3 / peak**2 * integral)


def slow_resample(actions: np.ndarray, n_points: int) -> list[list[float]]:
    length = len(actions)
    out = []
    for j in range(n_points):
        position = j / (n_points - 1) * (length - 1)
        lower = min(math.floor(position), length - 1)
        upper = min(lower + 1, length - 1)
        w = position - lower
        out.append([float(actions[lower][d]) * (1 - w) + float(actions[upper][d]) * w for d in range(7)])
    return out


def slow_variance_curves(episodes, n_points: int) -> dict[str, list[list[float]]]:
    by_task: dict[str, list] = {}
    for episode in episodes:
        if any(episode.successes):
            by_task.setdefault(episode.task_id, []).append(slow_resample(episode.actions, n_points))
    curves = {}
    for task, samples in by_task.items():
        if len(samples) < 2:
            continue
        curve = []
        for j in range(n_points):
            row = []
            for d in range(7):
                values = [s[j][d] for s in samples]
                mean = sum(values) / len(values)
                row.append(sum((v - mean) ** 2 for v in values) / len(values))
            curve.append(row)
        curves[task] = curve
    return curves


# --- random datasets -----------------------------------------------------------------------
def random_episodes(seed: int):
    rng = np.random.default_rng(seed)
    episodes = []
    for index in range(int(rng.integers(15, 40))):
        length = int(rng.choice([1, 2, 3, 4, 5, int(rng.integers(6, 80))]))
        task = f"task_{rng.integers(0, 4)}"
        time = np.linspace(0, 1, length)[:, None]
        eef = 0.2 * np.sin(np.pi * time * rng.uniform(0.5, 2.0, 3)) + rng.normal(0, 1e-3, (length, 3))
        if index % 7 == 0:
            eef[:] = 0.3  # a motionless episode: no peak speed, LDLJ undefined
        actions = rng.uniform(-1, 1, (length, 7))
        actions[:, 6] = rng.choice([-1.0, 1.0], length)
        # pauses: runs of tiny motion, some keeping the gripper, some switching it
        for _ in range(int(rng.integers(0, 4))):
            start = int(rng.integers(0, length))
            stop = min(length, start + int(rng.integers(1, 8)))
            actions[start:stop, :6] = rng.normal(0, 1e-6, (stop - start, 6))
            if rng.random() < 0.6:
                actions[start:stop, 6] = actions[start - 1, 6] if start > 0 else 1.0
        if index % 5 == 0:
            actions[: min(length, 3), :6] = 0.0  # an initial pause
        successes = np.zeros(length, dtype=bool)
        if rng.random() < 0.7:
            successes[int(rng.integers(0, length)) :] = True
        episodes.append(make_episode(task, actions=actions, eef_pos=eef, successes=successes))
    return episodes


def shuffled(frames: pl.DataFrame, seed: int) -> pl.DataFrame:
    return frames.sample(fraction=1.0, shuffle=True, seed=seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_no_op_mask_matches_the_sequential_rule(seed):
    episodes = random_episodes(seed)
    expected = [flag for e in episodes for flag in slow_no_ops(e.actions)]
    assert any(expected), "the random data must contain no-ops for this test to mean anything"
    assert no_op_mask(shuffled(frames_of(episodes), seed)).tolist() == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_episode_metrics_match_the_reference(seed):
    episodes = random_episodes(seed)
    hz = [20, 10, 5][seed % 3]
    table = episode_metrics(shuffled(frames_of(episodes), seed), control_hz=hz)
    assert table[C.COL_EPISODE].to_list() == list(range(len(episodes)))
    for row, episode in zip(table.iter_rows(named=True), episodes):
        assert row[C.COL_TASK] == episode.task_id
        assert row["length"] == episode.length
        assert row["success"] == bool(any(episode.successes))
        first = next((t + 1 for t, s in enumerate(episode.successes) if s), None)
        assert row["steps_to_success"] == first
        assert row["no_op_count"] == sum(slow_no_ops(episode.actions))
        msj, ldlj = slow_jerks(episode.eef_pos, hz)
        if msj is None:
            assert row["mean_squared_jerk"] is None
        else:
            assert row["mean_squared_jerk"] == pytest.approx(msj, rel=1e-9, abs=1e-9)
        if ldlj is None:
            assert row["log_dimensionless_jerk"] is None
        else:
            assert row["log_dimensionless_jerk"] == pytest.approx(ldlj, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n_points", [2, 7, 100])
def test_action_variance_curves_match_the_reference(seed, n_points):
    episodes = random_episodes(seed)
    curves, counts = action_variance_curves(shuffled(frames_of(episodes), seed), n_points)
    expected = slow_variance_curves(episodes, n_points)
    assert sorted(curves) == sorted(expected)
    for task, curve in curves.items():
        assert curve.shape == (n_points, 7)
        np.testing.assert_allclose(curve, np.array(expected[task]), rtol=1e-9, atol=1e-12)
    for task in {e.task_id for e in episodes}:
        assert counts[task] == sum(1 for e in episodes if e.task_id == task and any(e.successes))


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_summaries_match_the_reference(seed):
    episodes = random_episodes(seed)
    result = compute_metrics(frames_of(episodes), control_hz=20)
    for task in {e.task_id for e in episodes}:
        mine = [e for e in episodes if e.task_id == task]
        summary = result["per_task"][task]
        lengths = [next(t + 1 for t, s in enumerate(e.successes) if s) for e in mine if any(e.successes)]
        assert summary["success"]["successes"] == len(lengths)
        assert summary["success"]["episodes"] == len(mine)
        assert summary["trajectory_length"]["count"] == len(lengths)
        if lengths:
            mean = sum(lengths) / len(lengths)
            std = math.sqrt(sum((x - mean) ** 2 for x in lengths) / len(lengths))
            assert summary["trajectory_length"]["mean"] == pytest.approx(mean)
            assert summary["trajectory_length"]["std"] == pytest.approx(std)
            assert summary["trajectory_length"]["median"] == pytest.approx(float(np.median(lengths)))
        no_ops = sum(sum(slow_no_ops(e.actions)) for e in mine)
        assert summary["no_op_count"] == no_ops
        assert summary["no_op_fraction"] == pytest.approx(no_ops / sum(e.length for e in mine))
        msjs = [m for m in (slow_jerks(e.eef_pos, 20)[0] for e in mine) if m is not None]
        assert summary["mean_squared_jerk"]["count"] == len(msjs)
        if msjs:
            assert summary["mean_squared_jerk"]["mean"] == pytest.approx(sum(msjs) / len(msjs))
        curve = slow_variance_curves(mine, 100).get(task)
        if curve is None:
            assert summary["action_variance"] is None
        else:
            assert summary["action_variance"] == pytest.approx(float(np.mean(curve)))
