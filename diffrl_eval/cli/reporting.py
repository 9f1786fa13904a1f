"""`report`: metrics results into one self-contained HTML page."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from diffrl_eval import registry
from diffrl_eval.atomic import check_new_file
from diffrl_eval.errors import UserError

console = Console()

METRICS_KIND = "diffrl-eval/metrics"


def load_result(path: Path) -> dict:
    """A metrics result from a JSON file, or computed from a dataset directory."""
    if not path.exists():
        raise UserError(f"result not found: {path}")
    if path.is_dir():
        from diffrl_eval.dataset import load_dataset
        from diffrl_eval.metrics import compute_metrics

        return compute_metrics(load_dataset(path))
    try:
        result = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a JSON file ({exc})") from exc
    if not isinstance(result, dict) or result.get("kind") != METRICS_KIND:
        raise UserError(
            f"{path}: not a metrics result (expected 'kind': '{METRICS_KIND}'; "
            "write one with 'diffrl-eval metrics DATASET --json FILE')"
        )
    return result


def report(
    results: list[Path] = typer.Argument(..., help="Metrics JSON files or dataset directories."),
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to create."),
    title: str = typer.Option("diffrl-eval report", "--title", help="Page title."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
) -> None:
    """Build one self-contained HTML report (works offline) from metrics results."""
    if out.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"--out must be an .html file, got {out}")
    check_new_file(out, overwrite=overwrite)
    loaded = [load_result(path) for path in results]
    build_report = registry.report_builders.load("html")
    if overwrite and out.exists():
        out.unlink()
    path = build_report(loaded, out, title=title)
    console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
