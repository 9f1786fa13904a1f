"""`check --statistical`: a regression must also leave the baseline's 95% interval."""

from __future__ import annotations

import json
import math

import pytest
from conftest import run_cli

from diffrl_eval.metrics.check import Finding, Status
from diffrl_eval.metrics.statistical_tolerance import apply_intervals, baseline_interval

BASELINE = {
    "overall": {
        "success": {"rate": 0.8, "ci_low": 0.6, "ci_high": 0.9},
        # 16 episodes, std 20: the mean's standard error is 5
        "trajectory_length": {"count": 16, "mean": 100.0, "std": 20.0, "median": 100.0},
        "action_variance": 0.1,
    },
    "per_suite": {}, "per_task": {},
}


def test_interval_of_a_mean_is_plus_minus_1_96_standard_errors():
    low, high = baseline_interval(BASELINE["overall"], "trajectory_length")
    assert (low, high) == pytest.approx((100 - 1.959964 * 5, 100 + 1.959964 * 5))
    assert baseline_interval(BASELINE["overall"], "success_rate") == (0.6, 0.9)
    assert baseline_interval(BASELINE["overall"], "action_variance") is None


@pytest.mark.parametrize("metric, value, status", [
    ("trajectory_length", 108.0, Status.WORSE_WITHIN_TOLERANCE),  # +8 < 9.8
    ("trajectory_length", 111.0, Status.REGRESSION),  # +11 > 9.8
    ("success_rate", 0.65, Status.WORSE_WITHIN_TOLERANCE),
    ("success_rate", 0.55, Status.REGRESSION),
    ("action_variance", 0.2, Status.REGRESSION),  # no interval: the tolerance decides
])
def test_regressions_inside_the_interval_are_downgraded(metric, value, status):
    finding = Finding("overall", metric, 1.0, value, Status.REGRESSION, "+x% > 5%")
    (after,) = apply_intervals([finding], BASELINE)
    assert after.status is status
    assert ("95% interval" in after.detail) == (status is Status.WORSE_WITHIN_TOLERANCE)


def test_statistical_check_passes_a_noisy_rerun_that_the_relative_tolerance_fails(
        toy_dataset, tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    assert run_cli(["metrics", toy_dataset, "--json", baseline], capsys)[0] == 0
    document = json.loads(baseline.read_text())
    summary = document["overall"]["trajectory_length"]
    # a baseline whose mean was 0.3 standard errors lower: the rerun looks longer
    summary["mean"] -= 0.3 * summary["std"] / math.sqrt(summary["count"])
    baseline.write_text(json.dumps(document))
    args = ["check", toy_dataset, "--baseline", baseline, "--metric", "trajectory_length",
            "--scope", "overall", "--tolerance", "0"]
    assert run_cli(args, capsys)[0] == 1
    assert run_cli([*args, "--statistical"], capsys)[0] == 0
