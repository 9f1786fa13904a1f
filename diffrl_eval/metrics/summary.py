"""Summaries of per-episode metrics over a group of episodes (a task, a suite, everything).

One :func:`summary_frame` aggregation serves every level: grouped by task it gives one row
per task, ungrouped it gives the overall row. :func:`summary_from_row` turns a row into the
``<Summary>`` object of the metrics JSON.

Spread statistics (``std``) are population standard deviations (ddof = 0): they describe
the episodes in the dataset, and stay defined for a single episode.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.metrics.episode_metrics import (
    LENGTH,
    LOG_DIMENSIONLESS_JERK,
    MEAN_SQUARED_JERK,
    NO_OP_COUNT,
    STEPS_TO_SUCCESS,
)
from diffrl_eval.metrics.success import DEFAULT_CONFIDENCE, wilson_interval

# keys of the <Summary> object
SUCCESS = "success"
TRAJECTORY_LENGTH = "trajectory_length"
NO_OP_FRACTION = "no_op_fraction"
ACTION_VARIANCE = "action_variance"

_DISTRIBUTIONS = {
    TRAJECTORY_LENGTH: STEPS_TO_SUCCESS,
    MEAN_SQUARED_JERK: MEAN_SQUARED_JERK,
    LOG_DIMENSIONLESS_JERK: LOG_DIMENSIONLESS_JERK,
}
_STATISTICS = ("count", "mean", "std", "median")


def _aggregations() -> list[pl.Expr]:
    expressions = [
        pl.col(C.COL_SUCCESS).sum().alias("successes"),
        pl.len().alias("episodes"),
        pl.col(NO_OP_COUNT).sum().alias(NO_OP_COUNT),
        pl.col(LENGTH).sum().alias("steps"),
    ]
    for key, column in _DISTRIBUTIONS.items():
        values = pl.col(column)
        expressions += [
            values.count().alias(f"{key}.count"),
            values.mean().alias(f"{key}.mean"),
            values.std(ddof=0).alias(f"{key}.std"),
            values.median().alias(f"{key}.median"),
        ]
    return expressions


def summary_frame(episodes: pl.DataFrame, by: str | None = None) -> pl.DataFrame:
    """Aggregate an episode-metrics table (see ``episode_metrics``), per ``by`` or overall."""
    if by is None:
        return episodes.select(_aggregations())
    return episodes.group_by(by, maintain_order=True).agg(_aggregations())


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def summary_from_row(
    row: dict[str, Any],
    action_variance: float | None,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, Any]:
    """The ``<Summary>`` JSON object for one aggregated row of :func:`summary_frame`."""
    successes, episodes = int(row["successes"]), int(row["episodes"])
    low, high = wilson_interval(successes, episodes, confidence)
    steps = int(row["steps"])
    no_ops = int(row[NO_OP_COUNT])
    summary: dict[str, Any] = {
        SUCCESS: {
            "successes": successes,
            "episodes": episodes,
            "rate": successes / episodes if episodes else None,
            "ci_low": low,
            "ci_high": high,
            "confidence": confidence,
        },
    }
    for key in _DISTRIBUTIONS:
        summary[key] = {
            stat: int(row[f"{key}.{stat}"]) if stat == "count" else _finite(row[f"{key}.{stat}"])
            for stat in _STATISTICS
        }
    summary[NO_OP_COUNT] = no_ops
    summary[NO_OP_FRACTION] = no_ops / steps if steps else 0.0
    summary[ACTION_VARIANCE] = _finite(action_variance)
    # the JSON schema's key order: success, trajectory_length, no-ops, jerks, variance
    order = (SUCCESS, TRAJECTORY_LENGTH, NO_OP_COUNT, NO_OP_FRACTION, MEAN_SQUARED_JERK,
             LOG_DIMENSIONLESS_JERK, ACTION_VARIANCE)
    return {key: summary[key] for key in order}


def mean_over_tasks(values: list[float | None]) -> float | None:
    """Average of the defined per-task values (a suite's or the overall action variance)."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None
