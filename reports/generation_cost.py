"""What each dataset cost to make: environment steps and wall time, per data source.

The input is ``{source: {"env_steps", "wall_seconds", "episodes", "expert_env_steps",
"expert_seconds"}}``: generation itself, and for RL sources the training of the expert
policies that generate (``None`` where there is none, as for human demonstrations). The
totals let a reader weigh a generator's data quality against its price.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from diffrl_eval.errors import UserError
from reports.tables import MISSING, Cell, Table, format_count, format_duration

REQUIRED_KEYS = ("env_steps", "wall_seconds", "episodes")
OPTIONAL_KEYS = ("expert_env_steps", "expert_seconds")
_INTEGER_KEYS = ("env_steps", "episodes", "expert_env_steps")


def validate_generation_cost(cost: Any) -> None:
    """Check the shape and the numbers; ``UserError`` names the source and the key."""
    if not isinstance(cost, Mapping) or not cost:
        raise UserError("generation_cost must be a non-empty object {source: {...}}")
    for source, entry in cost.items():
        where = f"generation_cost[{str(source)!r}]"
        if not isinstance(entry, Mapping):
            raise UserError(f"{where} must be an object")
        missing = [key for key in REQUIRED_KEYS if key not in entry]
        if missing:
            raise UserError(f"{where} is missing key {missing[0]!r}")
        for key in (*REQUIRED_KEYS, *OPTIONAL_KEYS):
            value = entry.get(key)
            if value is None and key in OPTIONAL_KEYS:
                continue
            integer = key in _INTEGER_KEYS
            valid = (
                isinstance(value, int) if integer else isinstance(value, (int, float))
            ) and not isinstance(value, bool)
            if not valid or not math.isfinite(value) or value < 0:
                kind = "integer" if integer else "number"
                raise UserError(f"{where}.{key} must be a non-negative {kind}, got {value!r}")


def _total(entry: Mapping[str, Any], own: str, expert: str) -> float:
    return entry[own] + (entry.get(expert) or 0)


def generation_cost_table(cost: Mapping[str, Any], simulated: Collection[str] = ()) -> Table:
    """One row per source; ``simulated`` names the sources that get the simulated badge."""
    validate_generation_cost(cost)
    rows = []
    for source, entry in cost.items():
        steps = _total(entry, "env_steps", "expert_env_steps")
        episodes = entry["episodes"]
        rows.append(
            (
                Cell(str(source), simulated_badge=source in simulated),
                Cell(format_count(episodes), numeric=True),
                Cell(format_count(entry["env_steps"]), numeric=True),
                Cell(format_duration(entry["wall_seconds"]), numeric=True),
                Cell(format_count(entry.get("expert_env_steps")), numeric=True),
                Cell(format_duration(entry.get("expert_seconds")), numeric=True),
                Cell(format_count(steps), numeric=True),
                Cell(format_duration(_total(entry, "wall_seconds", "expert_seconds")),
                     numeric=True),
                Cell(f"{steps / episodes:,.0f}" if episodes else MISSING, numeric=True),
            )
        )
    columns = (
        "source",
        "episodes",
        "generation env steps",
        "generation wall time",
        "expert training env steps",
        "expert training wall time",
        "total env steps",
        "total wall time",
        "env steps per episode (total)",
    )
    return Table(columns=columns, rows=tuple(rows))
