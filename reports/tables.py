"""The report's tables: datasets, metrics per source, metrics per task.

Each table is built in two steps: rows of formatted cell strings (plain data, easy to test),
then HTML where every cell is escaped. Missing values (``null`` in the metrics JSON: no
successful episode, too few steps for jerk) show as an em dash, never as 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reports import escaping
from reports.sources import Source

MISSING = "—"
SIMULATED_BADGE_TEXT = "simulated teleoperation"


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, and whether the source it names needs the simulated badge."""

    text: str
    simulated_badge: bool = False
    numeric: bool = False
    identifier: bool = False  # a hash or path: monospace, may break anywhere


@dataclass(frozen=True)
class Table:
    """Column headers and rows of cells, before HTML."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


# --- number formatting --------------------------------------------------------------------


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def format_success(success: Mapping[str, Any]) -> str:
    """``"72.0% (36/50), 95% CI 58.3–82.5%"``: the rate is never shown without its interval."""
    rate = _finite(success["rate"])
    if rate is None or not success["episodes"]:
        return f"{MISSING} (0 episodes)"
    confidence = round(100 * float(success.get("confidence", 0.95)))
    return (
        f"{100 * rate:.1f}% ({success['successes']}/{success['episodes']}), "
        f"{confidence}% CI {100 * float(success['ci_low']):.1f}–{100 * float(success['ci_high']):.1f}%"
    )


def format_number(value: Any, digits: int = 3) -> str:
    """A float with ``digits`` significant digits; the em dash for null/NaN."""
    number = _finite(value)
    return MISSING if number is None else f"{number:.{digits}g}"


def format_mean_std(statistic: Mapping[str, Any], digits: int = 3) -> str:
    """``"mean ± std (n=count)"`` of a summary statistic; the em dash when it has no values."""
    mean = _finite(statistic.get("mean"))
    if mean is None or not statistic.get("count"):
        return MISSING
    std = _finite(statistic.get("std"))
    spread = f" ± {std:.{digits}g}" if std is not None else ""
    return f"{mean:.{digits}g}{spread} (n={statistic['count']})"


def format_count(value: Any) -> str:
    """An integer with thousands separators; the em dash for null."""
    return MISSING if value is None else f"{int(value):,}"


def format_duration(seconds: Any) -> str:
    """``"12.3 s"``, ``"4 min 05 s"`` or ``"2 h 03 min"``; the em dash for null/NaN."""
    value = _finite(seconds)
    if value is None:
        return MISSING
    if value < 60:
        return f"{value:.1f} s"
    minutes, second = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {second:02d} s"
    hours, minute = divmod(minutes, 60)
    return f"{hours} h {minute:02d} min"


def format_no_ops(summary: Mapping[str, Any]) -> str:
    """``"12 (1.5% of steps)"``."""
    fraction = _finite(summary.get("no_op_fraction"))
    share = f" ({100 * fraction:.1f}% of steps)" if fraction is not None else ""
    return f"{int(summary['no_op_count'])}{share}"


# --- tables -------------------------------------------------------------------------------

METRIC_COLUMNS = (
    "success rate",
    "trajectory length (steps to success)",
    "no-op steps",
    "mean squared jerk",
    "log dimensionless jerk",
    "action variance",
)


def _metric_cells(summary: Mapping[str, Any]) -> tuple[Cell, ...]:
    return (
        Cell(format_success(summary["success"]), numeric=True),
        Cell(format_mean_std(summary["trajectory_length"], digits=4), numeric=True),
        Cell(format_no_ops(summary), numeric=True),
        Cell(format_mean_std(summary["mean_squared_jerk"]), numeric=True),
        Cell(format_mean_std(summary["log_dimensionless_jerk"]), numeric=True),
        Cell(format_number(summary["action_variance"]), numeric=True),
    )


def _source_cell(source: Source) -> Cell:
    return Cell(source.name, simulated_badge=source.is_simulated_teleoperation)


def source_table(sources: Sequence[Source]) -> Table:
    """One row per source: the overall metrics of its dataset."""
    rows = tuple((_source_cell(s), *_metric_cells(s.result["overall"])) for s in sources)
    return Table(columns=("source", *METRIC_COLUMNS), rows=rows)


def task_ids(sources: Sequence[Source]) -> list[str]:
    """Every task id in any source, in first-seen order (the metrics keep suite order)."""
    ordered: dict[str, None] = {}
    for source in sources:
        ordered.update(dict.fromkeys(source.result["per_task"]))
    return list(ordered)


def task_table(sources: Sequence[Source]) -> Table:
    """One row per (task, source) pair: that source's metrics on that task."""
    rows = []
    for task_id in task_ids(sources):
        for source in sources:
            summary = source.result["per_task"].get(task_id)
            if summary is None:
                continue
            instruction = str(summary.get("instruction") or "")
            rows.append(
                (Cell(task_id), Cell(instruction), _source_cell(source), *_metric_cells(summary))
            )
    return Table(columns=("task", "instruction", "source", *METRIC_COLUMNS), rows=tuple(rows))


