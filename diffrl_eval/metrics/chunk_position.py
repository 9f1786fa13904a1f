"""Where roughness comes from: action second difference and jerk by position in the chunk.

A chunk policy executes Te actions per decision, so step t of an episode is position
t mod Te of its chunk (episodes start with a chunk). A sample centred at step t uses the
actions t-1, t, t+1: the squared second difference of the motion part of the action
(xyz + rotation, the gripper command left out: it is binary and would dominate),
``||a[t+1] - 2 a[t] + a[t-1]||²``, and the squared jerk of the end-effector path those
actions produce, ``||Δ³p||² / dt⁶`` over positions t-1 .. t+2 (the sample
:mod:`diffrl_eval.metrics.jerk` averages into the mean squared jerk). Positions 0 and Te-1
straddle a chunk boundary; the others lie inside a chunk. Equal means at every position
say the chunks join as smoothly as they flow inside; high means at 0 and Te-1 say the
boundaries make the roughness.

Shapes: N frames, E episodes, Te executed steps per chunk.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from diffrl_eval.metrics.jerk import _check_rate
from diffrl_eval.metrics.segments import EpisodeSegments, FrameTable
from diffrl_eval.metrics.success import episode_success

MOTION_DIMS = 6  # xyz + rotation; the gripper command is the seventh

CHUNK_POSITION_COLUMNS = ("position", "boundary", "samples", "action_second_difference",
                          "squared_jerk")


def roughness_by_chunk_position(frames: FrameTable | EpisodeSegments, chunk_steps: int,
                                control_hz: float, *, successful_only: bool = False
                                ) -> pl.DataFrame:
    """Mean squared action second difference and mean squared jerk per chunk position.

    One row per position 0 .. Te-1 (``chunk_steps``): ``boundary`` (positions 0 and Te-1),
    ``samples`` (steps with a defined sample), ``action_second_difference`` (action units²)
    and ``squared_jerk`` ((m/s³)²); NaN where a position has no sample.
    ``successful_only`` keeps the successful episodes.
    """
    if isinstance(chunk_steps, bool) or not isinstance(chunk_steps, (int, np.integer)) \
            or chunk_steps < 1:
        raise ValueError(f"chunk_steps must be a whole number >= 1, got {chunk_steps!r}")
    dt = _check_rate(control_hz)
    segments = EpisodeSegments.of(frames)
    step = segments.step_in_episode  # (N,)
    length = segments.lengths[segments.episode_of_row]  # (N,) length of each row's episode
    keep = (episode_success(segments)[segments.episode_of_row] if successful_only
            else np.ones(segments.n_frames, dtype=bool))
    actions = segments.actions_by_dim[:MOTION_DIMS]  # (6, N)
    positions = segments.eef_pos_by_dim  # (3, N)

    # centred at row r (= step t): a[t+1] - 2 a[t] + a[t-1]; needs 1 <= t <= T-2
    second = np.full(segments.n_frames, np.nan)
    if segments.n_frames >= 3:
        second[1:-1] = (np.diff(actions, n=2, axis=1) ** 2).sum(axis=0)
    second[~((step >= 1) & (step <= length - 2) & keep)] = np.nan

    # centred at step t: p[t+2] - 3 p[t+1] + 3 p[t] - p[t-1]; needs 1 <= t <= T-3
    jerk = np.full(segments.n_frames, np.nan)
    if segments.n_frames >= 4:
        jerk[1:-2] = (np.diff(positions, n=3, axis=1) ** 2).sum(axis=0) / dt**6
    jerk[~((step >= 1) & (step <= length - 3) & keep)] = np.nan

    table = pl.DataFrame({"position": (step % chunk_steps).astype(np.int64),
                          "second": second, "jerk": jerk})
    summary = (
        table.group_by("position")
        .agg(
            pl.col("second").is_not_nan().sum().alias("samples"),
            pl.col("second").filter(pl.col("second").is_not_nan()).mean()
            .alias("action_second_difference"),
            pl.col("jerk").filter(pl.col("jerk").is_not_nan()).mean().alias("squared_jerk"),
        )
    )
    every = pl.DataFrame({"position": np.arange(chunk_steps, dtype=np.int64)})
    return (
        every.join(summary, on="position", how="left")
        .with_columns(
            pl.col("samples").fill_null(0).cast(pl.Int64),
            pl.col("action_second_difference").fill_null(float("nan")),
            pl.col("squared_jerk").fill_null(float("nan")),
            ((pl.col("position") == 0) | (pl.col("position") == chunk_steps - 1))
            .alias("boundary"),
        )
        .select(CHUNK_POSITION_COLUMNS)
        .sort("position")
    )
