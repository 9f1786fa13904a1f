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


def _interval(block: dict[str, Any]) -> str:
    if block.get("mean") is None:
        return "—"
    if block.get("ci_low") is None:
        return f"{block['mean']:.3g}"
    return f"{block['mean']:.3g} [{block['ci_low']:.3g}, {block['ci_high']:.3g}]"


def quality_lines(result: dict[str, Any]) -> list[str]:
    """The ``quality`` block in a few lines for the terminal (empty when absent)."""
    quality = result.get("quality")
    if not quality:
        return []
    idle = quality["idle"]
    lines = [
        f"quality: {len(quality['flagged_episodes'])} flagged episode(s); "
        f"{quality['non_finite_rows']} row(s) with NaN/inf; "
        f"{quality['action_jumps']['count']} action jump(s); idle {idle['fraction']:.1%} "
        f"of steps ({idle['rule']})",
    ]
    if quality["zero_variance_dims"] or quality["clipped_dims"]:
        lines.append(f"  constant action dims {quality['zero_variance_dims']}, clipped "
                     f"{sorted(quality['clipped_dims'])}")
    if "timestamps" in quality:
        stamps = quality["timestamps"]
        lines.append(f"  timestamps: {stamps['non_increasing']} non-increasing, "
                     f"{stamps.get('dropped_frames', '—')} dropped-frame gap(s)")
    if quality["near_duplicates"]["pairs"]:
        lines.append(f"  {len(quality['near_duplicates']['pairs'])} near-duplicate episode pair(s)")
    diversity = quality["diversity"]
    text = f"diversity: strategies per task {_interval(diversity['strategies'])}"
    if "coverage_voxels" in diversity:
        text += (f"; end-effector coverage {_interval(diversity['coverage_voxels'])} cubes of "
                 f"{diversity['voxel_m'] * 100:g} cm")
    if diversity["strategies"].get("ci_low") is not None:
        text += " (95% bootstrap intervals over tasks)"
    lines.append(text)
    return lines