def dataset_table(sources: Sequence[Source]) -> Table:
    """Where each result came from: source, label, backend, suite, content hash, sizes, how
    the actions were generated (the tool version is in the run's metadata, once)."""
    rows = []
    for source in sources:
        dataset = source.dataset
        rows.append(
            (
                _source_cell(source),
                Cell(source.source_label),
                Cell(str(dataset["backend"])),
                Cell(str(dataset.get("suite") or "all")),
                Cell(str(dataset.get("content_hash") or MISSING), identifier=True),
                Cell(f"{int(dataset['n_episodes'])} / {int(dataset['n_frames'])}", numeric=True),
                Cell(_generation_text(dataset.get("generation"))),
                Cell(str(dataset.get("path") or MISSING), identifier=True),
            )
        )
    columns = (
        "source",
        "source label",
        "backend",
        "suite",
        "content hash",
        "episodes / frames",
        "generation",
        "path",
    )
    return Table(columns=columns, rows=tuple(rows))


def _generation_text(generation: Mapping[str, Any] | None) -> str:
    """A generator's account of how it produced the actions, as ``key value`` pairs
    (chunk joining, actions executed per chunk); — when it gave none."""
    if not generation:
        return MISSING
    return ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in generation.items())


def no_op_table(sources: Sequence[Source]) -> Table:
    """No-op steps per dataset: how much of the data is the operator (or policy) idling."""
    rows = []
    for source in sources:
        dataset, overall = source.dataset, source.result["overall"]
        episodes = int(dataset["n_episodes"])
        count = int(overall["no_op_count"])
        fraction = _finite(overall.get("no_op_fraction"))
        rows.append(
            (
                _source_cell(source),
                Cell(str(dataset.get("suite") or "all")),
                Cell(format_count(episodes), numeric=True),
                Cell(format_count(dataset["n_frames"]), numeric=True),
                Cell(format_count(count), numeric=True),
                Cell(MISSING if fraction is None else f"{100 * fraction:.2f}%", numeric=True),
                Cell(f"{count / episodes:.2f}" if episodes else MISSING, numeric=True),
            )
        )
    columns = ("source", "suite", "episodes", "steps", "no-op steps", "share of steps",
               "no-ops per episode")
    return Table(columns=columns, rows=tuple(rows))


def key_value_table(items: Mapping[str, Any]) -> Table:
    """Two columns, for run metadata."""
    rows = tuple((Cell(str(key)), Cell(_plain(value))) for key, value in items.items())
    return Table(columns=("", ""), rows=rows)


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(item) for item in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={_plain(item)}" for key, item in value.items())
    return MISSING if value is None else str(value)


# --- HTML -----------------------------------------------------------------------------------


def badge_html() -> str:
    """The visible mark on every source whose data stand in for human demonstrations."""
    return f' <span class="badge simulated">{escaping.text(SIMULATED_BADGE_TEXT)}</span>'


def cell_html(cell: Cell, tag: str = "td") -> str:
    classes = [name for name, on in (("num", cell.numeric), ("id", cell.identifier)) if on]
    css = f' class="{" ".join(classes)}"' if classes else ""
    badge = badge_html() if cell.simulated_badge else ""
    return f"<{tag}{css}>{escaping.text(cell.text)}{badge}</{tag}>"


def table_html(table: Table, *, css_class: str, element_id: str | None = None) -> str:
    """The table as HTML; every cell and header escaped. ``element_id`` is its stable id."""
    header = ""
    if any(table.columns):
        header = "<thead><tr>" + "".join(f"<th>{escaping.text(c)}</th>" for c in table.columns)
        header += "</tr></thead>"
    body = "".join(
        "<tr>" + "".join(cell_html(cell) for cell in row) + "</tr>" for row in table.rows
    )
    identity = f' id="{escaping.text(element_id)}"' if element_id else ""
    return (
        f'<table{identity} class="{escaping.text(css_class)}">{header}<tbody>{body}</tbody></table>'
    )
