"""The stabilizer ablation (the paper's Fig. 5): one expert per variant, success curves.

Each variant changes one stabilizer of the default recipe; every variant trains its own
resumable :class:`~generators.expert.run.ExpertRun` on the same task and seed, and the
curves (training success rate against cumulative environment steps) are gathered into
one table.
"""

from __future__ import annotations

import copy
from typing import Any

import polars as pl

from diffrl_eval.errors import unknown_choice
from generators.ablation_variants import DEFAULT_VARIANTS, VARIANTS

__all__ = ["DEFAULT_VARIANTS", "VARIANTS", "ablation_curves", "ablation_report_input",
           "parse_variants", "variant_overrides"]


def parse_variants(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise unknown_choice("ablation variant", text, VARIANTS)
    for name in names:
        if name not in VARIANTS:
            raise unknown_choice("ablation variant", name, VARIANTS)
    return list(dict.fromkeys(names))


def variant_overrides(base: dict[str, Any], variant: str) -> dict[str, Any]:
    """``base`` overrides with the variant's change applied on top."""
    merged = copy.deepcopy(base)
    for key, value in VARIANTS[variant].items():
        if isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value
    return merged


def ablation_curves(histories: dict[str, list[dict[str, float]]]) -> pl.DataFrame:
    """Long table: variant, iteration, env_steps (cumulative), success_rate, approx_kl."""
    rows = []
    for variant, history in histories.items():
        steps = 0
        for stats in history:
            steps += int(stats["env_steps"])
            rows.append({"variant": variant, "iteration": int(stats["iteration"]),
                         "env_steps": steps, "success_rate": _number(stats.get("success_rate")),
                         "approx_kl": _number(stats.get("approx_kl"))})
    return pl.DataFrame(rows, schema={"variant": pl.String, "iteration": pl.Int64,
                                      "env_steps": pl.Int64, "success_rate": pl.Float64,
                                      "approx_kl": pl.Float64})


def _number(value: float | None) -> float:
    """A statistic as a float; missing (e.g. no KL during the critic warm-up) is NaN."""
    return float("nan") if value is None else float(value)


def ablation_report_input(task: str, curves: pl.DataFrame) -> dict[str, Any]:
    """The report builder's ``ablation`` argument (iterations where no episode ended,
    success NaN, are left out of the curve; a variant with no such point is left out)."""
    result = {"task": task, "curves": []}
    for variant in curves["variant"].unique(maintain_order=True).to_list():
        part = curves.filter((pl.col("variant") == variant) & pl.col("success_rate").is_not_nan())
        if part.height:
            result["curves"].append({"variant": variant,
                                     "env_steps": part["env_steps"].to_list(),
                                     "success_rate": part["success_rate"].to_list()})
    return result
