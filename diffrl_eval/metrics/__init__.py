"""Data-quality metrics of a dataset: success, trajectory length, no-ops, jerk, action variance;
and a diagnostic: roughness by position within the executed action chunk.

All metrics are pure functions of the frame table (a polars DataFrame or LazyFrame with the
dataset's frame columns), vectorized over episodes; :func:`compute_metrics` gathers them
into the ``diffrl-eval/metrics`` results document.
"""

from diffrl_eval.metrics.action_variance import (
    DEFAULT_N_POINTS,
    action_variance_curves,
    mean_action_variance,
    resample_actions,
)
from diffrl_eval.metrics.chunk_position import (
    CHUNK_POSITION_COLUMNS,
    roughness_by_chunk_position,
)
from diffrl_eval.metrics.compute import compute_metrics
from diffrl_eval.metrics.episode_metrics import EPISODE_METRIC_COLUMNS, episode_metrics
from diffrl_eval.metrics.jerk import jerk_metrics, log_dimensionless_jerk, mean_squared_jerk
from diffrl_eval.metrics.no_op import NO_OP_THRESHOLD, no_op_counts, no_op_mask
from diffrl_eval.metrics.segments import EpisodeSegments
from diffrl_eval.metrics.success import episode_success, wilson_interval
from diffrl_eval.metrics.table import format_metrics_table, metrics_rows
from diffrl_eval.metrics.trajectory_length import NOT_REACHED, steps_to_success

__all__ = [
    "CHUNK_POSITION_COLUMNS",
    "DEFAULT_N_POINTS",
    "EPISODE_METRIC_COLUMNS",
    "NOT_REACHED",
    "NO_OP_THRESHOLD",
    "EpisodeSegments",
    "action_variance_curves",
    "compute_metrics",
    "episode_metrics",
    "episode_success",
    "format_metrics_table",
    "jerk_metrics",
    "log_dimensionless_jerk",
    "mean_action_variance",
    "mean_squared_jerk",
    "metrics_rows",
    "no_op_counts",
    "no_op_mask",
    "resample_actions",
    "roughness_by_chunk_position",
    "steps_to_success",
    "wilson_interval",
]
