"""The data-quality checks and diversity metrics, each against a hand-worked example."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from diffrl_eval import constants as C
from diffrl_eval.dataset.sources import Semantics
from diffrl_eval.dataset.sources.semantics import FeatureSlice
from diffrl_eval.metrics.diversity import count_strategies, diversity, voxel_coverage
from diffrl_eval.metrics.quality import (
    action_jump_rows,
    dimension_checks,
    idle_rows,
    quality_checks,
    timestamp_problems,
)
from diffrl_eval.metrics.segments import EpisodeSegments

HZ = 10.0


def frames(episodes, tasks=None, timestamps=None) -> pl.DataFrame:
    """Measurement frames from a list of (eef (T, 3), action (T, Da)) pairs."""
    parts = []
    for index, (eef, action) in enumerate(episodes):
        n = len(action)
        part = pl.DataFrame({
            C.COL_EPISODE: np.full(n, index), C.COL_STEP: np.arange(n),
            C.COL_TASK: [tasks[index] if tasks else "t"] * n, C.COL_INSTRUCTION: ["do"] * n,
            C.COL_EEF_POS: np.asarray(eef, dtype=np.float64),
            C.COL_ACTION: np.asarray(action, dtype=np.float64),
            C.COL_SUCCESS: np.arange(n) == n - 1,
        })
        if timestamps is not None:
            part = part.with_columns(pl.Series("timestamp", np.asarray(timestamps[index], float)))
        parts.append(part)
    return pl.concat(parts)


def semantics(eef=True):
    return Semantics(FeatureSlice("eef_pos") if eef else None, HZ, 1, "delta", True)


def test_idle_span_is_a_run_of_slow_end_effector_steps_at_least_half_a_second_long():
    # x moves 1 cm per step (0.1 m/s at 10 Hz) except steps 5..10, where it stands still:
    # rows 5..10 have speed 0 (row 5 is the first step without motion), 6 rows >= 5 needed
    x = np.concatenate([np.arange(5) * 0.01, np.full(6, 0.04), 0.04 + np.arange(1, 5) * 0.01])
    eef = np.stack([x, np.zeros_like(x), np.zeros_like(x)], 1)
    seg = EpisodeSegments.from_frames(frames([(eef, np.zeros((len(x), 2)))]))
    idle, rule = idle_rows(seg, HZ, has_eef=True)
    assert np.flatnonzero(idle).tolist() == [5, 6, 7, 8, 9, 10]
    assert "0.005 m/s" in rule and ">= 5 steps" in rule
    # a 4-step pause is shorter than 0.5 s and is not idle
    x = np.concatenate([np.arange(5) * 0.01, np.full(3, 0.04), 0.04 + np.arange(1, 5) * 0.01])
    eef = np.stack([x, np.zeros_like(x), np.zeros_like(x)], 1)
    seg = EpisodeSegments.from_frames(frames([(eef, np.zeros((len(x), 2)))]))
    assert not idle_rows(seg, HZ, has_eef=True)[0].any()


def test_idle_spans_of_absolute_actions_without_end_effector_use_the_action_rate():
    # a joint target ramps over range 1 at 0.1 per step (1/s), holds for 8 steps, ramps on
    target = np.concatenate([np.arange(6) * 0.1, np.full(8, 0.5), 0.5 + np.arange(1, 6) * 0.1])
    action = np.stack([target, np.ones_like(target)], 1)
    seg = EpisodeSegments.from_frames(frames([(np.full((len(target), 3), np.nan), action)]))
    idle, rule = idle_rows(seg, HZ, has_eef=False)
    assert np.flatnonzero(idle).tolist() == list(range(6, 14))
    assert "of its range per second" in rule


def test_action_jump_is_a_change_far_beyond_the_dims_typical_change():
    rng = np.random.default_rng(0)
    action = np.cumsum(rng.normal(0, 0.01, (200, 2)), axis=0)
    action[120:, 0] += 1.0  # one jump of 1.0 into row 120, typical change ~0.01
    gripper = np.where(np.arange(200) % 50 < 25, -1.0, 1.0)[:, None]  # toggles: not jumps
    action = np.hstack([action, gripper])
    seg = EpisodeSegments.from_frames(frames([(np.zeros((200, 3)), action)]))
    assert np.flatnonzero(action_jump_rows(seg)).tolist() == [120]


def test_zero_variance_and_clipped_dims_leave_binary_gripper_alone():
    rng = np.random.default_rng(1)
    n = 100
    clipped = np.clip(rng.normal(0, 1, n), -1, 1)  # ~32% of values at +-1
    smooth = rng.normal(0, 0.1, n)
    gripper = np.where(np.arange(n) < 50, -1.0, 1.0)
    constant = np.full(n, 0.3)
    checks = dimension_checks(np.stack([clipped, smooth, gripper, constant]))
    assert checks["zero_variance_dims"] == [3]
    assert list(checks["clipped_dims"]) == ["0"]
    expected = float((((clipped == 1) | (clipped == -1)).sum() - 2) / n)
    assert checks["clipped_dims"]["0"] == pytest.approx(expected)


def test_timestamps_count_non_increasing_steps_and_dropped_frames():
    stamps = [[0.0, 0.1, 0.2, 0.5, 0.6, 0.6, 0.7]]  # a 0.3 s gap (dropped), a repeat
    table = frames([(np.zeros((7, 3)), np.zeros((7, 2)))], timestamps=stamps)
    problems = timestamp_problems(table, fps=10)
    assert problems.row(0, named=True) == {C.COL_EPISODE: 0, "non_increasing": 1, "dropped": 1}


def test_near_duplicate_episodes_are_found_within_a_task_only():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(40, 3))
    b = rng.normal(size=(40, 3))
    episodes = [(np.zeros((40, 3)), a), (np.zeros((40, 3)), b),
                (np.zeros((40, 3)), a + 1e-6), (np.zeros((40, 3)), a)]
    result = quality_checks(frames(episodes, tasks=["t", "t", "t", "u"]), semantics())
    assert result["near_duplicates"]["pairs"] == [[0, 2]]
    assert "near-duplicate of episode 0" in result["flagged_episodes"]["2"]


def test_two_well_separated_route_families_count_as_two_strategies():
    rng = np.random.default_rng(3)
    t = np.linspace(0, 1, 32)[:, None]
    left = np.hstack([t, 0.2 * np.sin(np.pi * t), 0 * t])
    right = np.hstack([t, -0.2 * np.sin(np.pi * t), 0 * t])
    paths = np.stack([(left if i % 2 else right) + rng.normal(0, 0.005, (32, 3)) for i in range(12)])
    assert count_strategies(paths) == 2
    one_family = np.stack([left + rng.normal(0, 0.005, (32, 3)) for _ in range(12)])
    assert count_strategies(one_family) == 1
    assert count_strategies(one_family[:3]) is None  # too few episodes


def test_voxel_coverage_counts_distinct_cubes():
    points = np.array([[0.001, 0.001, 0.001], [0.019, 0.0, 0.0], [0.021, 0.0, 0.0],
                       [0.5, 0.5, 0.5], [np.nan, 0, 0]])
    assert voxel_coverage(points, 0.02) == 3


def test_dataset_diversity_is_a_mean_over_tasks_with_a_bootstrap_interval():
    rng = np.random.default_rng(4)
    episodes, tasks = [], []
    for task, spread in (("a", 0.01), ("b", 0.1), ("c", 0.3)):
        for _ in range(5):
            eef = np.cumsum(rng.normal(0, spread, (30, 3)), axis=0)
            episodes.append((eef, rng.normal(size=(30, 2))))
            tasks.append(task)
    seg = EpisodeSegments.from_frames(frames(episodes, tasks))
    block = diversity(seg, has_eef=True)
    per_task = [block["per_task"][t]["coverage_voxels"] for t in "abc"]
    assert block["coverage_voxels"]["mean"] == pytest.approx(np.mean(per_task))
    assert min(per_task) <= block["coverage_voxels"]["ci_low"] <= block["coverage_voxels"]["mean"]
    assert block["coverage_voxels"]["mean"] <= block["coverage_voxels"]["ci_high"] <= max(per_task)


def test_flagged_episodes_say_why():
    rng = np.random.default_rng(5)
    good = np.cumsum(rng.normal(0, 0.01, (30, 3)), axis=0)
    bad_action = rng.normal(0, 0.01, (30, 2))
    bad_action[10, 0] = np.nan
    episodes = [(good, rng.normal(0, 0.01, (30, 2))), (good, bad_action), (good[:3], np.zeros((3, 2)))]
    result = quality_checks(frames(episodes), semantics())
    assert result["non_finite_rows"] == 1
    assert result["flagged_episodes"]["1"][0] == "1 row(s) with NaN or inf"
    assert "only 3 step(s)" in result["flagged_episodes"]["2"]
    assert "0" not in result["flagged_episodes"]


def test_silhouette_matches_scikit_learn():
    from scipy.spatial.distance import pdist, squareform
    from sklearn.metrics import silhouette_score

    from diffrl_eval.metrics.diversity import silhouette

    rng = np.random.default_rng(6)
    points = np.vstack([rng.normal(0, 1, (7, 4)), rng.normal(3, 1, (5, 4)), rng.normal(-3, 1, (1, 4))])
    labels = np.array([1] * 7 + [2] * 5 + [3])
    assert silhouette(squareform(pdist(points)), labels) == pytest.approx(
        silhouette_score(points, labels))
