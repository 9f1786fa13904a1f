"""The report's figures as altair charts, turned into Vega-Lite specs for the page.

Figures (one per function):
- success rate of the generated data per suite and source, Wilson interval as error bars;
- trajectory length (steps to success) per suite and per task and source, mean ± std
  (the paper's Fig. 6a);
- mean squared jerk per source, a box plot over episodes on a log axis, and log
  dimensionless jerk per source (Fig. 6b);
- action variance over normalized time for one task, one line per source, with a
  drop-down to pick the action dimension (default y; Fig. 7).

Data go into each spec (its top-level ``datasets``), so a spec is self-contained JSON that
needs nothing but the embedded Vega libraries to draw. One colour per source (series), the
same in every figure of the page, VLA figures included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt

from diffrl_eval.constants import ACTION_DIM
from diffrl_eval.errors import UserError, unknown_choice
from reports.sources import Source, series_names
from reports.tables import task_ids

# LIBERO's 7-D delta action: translation, rotation (axis-angle delta), gripper.
ACTION_DIMENSION_NAMES = ("x", "y", "z", "roll", "pitch", "yaw", "gripper")
assert len(ACTION_DIMENSION_NAMES) == ACTION_DIM
DEFAULT_VARIANCE_DIMENSION = 1  # y: lateral motion, where generators differ most visibly

_SOURCE = "source"
_DATA_NAME = "rows"


@dataclass(frozen=True)
class Figure:
    """One chart of the page: a stable id, a heading, a caption and its Vega-Lite spec."""

    name: str
    title: str
    caption: str
    spec: dict[str, Any]


def chart_spec(chart: alt.TopLevelMixin, rows: list[dict]) -> dict[str, Any]:
    """The chart's Vega-Lite spec with ``rows`` as its data.

    The chart refers to a named data set that is filled in after ``to_dict``: altair's
    schema validation is kept for the chart's structure but skipped for thousands of data
    rows, where it would take seconds and check nothing we did not build ourselves.
    """
    spec = chart.to_dict()
    spec["datasets"] = {_DATA_NAME: rows}
    return spec


def chart_data() -> alt.Data:
    return alt.Data(name=_DATA_NAME)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def series_color(
    domain: Sequence[str],
    field: str = _SOURCE,
    title: str = "source",
    shown: Sequence[str] | None = None,
    scheme: str = "tableau10",
    **legend: Any,
) -> alt.Color:
    """One colour per name of ``domain`` (the same name gets the same colour on every chart).

    ``shown`` limits the legend to the names this chart draws.
    """
    if shown is not None:
        legend["values"] = list(shown)
    return alt.Color(
        f"{field}:N",
        scale=alt.Scale(domain=list(domain), scheme=scheme),
        legend=alt.Legend(title=title, **legend),
    )


def _color(sources: Sequence[Source], domain: Sequence[str] | None, **legend: Any) -> alt.Color:
    shown = series_names(sources)
    return series_color(domain or shown, shown=shown, **legend)


def _source_axis(sources: Sequence[Source]) -> alt.X:
    return alt.X(
        f"{_SOURCE}:N", sort=series_names(sources), title=None, axis=alt.Axis(labelAngle=0)
    )


def _suites(sources: Sequence[Source]) -> list[str]:
    return list(dict.fromkeys(suite for s in sources for suite in s.result.get("per_suite", {})))


MIN_PLOT_WIDTH = 280  # px: a figure with few bars still reads at default size
MAX_BAR_WIDTH = 60


def bar_step(groups: int, series: int = 1) -> alt.Step:
    """The x step of grouped bars (with an x offset, one bar's width): wide bars when there
    are few, so that the plot is at least ``MIN_PLOT_WIDTH``; thin ones when there are many
    groups (LIBERO-90's tasks), so the figure stays scrollable."""
    bars = max(1, groups * series)
    if groups > 20:
        return alt.Step(7)
    return alt.Step(max(20, min(MAX_BAR_WIDTH, -(-MIN_PLOT_WIDTH // bars))))


# --- success rate -------------------------------------------------------------------------


def success_rate_chart(
    sources: Sequence[Source], domain: Sequence[str] | None = None
) -> dict[str, Any]:
    """Bars of the data's success rate per suite and source, error bars from ci_low to ci_high."""
    rows = []
    for source in sources:
        for suite, summary in _suite_summaries(source):
            success = summary["success"]
            rows.append(
                {
                    _SOURCE: source.series,
                    "suite": suite,
                    "rate": _finite(success["rate"]),
                    "ci_low": _finite(success["ci_low"]),
                    "ci_high": _finite(success["ci_high"]),
                    "successes": int(success["successes"]),
                    "episodes": int(success["episodes"]),
                }
            )
    suites = _suites(sources)
    x = alt.X("suite:N", sort=suites, title="suite", axis=alt.Axis(labelAngle=0))
    offset = alt.XOffset(f"{_SOURCE}:N", sort=series_names(sources))
    base = alt.Chart(chart_data())
    tooltip = [
        alt.Tooltip(f"{_SOURCE}:N"),
        alt.Tooltip("suite:N"),
        alt.Tooltip("rate:Q", format=".1%"),
        alt.Tooltip("ci_low:Q", format=".1%", title="95% CI low"),
        alt.Tooltip("ci_high:Q", format=".1%", title="95% CI high"),
        alt.Tooltip("successes:Q"),
        alt.Tooltip("episodes:Q"),
    ]
    bars = base.mark_bar(opacity=0.85).encode(
        x=x,
        xOffset=offset,
        y=alt.Y(
            "rate:Q",
            title="success rate",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format="%"),
        ),
        color=_color(sources, domain),
        tooltip=tooltip,
    )
    interval = base.mark_errorbar(ticks=True, thickness=1.5, color="black").encode(
        x=x, xOffset=offset, y=alt.Y("ci_low:Q", title="success rate"), y2="ci_high:Q"
    )
    chart = alt.layer(bars, interval).properties(
        width=bar_step(len(suites), len(sources)), height=260)
    return chart_spec(chart, rows)


def _suite_summaries(source: Source) -> list[tuple[str, Any]]:
    per_suite = source.result.get("per_suite") or {source.suite: source.result["overall"]}
    return list(per_suite.items())


# --- trajectory length -----------------------------------------------------------------------


def _length_row(key: dict[str, Any], statistic: Any) -> dict[str, Any] | None:
    mean = _finite(statistic.get("mean"))
    if mean is None:  # no successful episode: nothing to draw, the tables say so
        return None
    std = _finite(statistic.get("std")) or 0.0
    return {**key, "mean": mean, "low": mean - std, "high": mean + std,
            "count": int(statistic["count"])}


def _length_chart(
    sources: Sequence[Source], rows: list[dict], group: str, order: list[str],
    domain: Sequence[str] | None,
) -> dict[str, Any]:
    x = alt.X(f"{group}:N", sort=order, title=group,
              axis=alt.Axis(labelAngle=-35 if group == "task" else 0, labelLimit=220))
    offset = alt.XOffset(f"{_SOURCE}:N", sort=series_names(sources))
    title = "steps to success (mean ± std)"
    base = alt.Chart(chart_data())
    bars = base.mark_bar(opacity=0.85).encode(
        x=x,
        xOffset=offset,
        y=alt.Y("mean:Q", title=title),
        color=_color(sources, domain),
        tooltip=[
            alt.Tooltip(f"{group}:N"),
            alt.Tooltip(f"{_SOURCE}:N"),
            alt.Tooltip("mean:Q", format=".1f"),
            alt.Tooltip("count:Q", title="successful episodes"),
        ],
    )
    whiskers = base.mark_errorbar(ticks=True, color="black").encode(
        x=x, xOffset=offset, y=alt.Y("low:Q", title=title), y2="high:Q"
    )
    width = bar_step(len(order), len(sources))
    return chart_spec(alt.layer(bars, whiskers).properties(width=width, height=260), rows)


def trajectory_length_suite_chart(
    sources: Sequence[Source], domain: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """Grouped bars: mean steps to success per suite and source, whiskers at mean ± std."""
    rows = []
    for source in sources:
        for suite, summary in _suite_summaries(source):
            row = _length_row({"suite": suite, _SOURCE: source.series}, summary["trajectory_length"])
            if row is not None:
                rows.append(row)
    if not rows:
        return None
    return _length_chart(sources, rows, "suite", _suites(sources), domain)


def trajectory_length_chart(
    sources: Sequence[Source], domain: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """Grouped bars: mean steps to success per task and source, whiskers at mean ± std."""
    tasks = task_ids(sources)
    rows = []
    for task_id in tasks:
        for source in sources:
            summary = source.result["per_task"].get(task_id)
            if summary is None:
                continue
            row = _length_row({"task": task_id, _SOURCE: source.series},
                              summary["trajectory_length"])
            if row is not None:
                rows.append(row)
    if not rows:
        return None
    return _length_chart(sources, rows, "task", tasks, domain)


# --- jerk ------------------------------------------------------------------------------------


def _episode_values(sources: Sequence[Source], key: str, *, positive: bool) -> list[dict]:
    rows = []
    for source in sources:
        for episode in source.result["episodes"]:
            value = _finite(episode.get(key))
            if value is None or (positive and value <= 0):
                continue
            rows.append({_SOURCE: source.series, "task": episode["task_id"], key: value})
    return rows


def _box_plot(
    sources: Sequence[Source],
    key: str,
    title: str,
    scale: alt.Scale,
    domain: Sequence[str] | None,
    axis: alt.Axis | None = None,
) -> alt.Chart:
    return (
        alt.Chart(chart_data())
        # Whiskers to min and max: every episode is inside the drawn range, and there is no
        # outlier layer (an empty one makes Vega warn about an infinite extent).
        .mark_boxplot(extent="min-max", size=36, opacity=0.9)
        .encode(
            x=_source_axis(sources),
            y=alt.Y(f"{key}:Q", title=title, scale=scale, axis=axis or alt.Axis()),
            color=_color(sources, domain),
        )
        .properties(width=max(160, 90 * len(series_names(sources))), height=260)
    )


def mean_squared_jerk_chart(
    sources: Sequence[Source], domain: Sequence[str] | None = None
) -> tuple[dict[str, Any] | None, int]:
    """Box plot of per-episode mean squared jerk on a log axis.

    Returns the chart (None when no episode has a positive value) and how many defined
    values were left out because a log axis cannot show zero.
    """
    key = "mean_squared_jerk"
    defined = _episode_values(sources, key, positive=False)
    rows = [row for row in defined if row[key] > 0]
    if not rows:
        return None, len(defined)
    # Labels on powers of ten only: a log axis otherwise labels every minor tick.
    axis = alt.Axis(format="~e", labelExpr="log(datum.value) / LN10 % 1 ? '' : datum.label")
    title = "mean squared jerk (m²/s⁶, log)"
    chart = _box_plot(sources, key, title, alt.Scale(type="log"), domain, axis)
    return chart_spec(chart, rows), len(defined) - len(rows)


def log_dimensionless_jerk_chart(
    sources: Sequence[Source], domain: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """Box plot of per-episode log dimensionless jerk (higher, i.e. closer to 0, is smoother)."""
    key = "log_dimensionless_jerk"
    rows = _episode_values(sources, key, positive=False)
    if not rows:
        return None
    chart = _box_plot(sources, key, "log dimensionless jerk", alt.Scale(zero=False), domain)
    return chart_spec(chart, rows)


# --- action variance -----------------------------------------------------------------------


def _curve(source: Source, task_id: str) -> list[list[float]] | None:
    curve = source.result["action_variance_curves"].get(task_id)
    if not curve or not curve.get("variance"):
        return None
    return curve["variance"]


def _series_curve(sources: Sequence[Source], series: str, task_id: str) -> list[list[float]] | None:
    """The series' curve for the task (its first dataset that has one)."""
    for source in sources:
        if source.series == series:
            curve = _curve(source, task_id)
            if curve is not None:
                return curve
    return None


def default_variance_task(sources: Sequence[Source]) -> str | None:
    """The first task whose variance curve every series has; else the first with any curve."""
    candidates = [t for t in task_ids(sources) if any(_curve(s, t) for s in sources)]
    for task_id in candidates:
        if all(_series_curve(sources, series, task_id) for series in series_names(sources)):
            return task_id
    return candidates[0] if candidates else None


def action_variance_chart(
    sources: Sequence[Source], task_id: str, dimension: int, domain: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """Variance across successful episodes vs normalized time, one line per source.

    All seven dimensions are embedded; a drop-down picks which one is drawn, starting at
    ``dimension``.
    """
    rows = []
    for series in series_names(sources):
        variance = _series_curve(sources, series, task_id)
        if variance is None:
            continue
        n_points = len(variance)
        for point, per_dimension in enumerate(variance):
            time = point / (n_points - 1) if n_points > 1 else 0.0
            for dim, value in enumerate(per_dimension):
                rows.append(
                    {
                        _SOURCE: series,
                        "time": time,
                        "dimension": dim,
                        "variance": _finite(value),
                    }
                )
    if not rows:
        return None
    selected = alt.param(
        name="action_dimension",
        value=dimension,
        bind=alt.binding_select(
            options=list(range(ACTION_DIM)),
            labels=list(ACTION_DIMENSION_NAMES),
            name="action dimension ",
        ),
    )
    base = (
        alt.Chart(chart_data())
        .transform_filter(alt.datum.dimension == selected)
        .encode(x=alt.X("time:Q", title="normalized time", scale=alt.Scale(domain=[0, 1])))
    )
    # Both layers share one legend; drawn as strokes, it matches the lines, not the pale band.
    color = _color(sources, domain, symbolType="stroke", symbolStrokeWidth=2.5, symbolOpacity=1)
    band = base.mark_area(opacity=0.12).encode(y=alt.Y("variance:Q", stack=None), color=color)
    line = base.mark_line(strokeWidth=2).encode(
        y=alt.Y("variance:Q", title="variance across successful episodes"),
        color=color,
        tooltip=[
            alt.Tooltip(f"{_SOURCE}:N"),
            alt.Tooltip("time:Q", format=".2f"),
            alt.Tooltip("variance:Q", format=".3g"),
        ],
    )
    chart = alt.layer(band, line).add_params(selected).properties(width=520, height=260)
    return chart_spec(chart, rows)


# --- all figures ---------------------------------------------------------------------------


def figures(
    sources: Sequence[Source],
    *,
    variance_task: str | None = None,
    variance_dimension: int = DEFAULT_VARIANCE_DIMENSION,
    colour_domain: Sequence[str] | None = None,
) -> list[Figure]:
    """Every data-quality figure the data allow, in page order; one without data is left out.

    ``colour_domain`` fixes the colour of each series name (default: the sources' series);
    the page passes the names of its VLA rows too, so a source keeps its colour everywhere.
    """
    if not 0 <= variance_dimension < ACTION_DIM:
        raise UserError(
            f"action dimension {variance_dimension} is out of range; valid: 0..{ACTION_DIM - 1}"
        )
    with_curves = [t for t in task_ids(sources) if any(_curve(s, t) for s in sources)]
    if variance_task is not None and variance_task not in with_curves:
        raise unknown_choice("task for the action-variance figure", variance_task, with_curves)
    if not sources:
        return []
    variance_task = variance_task or default_variance_task(sources)
    domain = list(colour_domain) if colour_domain else series_names(sources)

    result = [
        Figure(
            "success-rate",
            "Success rate of the generated data per suite",
            "Share of successful episodes in each dataset; error bars are the Wilson score "
            "95% interval.",
            success_rate_chart(sources, domain),
        ),
    ]
    by_suite = trajectory_length_suite_chart(sources, domain)
    if by_suite is not None:
        result.append(
            Figure(
                "trajectory-length-suite",
                "Fig. 6a — Trajectory length per suite",
                "Steps to success of successful episodes in each suite, mean ± one standard "
                "deviation (shorter is more direct).",
                by_suite,
            )
        )
    trajectory = trajectory_length_chart(sources, domain)
    if trajectory is not None:
        result.append(
            Figure(
                "trajectory-length",
                "Fig. 6a — Trajectory length per task",
                "Steps to success of successful episodes, mean ± one standard deviation.",
                trajectory,
            )
        )
    msj, left_out = mean_squared_jerk_chart(sources, domain)
    if msj is not None:
        note = (
            f" {left_out} episode(s) with zero jerk are not shown on the log axis."
            if left_out
            else ""
        )
        result.append(
            Figure(
                "mean-squared-jerk",
                "Fig. 6b — Mean squared jerk per source",
                "Per-episode mean squared jerk of the end-effector position (lower is smoother); "
                "boxes span the quartiles, whiskers the minimum and maximum." + note,
                msj,
            )
        )
    ldlj = log_dimensionless_jerk_chart(sources, domain)
    if ldlj is not None:
        result.append(
            Figure(
                "log-dimensionless-jerk",
                "Fig. 6b — Log dimensionless jerk per source",
                "Per-episode log dimensionless jerk of the end-effector velocity; it does not "
                "grow with duration or amplitude (closer to zero is smoother).",
                ldlj,
            )
        )
    if variance_task is not None:
        chart = action_variance_chart(sources, variance_task, variance_dimension, domain)
        missing = [
            series for series in series_names(sources)
            if _series_curve(sources, series, variance_task) is None
        ]
        note = (
            f" No curve (fewer than two successful episodes) for: {', '.join(missing)}."
            if missing
            else ""
        )
        if chart is not None:
            result.append(
                Figure(
                    "action-variance",
                    f"Fig. 7 — Action variance over normalized time — task {variance_task}",
                    "Variance of the action across successful episodes, each resampled to "
                    "normalized time; pick the action dimension below the chart." + note,
                    chart,
                )
            )
    return result
