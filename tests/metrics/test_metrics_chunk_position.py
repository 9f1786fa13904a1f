"""Roughness by position within the executed chunk: a hand-worked example, a slow
per-episode reference on random data, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metrics_frames import frames_of, make_episode

from diffrl_eval.metrics import CHUNK_POSITION_COLUMNS, roughness_by_chunk_position


def test_a_jump_at_each_chunk_boundary_shows_only_at_the_boundary_positions():
    # chunks of 3 steps, x action = chunk number: 0 0 0 1 1 1 2 2 — a step at each boundary
    actions = np.zeros((8, 7))
    actions[:, 0] = [0, 0, 0, 1, 1, 1, 2, 2]
    table = roughness_by_chunk_position(frames_of([make_episode(actions=actions)]), 3, 1.0)
    assert table.columns == list(CHUNK_POSITION_COLUMNS)
    # centres t = 1..6; second differences: t=1: 0, t=2: 1, t=3: -1, t=4: 0, t=5: 1, t=6: -1
    # positions t mod 3: 1, 2, 0, 1, 2, 0
    assert table["position"].to_list() == [0, 1, 2]
    assert table["boundary"].to_list() == [True, False, True]
    assert table["samples"].to_list() == [2, 2, 2]
    assert table["action_second_difference"].to_list() == [1.0, 0.0, 1.0]


def test_the_gripper_command_is_left_out_and_jerk_is_placed_at_its_centre_step():
    actions = np.zeros((6, 7))
    actions[:, 6] = [-1, 1, -1, 1, -1, 1]  # gripper toggling every step: ignored
    eef = np.zeros((6, 3))
    eef[:, 0] = [0, 0, 0, 1, 1, 1]  # one step up between t=2 and t=3
    table = roughness_by_chunk_position(
        frames_of([make_episode(actions=actions, eef_pos=eef)]), 2, control_hz=2.0)
    assert table["action_second_difference"].to_list() == [0.0, 0.0]
    # Δ³p over (p[t-1], p[t], p[t+1], p[t+2]) for t = 1, 2, 3: 1, -2, 1 -> squared 1, 4, 1,
    # times 1/dt⁶ = 64; t = 1, 3 are position 1, t = 2 position 0
    assert table["squared_jerk"].to_list() == [4 * 64.0, 64.0]


def _reference(episodes, chunk_steps: int, control_hz: float, successful_only: bool):
    """Slow and obvious: loop over episodes and steps."""
    dt = 1.0 / control_hz
    second = {p: [] for p in range(chunk_steps)}
    jerk = {p: [] for p in range(chunk_steps)}
    for episode in episodes:
        if successful_only and not episode.successes.any():
            continue
        a = episode.actions[:, :6].astype(np.float64)
        x = episode.eef_pos.astype(np.float64)
        for t in range(1, episode.length - 1):
            second[t % chunk_steps].append(float(np.sum((a[t + 1] - 2 * a[t] + a[t - 1]) ** 2)))
            if t <= episode.length - 3:
                d3 = x[t + 2] - 3 * x[t + 1] + 3 * x[t] - x[t - 1]
                jerk[t % chunk_steps].append(float(np.sum(d3**2)) / dt**6)
    mean = lambda values: float(np.mean(values)) if values else math.nan  # noqa: E731
    return ([len(second[p]) for p in range(chunk_steps)],
            [mean(second[p]) for p in range(chunk_steps)],
            [mean(jerk[p]) for p in range(chunk_steps)])


@pytest.mark.parametrize("successful_only", [False, True])
def test_matches_a_slow_reference_on_random_episodes(successful_only):
    rng = np.random.default_rng(3)
    episodes = []
    for index, length in enumerate([1, 2, 3, 4, 9, 17, 30]):
        successes = np.zeros(length, dtype=bool)
        successes[-1] = index % 2 == 0
        episodes.append(make_episode(
            task_id=f"task_{index % 2}",
            actions=rng.normal(size=(length, 7)).astype(np.float32),
            eef_pos=rng.normal(size=(length, 3)).astype(np.float32),
            successes=successes,
        ))
    frames = frames_of(episodes)
    table = roughness_by_chunk_position(frames, 4, 20.0, successful_only=successful_only)
    samples, second, jerk = _reference(
        [e for e in episodes], 4, 20.0, successful_only)
    assert table["samples"].to_list() == samples
    np.testing.assert_allclose(table["action_second_difference"].to_numpy(), second,
                               rtol=1e-5)
    np.testing.assert_allclose(table["squared_jerk"].to_numpy(), jerk, rtol=1e-5)


def test_positions_without_samples_are_nan_and_bad_chunk_steps_are_refused():
    table = roughness_by_chunk_position(frames_of([make_episode(length=3)]), 4, 20.0)
    assert table["samples"].to_list() == [0, 1, 0, 0]
    assert math.isnan(table["action_second_difference"][0])
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="chunk_steps"):
            roughness_by_chunk_position(frames_of([make_episode(length=3)]), bad, 20.0)
