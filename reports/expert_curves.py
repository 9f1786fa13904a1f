"""The RL experts' training: success against environment steps, and BC -> PPO per task.

Input (``results/expert_curves.json`` of a `compare` run)::

    {source: {task: {"env_steps": [...], "success_rate": [...]}}}

one point per PPO iteration (cumulative env steps; the success rate of the episodes that
ended in that iteration's rollouts, NaN/None when none ended). The first point is the
behaviour-cloned policy acting with PPO's sampling noise, the last the trained expert.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import altair as alt

from reports import escaping
from reports.charts import Figure, chart_data, chart_spec, series_color

EXPERT_TABLE_ID = "table-expert-training"


def _points(curve: Mapping[str, Any]) -> list[tuple[float, float]]:
    pairs = zip(curve.get("env_steps", []), curve.get("success_rate", []))
    return [(float(s), float(r)) for s, r in pairs
            if r is not None and math.isfinite(float(r))]


def expert_curves_figure(curves: Mapping[str, Mapping[str, Any]],
                         domain: list[str]) -> Figure | None:
    """One small chart per task, a line per source: training success vs env steps."""
    rows = [{"source": source, "task": task, "env_steps": steps, "success_rate": rate}
            for source, tasks in curves.items() for task, curve in tasks.items()
            for steps, rate in _points(curve)]
    if not rows:
        return None
    sources = list(dict.fromkeys(r["source"] for r in rows))
    line = alt.Chart(chart_data()).mark_line(point=True).encode(
        x=alt.X("env_steps:Q", title="environment steps", axis=alt.Axis(format="~s")),
        y=alt.Y("success_rate:Q", title="training success", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        color=series_color(domain, shown=sources),
        tooltip=[alt.Tooltip("source:N"), alt.Tooltip("task:N"),
                 alt.Tooltip("env_steps:Q", format=","),
                 alt.Tooltip("success_rate:Q", format=".1%")],
    ).properties(width=240, height=160)
    chart = line.facet(facet=alt.Facet("task:N", title=None, header=alt.Header(
        labelLimit=240)), columns=4)
    return Figure(
        "expert-training", "RL experts: training success against environment steps",
        "Success of the episodes that ended in each PPO iteration's rollouts (stochastic "
        "policy), per task and source. The first point is the behaviour-cloned start.",
        chart_spec(chart, rows))


def expert_table_html(curves: Mapping[str, Mapping[str, Any]]) -> str:
    """Per task (rows) and source (columns): first iteration's success -> last one's."""
    sources = list(curves)
    tasks = list(dict.fromkeys(t for source in sources for t in curves[source]))
    head = "".join(f"<th>{escaping.text(s)}</th>" for s in sources)
    body = []
    for task in tasks:
        cells = []
        for source in sources:
            points = _points(curves[source].get(task, {}))
            cells.append("—" if not points else
                         f"{points[0][1]:.0%} → {points[-1][1]:.0%} "
                         f"({len(points)} iterations, {points[-1][0]:,.0f} env steps)")
        body.append(f"<tr><td>{escaping.text(task)}</td>"
                    + "".join(f'<td class="num">{escaping.text(c)}</td>' for c in cells)
                    + "</tr>")
    return (f'<table class="expert" id="{EXPERT_TABLE_ID}"><thead><tr><th>task</th>{head}'
            f"</tr></thead><tbody>{''.join(body)}</tbody></table>")
