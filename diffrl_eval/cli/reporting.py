"""`report`: metrics results and VLA evaluations into one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from diffrl_eval import registry
from diffrl_eval.atomic import check_new_file
from diffrl_eval.documents import METRICS, VLA_RESULTS
from diffrl_eval.errors import UserError
from diffrl_eval.validation import read_json, require_finite

console = Console()

METRICS_KIND = METRICS.name
VLA_KINDS = tuple(kind.name for kind in VLA_RESULTS)


def load_result(path: Path) -> dict:
    """A result from a JSON file (metrics or VLA evaluation), or metrics of a dataset of any
    format (a directory, an HDF5 file, a Hub id)."""
    if path.is_dir() or path.suffix != ".json":
        from diffrl_eval.metrics.source_metrics import metrics_of

        return metrics_of(path)
    if not path.exists():
        raise UserError(f"result not found: {path}")
    result = require_finite(read_json(path), str(path))
    kind = result.get("kind") if isinstance(result, dict) else None
    if kind != METRICS_KIND and kind not in VLA_KINDS:
        raise UserError(
            f"{path}: not a metrics result nor a VLA evaluation (kind {kind!r}; expected "
            f"{', '.join(repr(k) for k in (METRICS_KIND, *VLA_KINDS))}; write one with "
            "'diffrl-eval metrics DATASET --json FILE' or 'diffrl-eval vla eval ... --json FILE')"
        )
    return result


def report(
    results: list[Path] = typer.Argument(
        ...,
        help="Metrics JSON files, dataset directories and VLA evaluation JSON files "
        "(single runs or multi-seed aggregates), told apart by their 'kind'.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to create."),
    title: str = typer.Option("diffrl-eval report", "--title", help="Page title."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
) -> None:
    """Build one self-contained HTML report (works offline): data quality and, given VLA
    evaluations, Table I (in-distribution) and Table II (OOD zero-shot)."""
    if out.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"--out must be an .html file, got {out}")
    check_new_file(out, overwrite=overwrite)
    loaded = [load_result(path) for path in results]
    metrics = [result for result in loaded if result.get("kind") == METRICS_KIND]
    vla_results = [result for result in loaded if result.get("kind") in VLA_KINDS]
    build_report = registry.report_builders.load("html")
    if overwrite and out.exists():
        out.unlink()
    # Only when there are some: a report builder of an older interface still takes metrics.
    options = {"vla_results": vla_results} if vla_results else {}
    path = build_report(metrics, out, title=title, **options)
    console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
