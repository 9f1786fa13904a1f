"""The metrics results as a terminal table: one row per task, then the overall row."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from diffrl_eval.metrics.summary import ACTION_VARIANCE, SUCCESS, TRAJECTORY_LENGTH

_HEADERS = (
    "task",
    "n",
    "rate [95% CI]",
    "length (mean ± std)",
    "no-ops",
    "MSJ",
    "LDLJ",
    "action var.",
)


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def summary_cells(name: str, summary: dict[str, Any]) -> list[str]:
    """One table row (strings, in ``_HEADERS`` order) for a ``<Summary>`` object."""
    success = summary[SUCCESS]
    rate = success["rate"]
    if rate is None:
        success_text = "—"
    else:
        success_text = f"{rate:.1%} [{success['ci_low']:.0%}, {success['ci_high']:.0%}]"
    length = summary[TRAJECTORY_LENGTH]
    if length["mean"] is None:
        length_text = "—"
    else:
        length_text = f"{length['mean']:.1f} ± {length['std']:.1f}"
    return [
        name,
        f"{success['successes']}/{success['episodes']}",
        success_text,
        length_text,
        "n/a" if summary["no_op_count"] is None else
        f"{summary['no_op_count']} ({summary['no_op_fraction']:.1%})",
        _number(summary["mean_squared_jerk"]["mean"]),
        _number(summary["log_dimensionless_jerk"]["mean"]),
        _number(summary[ACTION_VARIANCE]),
    ]


def metrics_rows(result: dict[str, Any]) -> list[list[str]]:
    """The table's rows as strings: per task (sorted), then ``overall`` last."""
    rows = [summary_cells(task, summary) for task, summary in sorted(result["per_task"].items())]
    rows.append(summary_cells("overall", result["overall"]))
    return rows


def format_metrics_table(result: dict[str, Any], title: str | None = None) -> Table:
    """A rich table of a :func:`compute_metrics` result for the CLI to print."""
    if title is None:
        dataset = result.get("dataset") or {}
        title = f"data quality: {dataset.get('source_label') or dataset.get('path') or 'frames'}"
    table = Table(title=title)
    for index, header in enumerate(_HEADERS):
        table.add_column(
            header,
            justify="left" if index == 0 else "right",
            overflow="fold",  # task ids are long and must stay readable in full
        )
    rows = metrics_rows(result)
    for row in rows[:-1]:
        table.add_row(*row)
    table.add_section()
    table.add_row(*rows[-1], style="bold")
    return table
