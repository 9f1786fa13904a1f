"""A statistical tolerance for `check --baseline`: a regression is a move beyond the
baseline's own 95% interval, not merely beyond a fixed relative tolerance.

Intervals read from the baseline's summary: the success rate's Wilson interval (in the
metrics JSON), and for the per-episode means (trajectory length, jerks) the normal
interval of the mean, mean ± 1.96 · std / √count. A metric without an interval (no-op
counts, action variance) keeps the relative tolerance's decision. A finding the relative
tolerance called a regression whose value lies inside the interval becomes "worse, within
tolerance", its detail naming the interval.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from diffrl_eval.metrics.check import OVERALL, SUITE, TASK, Finding, Status

Z_95 = 1.959963984540054  # two-sided 95% normal quantile
_MEAN_METRICS = {"trajectory_length": "trajectory_length",
                 "mean_squared_jerk": "mean_squared_jerk",
                 "log_dimensionless_jerk": "log_dimensionless_jerk"}


def baseline_interval(summary: Mapping[str, Any], metric: str) -> tuple[float, float] | None:
    """The baseline's 95% interval of ``metric`` in one ``<Summary>``, or None."""
    if metric == "success_rate":
        success = summary.get("success") or {}
        low, high = success.get("ci_low"), success.get("ci_high")
        return (float(low), float(high)) if low is not None and high is not None else None
    key = _MEAN_METRICS.get(metric)
    stats = summary.get(key) if key else None
    if not stats or stats.get("mean") is None or not stats.get("count") or stats.get("std") is None:
        return None
    half = Z_95 * float(stats["std"]) / math.sqrt(int(stats["count"]))
    return float(stats["mean"]) - half, float(stats["mean"]) + half


def _summary_of(baseline: Mapping[str, Any], scope: str) -> Mapping[str, Any] | None:
    level, _, name = scope.partition(" ")
    if level == OVERALL:
        return baseline.get("overall")
    table = {SUITE: "per_suite", TASK: "per_task"}.get(level)
    return (baseline.get(table) or {}).get(name) if table else None


def apply_intervals(findings: Sequence[Finding], baseline: Mapping[str, Any]) -> list[Finding]:
    """``findings`` with regressions inside the baseline's interval downgraded."""
    result = []
    for finding in findings:
        summary = _summary_of(baseline, finding.scope)
        interval = baseline_interval(summary, finding.metric) if summary else None
        if (finding.status is Status.REGRESSION and interval is not None
                and finding.value is not None and interval[0] <= finding.value <= interval[1]):
            finding = dataclasses.replace(
                finding, status=Status.WORSE_WITHIN_TOLERANCE,
                detail=f"{finding.detail}; within the baseline's 95% interval "
                       f"[{interval[0]:.4g}, {interval[1]:.4g}]")
        result.append(finding)
    return result
