"""Tables of VLA success: Table I (in-distribution), Table II (OOD zero-shot), the runs.

One row per set of training sources, one column per evaluated suite, then all suites
pooled. A cell from one seed is the rate with its Wilson interval; from several seeds it
is the mean ± std over seeds, followed by the pooled counts and their Wilson interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports.tables import MISSING, Cell, Table, format_duration, format_success
from reports.vla_results import SeedSummary, VlaRow, suites_of

HUMAN_SOURCE = "human"


def seed_list(seeds) -> str:
    """``"0, 1, 2 (3 seeds)"``: the seeds and how many there are."""
    seeds = list(seeds)
    return f"{', '.join(map(str, seeds))} ({len(seeds)} seed{'s' if len(seeds) != 1 else ''})"


def format_seed_summary(summary: SeedSummary | None) -> str:
    """``"72.0% (36/50), 95% CI …"`` for one seed; ``"72.0 ± 2.1% (3 seeds); pooled …"`` else."""
    if summary is None:
        return MISSING
    if len(summary.seeds) == 1:
        return format_success(summary.success_dict())
    return (
        f"{100 * summary.mean:.1f} ± {100 * summary.std:.1f}% ({len(summary.seeds)} seeds); "
        f"pooled {summary.successes}/{summary.episodes}, 95% CI "
        f"{100 * summary.ci_low:.1f}–{100 * summary.ci_high:.1f}%"
    )


def training_label(row: VlaRow) -> str:
    """The row's name: its sources, and for a mix, which kind of mix it is."""
    if not row.is_mix:
        return row.label
    kind = "Human+RL mix" if HUMAN_SOURCE in row.sources else "mix"
    return f"{kind}: {row.label}"


def _row_cells(row: VlaRow, suites: Sequence[str]) -> list[Cell]:
    cells = [Cell(format_seed_summary(row.per_suite.get(suite)), numeric=True) for suite in suites]
    cells.append(Cell(format_seed_summary(row.overall), numeric=True))
    cells.append(Cell(seed_list(row.seeds), numeric=True))
    return cells


def _label_cell(row: VlaRow) -> Cell:
    return Cell(training_label(row), simulated_badge=row.is_simulated_teleoperation)


def in_distribution_table(rows: Sequence[VlaRow]) -> Table:
    """Table I: success per evaluated suite for VLAs trained on each source's data."""
    suites = suites_of([run for row in rows for run in row.runs])
    body = tuple((_label_cell(row), *_row_cells(row, suites)) for row in rows)
    columns = ("training data", *suites, "all suites (pooled)", "training seeds")
    return Table(columns=columns, rows=body)


def ood_table(rows: Sequence[VlaRow]) -> Table:
    """Table II: zero-shot success on suites the VLA was not trained on."""
    suites = suites_of([run for row in rows for run in row.runs])
    body = tuple(
        (_label_cell(row), Cell(", ".join(row.train_suites)), *_row_cells(row, suites))
        for row in rows
    )
    columns = ("training data", "trained on", *suites, "all evaluated suites (pooled)",
               "training seeds")
    return Table(columns=columns, rows=body)


def _text(value: Any) -> str:
    return MISSING if value is None else str(value)


def runs_table(runs: Sequence[Mapping[str, Any]]) -> Table:
    """Provenance of every evaluation behind Tables I and II, one row per run."""
    rows = []
    for run in runs:
        training = run["training"]
        wall = run.get("wall_seconds")
        env_steps = run.get("env_steps")
        rows.append(
            (
                Cell(str(run["protocol"])),
                Cell(" + ".join(sorted(training["sources"]))),
                Cell(", ".join(map(str, training["train_suites"]))),
                Cell(_text(training["seed"]), numeric=True),
                Cell(_text(run["eval_seed"]), numeric=True),
                Cell(_text(run["episodes_per_task"]), numeric=True),
                Cell(format_success(run["overall"]), numeric=True),
                Cell(_text(run["vla"])),
                Cell(_text(run.get("checkpoint_hash")), identifier=True),
                Cell(_text(run["hparams_hash"]), identifier=True),
                Cell(MISSING if env_steps is None else f"{int(env_steps):,}", numeric=True),
                Cell(MISSING if wall is None else format_duration(float(wall)), numeric=True),
                Cell(_text(run.get("tool_version"))),
            )
        )
    columns = (
        "protocol",
        "training data",
        "trained on",
        "training seed",
        "eval seed",
        "episodes per task",
        "overall success",
        "VLA",
        "checkpoint hash",
        "hparams hash",
        "eval env steps",
        "eval wall time",
        "tool version",
    )
    return Table(columns=columns, rows=tuple(rows))
