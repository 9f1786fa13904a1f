"""One row of data-quality metrics per episode: the table every summary is built from."""

from __future__ import annotations

import numpy as np
import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.metrics.jerk import jerk_metrics
from diffrl_eval.metrics.no_op import NO_OP_COUNT, no_op_mask
from diffrl_eval.metrics.segments import EpisodeSegments, FrameTable
from diffrl_eval.metrics.success import episode_success
from diffrl_eval.metrics.trajectory_length import NOT_REACHED, steps_to_success

LENGTH = "length"
STEPS_TO_SUCCESS = "steps_to_success"
MEAN_SQUARED_JERK = "mean_squared_jerk"
LOG_DIMENSIONLESS_JERK = "log_dimensionless_jerk"

EPISODE_METRIC_COLUMNS = (
    C.COL_EPISODE,
    C.COL_TASK,
    C.COL_SUCCESS,  # here: the episode reached its goal at some step
    LENGTH,
    STEPS_TO_SUCCESS,
    NO_OP_COUNT,
    MEAN_SQUARED_JERK,
    LOG_DIMENSIONLESS_JERK,
)


def episode_metrics(frames: FrameTable | EpisodeSegments, control_hz: float) -> pl.DataFrame:
    """Per-episode metrics, one row per episode in episode order.

    Columns (EPISODE_METRIC_COLUMNS): episode_index i64, task_id str, success bool,
    length i64 (steps), steps_to_success i64 (null if never successful), no_op_count i64,
    mean_squared_jerk f64 (null if < 4 steps), log_dimensionless_jerk f64 (null if undefined).
    """
    segments = EpisodeSegments.of(frames)
    reached = steps_to_success(segments)
    no_ops = segments.per_episode_sum(no_op_mask(segments).astype(np.int64))
    msj, ldlj = jerk_metrics(segments, control_hz)
    return pl.DataFrame(
        {
            C.COL_EPISODE: pl.Series(segments.episode_index, dtype=pl.Int64),
            C.COL_TASK: pl.Series(segments.task_id.tolist(), dtype=pl.String),
            C.COL_SUCCESS: pl.Series(episode_success(segments), dtype=pl.Boolean),
            LENGTH: pl.Series(segments.lengths, dtype=pl.Int64),
            STEPS_TO_SUCCESS: pl.Series(reached, dtype=pl.Int64).replace(NOT_REACHED, None),
            NO_OP_COUNT: pl.Series(no_ops.astype(np.int64), dtype=pl.Int64),
            MEAN_SQUARED_JERK: pl.Series(msj, dtype=pl.Float64, nan_to_null=True),
            LOG_DIMENSIONLESS_JERK: pl.Series(ldlj, dtype=pl.Float64, nan_to_null=True),
        }
    )
