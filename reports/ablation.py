"""The ablation figure: success rate against environment steps, one curve per variant.

The input is ``{"task": str, "curves": [{"variant": str, "env_steps": [...],
"success_rate": [...]}]}``, e.g. the diffusion-PPO expert's learning curve with each
stabilizer switched off in turn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import altair as alt

from diffrl_eval.errors import UserError
from reports.charts import chart_data, chart_spec, series_color


def validate_ablation(ablation: Any) -> None:
    """Check the shape: a task name and curves of equal-length, finite step/rate lists."""
    if not isinstance(ablation, Mapping):
        raise UserError("ablation must be an object {'task': ..., 'curves': [...]}")
    if not isinstance(ablation.get("task"), str):
        raise UserError("ablation needs 'task' (a task id string)")
    curves = ablation.get("curves")
    if not isinstance(curves, list) or not curves:
        raise UserError("ablation needs 'curves', a non-empty list")
    variants = set()
    for index, curve in enumerate(curves):
        where = f"ablation curves[{index}]"
        if not isinstance(curve, Mapping) or not isinstance(curve.get("variant"), str):
            raise UserError(f"{where} needs 'variant' (a name)")
        if curve["variant"] in variants:
            raise UserError(f"{where}: variant {curve['variant']!r} appears twice")
        variants.add(curve["variant"])
        steps, rates = curve.get("env_steps"), curve.get("success_rate")
        if not isinstance(steps, list) or not isinstance(rates, list) or len(steps) != len(rates):
            raise UserError(f"{where}: 'env_steps' and 'success_rate' must be lists of one length")
        if not steps:
            raise UserError(f"{where} has no points")
        for step, rate in zip(steps, rates):
            numbers = all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in (step, rate)
            )
            if not numbers or step < 0 or not 0 <= rate <= 1:
                raise UserError(
                    f"{where}: need env_steps >= 0 and 0 <= success_rate <= 1, got "
                    f"({step!r}, {rate!r})"
                )


def ablation_chart(ablation: Mapping[str, Any]) -> dict[str, Any]:
    """Lines with points of success rate vs env steps, one colour per variant."""
    validate_ablation(ablation)
    variants = [curve["variant"] for curve in ablation["curves"]]
    rows = [
        {"variant": curve["variant"], "env_steps": step, "success_rate": rate}
        for curve in ablation["curves"]
        for step, rate in zip(curve["env_steps"], curve["success_rate"])
    ]
    chart = (
        alt.Chart(chart_data())
        .mark_line(point=True, strokeWidth=2)
        .encode(
            x=alt.X("env_steps:Q", title="environment steps", axis=alt.Axis(format="~s")),
            y=alt.Y("success_rate:Q", title="success rate", scale=alt.Scale(domain=[0, 1]),
                    axis=alt.Axis(format="%")),
            # Not the sources' palette: a variant is not a data source.
            color=series_color(variants, field="variant", title="variant", scheme="dark2"),
            tooltip=[
                alt.Tooltip("variant:N"),
                alt.Tooltip("env_steps:Q", format=","),
                alt.Tooltip("success_rate:Q", format=".1%"),
            ],
        )
        .properties(width=520, height=260)
    )
    return chart_spec(chart, rows)
