"""`check`: data-quality regression for CI pipelines, as an exit code.

The decisions live in :mod:`diffrl_eval.metrics.check`; this module reads the inputs,
prints the table of what moved and turns the outcome into the exit status (0 passed,
1 regression, 2 bad input).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from diffrl_eval.cli.source_options import SourceOptions, with_source_options
from diffrl_eval.errors import UserError
from diffrl_eval.metrics.check import (
    LEVELS,
    Finding,
    Status,
    check_thresholds,
    compare_with_baseline,
    parse_tolerances,
    read_metrics_json,
    read_thresholds,
    regressions,
)

# CI logs are no terminal; rich would fold the table to 80 columns there.
console = Console(width=None if sys.stdout.isatty() else 140)

EXIT_PASSED = 0
EXIT_REGRESSION = 1

_STATUS_STYLE = {
    Status.REGRESSION: "bold red",
    Status.WORSE_WITHIN_TOLERANCE: "yellow",
    Status.BETTER: "green",
    Status.NEW: "cyan",
    Status.PASSED: "green",
    Status.UNCHANGED: "dim",
}


def load_metrics(path: Path, options: SourceOptions | None = None) -> dict[str, Any]:
    """The metrics of a dataset of any format (directory, HDF5 file, Hub id), or a metrics
    JSON file as it is."""
    if path.is_dir() or path.suffix != ".json":
        from diffrl_eval.metrics.source_metrics import metrics_of

        options = options or SourceOptions()
        return metrics_of(path, options.declared(), format=options.format)
    if not path.exists():
        raise UserError(f"dataset not found: {path}")
    return dict(read_metrics_json(path, role="dataset metrics"))


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def findings_table(findings: Sequence[Finding], title: str) -> Table:
    """The findings as a rich table: scope, metric, reference, value, comparison, status."""
    table = Table(title=title)
    for header in ("scope", "metric", "reference", "value", "comparison", "status"):
        table.add_column(header, overflow="fold", justify="right" if header in ("reference", "value") else "left")
    for finding in findings:
        table.add_row(
            finding.scope,
            finding.metric,
            _number(finding.reference),
            _number(finding.value),
            finding.detail,
            finding.status.value,
            style=_STATUS_STYLE[finding.status],
        )
    return table


def _report(findings: Sequence[Finding], title: str, show_all: bool) -> None:
    shown = [f for f in findings if show_all or f.moved]
    if shown:
        console.print(findings_table(shown, title))
    failed = len(regressions(findings))
    unchanged = len(findings) - len([f for f in findings if f.moved])
    console.print(
        f"{title}: {len(findings)} checks, {failed} regression(s), {unchanged} unchanged"
        + ("" if show_all or not unchanged else " (not listed; --all lists them)")
    )


@with_source_options
def check(
    dataset: Path = typer.Argument(
        ..., help="Dataset of any format: directory, HDF5 file, Hub id (or the metrics JSON "
        "of one).", show_default=False
    ),
    baseline: Path = typer.Option(
        None, "--baseline", help="Metrics JSON of a known-good dataset ('metrics --json')."
    ),
    thresholds: Path = typer.Option(
        None, "--thresholds", help="TOML file of absolute thresholds (format: reports/results/check.md)."
    ),
    tolerance: list[str] = typer.Option(
        None,
        "--tolerance",
        help="Relative tolerance against --baseline: NUMBER for every metric (default 0.05) "
        "or METRIC=NUMBER for one. Repeatable.",
    ),
    abs_tolerance: list[str] = typer.Option(
        None,
        "--abs-tolerance",
        help="Smallest allowed move, in the metric's units: NUMBER or METRIC=NUMBER "
        "(default 0; use it where the baseline is 0). Repeatable.",
    ),
    metric: list[str] = typer.Option(
        None, "--metric", help="Compare only this metric with --baseline. Repeatable."
    ),
    scope: list[str] = typer.Option(
        None,
        "--scope",
        help="Compare with --baseline only at this level: overall, suite or task "
        "(default: all three). Repeatable.",
    ),
    show_all: bool = typer.Option(False, "--all", help="List unchanged metrics too."),
    statistical: bool = typer.Option(False, "--statistical", help="With --baseline: a move beyond the tolerance is a regression only when it also leaves the baseline's 95% interval (Wilson for success rate, mean ± 1.96·SE for lengths and jerks)."),
    json_out: Path = typer.Option(None, "--json", help="Write the outcome as JSON here ('-': stdout; the tables then go to stderr)."),
    fail_on: str = typer.Option("error", "--fail-on", help="error: exit 1 on regressions only; warn: also on metrics worse within tolerance and on data-quality warnings (NaN/inf, timestamps, dropped frames, constant dims, duplicates)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --json file."),
    *,
    source_options: SourceOptions,
) -> None:
    """Data-quality regression check for CI: exit 1 on regression, 0 otherwise, 2 on bad input.

    [b]--baseline[/b]: every metric is compared overall, per suite and per task with the baseline's; a move in the metric's bad direction beyond the tolerance is a regression. A task of the baseline missing from the dataset, or a metric that became undefined, is one too. A baseline of another backend or suite is bad input. Per-task numbers of a small dataset are noisy: --scope overall compares the whole dataset only.

    Bad directions: success_rate down; trajectory_length up; no_op_count and no_op_fraction up; mean_squared_jerk up; log_dimensionless_jerk down (closer to zero is smoother); action_variance up (less consistent).

    [b]--thresholds[/b]: a TOML file of 'METRIC OP NUMBER' strings (OP: <= >= < > ==) under overall = [...], \\[suite] NAME = [...] and \\[task] TASK_ID = [...] ("*" = every suite or task); each must hold, and an undefined metric fails.
    """
    from diffrl_eval.atomic import check_new_file, write_text_atomic
    from diffrl_eval.metrics.check_outcome import FAIL_ON, CheckOutcome, quality_warnings

    if fail_on not in FAIL_ON:
        raise UserError(f"--fail-on {fail_on!r}; valid choices: {', '.join(FAIL_ON)}")
    if baseline is None and thresholds is None:
        raise UserError("give --baseline BASELINE.json, --thresholds FILE, or both")
    to_stdout = json_out is not None and str(json_out) == "-"
    if json_out is not None and not to_stdout:
        check_new_file(json_out, overwrite=overwrite)
    if (tolerance or abs_tolerance or metric or scope or statistical) and baseline is None:
        raise UserError(
            "--tolerance, --abs-tolerance, --metric, --scope and --statistical apply to "
            "--baseline only"
        )
    if to_stdout:
        console.file = sys.stderr  # stdout carries the JSON only
    try:
        default_tolerance, per_metric = parse_tolerances(tolerance or [], abs_tolerance or [])
        reference = read_metrics_json(baseline, role="baseline") if baseline is not None else None
        parsed_thresholds = read_thresholds(thresholds) if thresholds is not None else None
        result = load_metrics(dataset, source_options)

        findings: list[Finding] = []
        if reference is not None:
            compared = compare_with_baseline(
                result, reference, tolerance=default_tolerance, per_metric=per_metric,
                metrics=metric or None, levels=scope or LEVELS,
            )
            if statistical:
                from diffrl_eval.metrics.statistical_tolerance import apply_intervals

                compared = apply_intervals(compared, reference)
            _report(compared, f"against baseline {baseline}", show_all)
            findings += compared
        if parsed_thresholds is not None:
            held = check_thresholds(result, parsed_thresholds)
            _report(held, f"against thresholds {thresholds}", True)
            findings += held
        outcome = CheckOutcome(findings, quality_warnings(result), fail_on)
        for warning in quality_warnings(result):
            console.print(f"[yellow]warning[/]: {warning}")
        if json_out is not None:
            text = json.dumps(outcome.to_json(str(dataset)), indent=2) + "\n"
            if to_stdout:
                sys.stdout.write(text)
            else:
                write_text_atomic(json_out, text, overwrite=overwrite)
        failed = regressions(findings)
        if outcome.failed:
            console.print(f"[bold red]{'REGRESSION' if failed else 'WARNINGS'}[/]: {len(failed)} of "
                          f"{len(findings)} checks failed, {len(outcome.all_warnings)} warning(s) "
                          f"(--fail-on {fail_on})")
            raise typer.Exit(EXIT_REGRESSION)
        console.print(f"[bold green]PASSED[/]: {len(findings)} checks")
        raise typer.Exit(EXIT_PASSED)
    finally:
        console.file = None  # back to stdout


def register(app: typer.Typer) -> None:
    app.command("check")(check)
