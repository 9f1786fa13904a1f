"""Figures of VLA success: the data of Table I or Table II as grouped bars.

One group per evaluated suite (and all suites pooled), one bar per training-data row,
coloured like that source in the data-quality figures. The bar is the mean success over
training seeds, the error bar the Wilson interval of the pooled episodes, and with several
seeds each seed's rate is a dot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt

from reports.charts import bar_step, chart_data, chart_spec, series_color
from reports.vla_results import SeedSummary, VlaRow, suites_of

ALL_SUITES = "all suites (pooled)"
_TRAINING = "training data"
_CELL, _SEED = "cell", "seed"


def _cell_rows(label: str, suite: str, summary: SeedSummary) -> list[dict[str, Any]]:
    rows = [
        {
            "kind": _CELL,
            _TRAINING: label,
            "suite": suite,
            "rate": summary.mean,
            "ci_low": summary.ci_low,
            "ci_high": summary.ci_high,
            "successes": summary.successes,
            "episodes": summary.episodes,
            "seeds": len(summary.seeds),
        }
    ]
    if len(summary.seeds) > 1:
        rows += [
            {"kind": _SEED, _TRAINING: label, "suite": suite, "rate": rate, "seed": seed}
            for seed, rate in zip(summary.seeds, summary.rates)
        ]
    return rows


def vla_success_chart(rows: Sequence[VlaRow], domain: Sequence[str]) -> dict[str, Any] | None:
    """Grouped bars of success per suite and training-data row (``domain``: colour order)."""
    suites = suites_of([run for row in rows for run in row.runs])
    data: list[dict[str, Any]] = []
    for row in rows:
        for suite in suites:
            if suite in row.per_suite:
                data += _cell_rows(row.label, suite, row.per_suite[suite])
        if row.overall is not None and len(suites) > 1:
            data += _cell_rows(row.label, ALL_SUITES, row.overall)
    if not data:
        return None
    order = [row.label for row in rows]
    groups = [*suites, ALL_SUITES] if len(suites) > 1 else suites
    x = alt.X("suite:N", sort=groups, title="evaluated suite", axis=alt.Axis(labelAngle=0))
    offset = alt.XOffset(f"{_TRAINING}:N", sort=order)
    y_title = "VLA success rate"
    base = alt.Chart(chart_data())
    cells = base.transform_filter(alt.datum.kind == _CELL)
    bars = cells.mark_bar(opacity=0.85).encode(
        x=x,
        xOffset=offset,
        y=alt.Y("rate:Q", title=y_title, scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        color=series_color(domain, field=_TRAINING, title=_TRAINING, shown=order),
        tooltip=[
            alt.Tooltip(f"{_TRAINING}:N"),
            alt.Tooltip("suite:N"),
            alt.Tooltip("rate:Q", format=".1%", title="mean over seeds"),
            alt.Tooltip("ci_low:Q", format=".1%", title="95% CI low (pooled)"),
            alt.Tooltip("ci_high:Q", format=".1%", title="95% CI high (pooled)"),
            alt.Tooltip("successes:Q"),
            alt.Tooltip("episodes:Q"),
            alt.Tooltip("seeds:Q"),
        ],
    )
    interval = cells.mark_errorbar(ticks=True, thickness=1.5, color="black").encode(
        x=x, xOffset=offset, y=alt.Y("ci_low:Q", title=y_title), y2="ci_high:Q"
    )
    layers = [bars, interval]
    if any(item["kind"] == _SEED for item in data):
        layers.append(
            base.transform_filter(alt.datum.kind == _SEED)
            .mark_point(filled=True, size=28, color="black", opacity=0.7)
            .encode(x=x, xOffset=offset, y=alt.Y("rate:Q", title=y_title),
                    tooltip=[alt.Tooltip("seed:Q"), alt.Tooltip("rate:Q", format=".1%")])
        )
    width = bar_step(len(groups), len(order))  # one bar (the x offset's step)
    return chart_spec(alt.layer(*layers).properties(width=width, height=260), data)
