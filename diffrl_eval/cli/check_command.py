"""`check`: data-quality regression for CI pipelines, as an exit code."""

from __future__ import annotations

from pathlib import Path

import typer

from diffrl_eval.errors import UserError


def check(
    dataset: Path = typer.Argument(..., help="Dataset directory."),
    baseline: Path = typer.Option(None, "--baseline", help="Metrics JSON of a known-good dataset."),
    thresholds: Path = typer.Option(None, "--thresholds", help="File of absolute thresholds."),
    tolerance: float = typer.Option(0.05, "--tolerance", help="Relative tolerance against --baseline."),
) -> None:
    """Regression check of data quality for CI: exit 1 on regression, 0 otherwise."""
    raise UserError("'check' is not available yet in this version; use 'metrics --json' meanwhile")


def register(app: typer.Typer) -> None:
    app.command("check")(check)
