"""The self-contained HTML report: one file, readable offline, made from metrics results.

``build_report`` is the entry point (``diffrl_eval.reports`` group, name ``html``). The page
holds the run metadata, the datasets, the metrics tables and the figures; the Vega
libraries are inlined once and each figure's spec is an inert JSON block that a small
script hands to ``vegaEmbed``. The page records its own script errors, console errors and
warnings, and how many figures rendered, in the ``data-*`` attributes of
``#report-status``, so a headless browser can check the drawing without a debugger.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import diffrl_eval
from reports import escaping, javascript
from reports.charts import DEFAULT_VARIANCE_DIMENSION, Figure, figures
from reports.output import check_destination, write_new_file
from reports.results import Source, name_sources, validate_results
from reports.tables import (
    badge_html,
    dataset_table,
    key_value_table,
    source_table,
    table_html,
    task_table,
)

STATUS_ELEMENT_ID = "report-status"
CHART_CLASS = "chart"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1d1d1f; line-height: 1.4; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.subtitle { color: #555; margin-top: 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.88rem; margin: 0.6rem 0; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.55rem; text-align: left; vertical-align: top; }
th { background: #f4f4f6; } td.num { text-align: right; white-space: nowrap; }
td.id { font-family: ui-monospace, monospace; font-size: 0.78rem; word-break: break-all;
        min-width: 12rem; }
table.per-task td:nth-child(2) { min-width: 16rem; }
table.metadata td:first-child { font-weight: 600; }
.badge { display: inline-block; font-size: 0.72rem; padding: 0.05rem 0.45rem; margin-left: 0.3rem;
         border-radius: 0.6rem; white-space: nowrap; }
.badge.simulated { background: #fff1c2; border: 1px solid #d9a400; color: #6b5000; }
figure { margin: 1.2rem 0 2rem; } figcaption { color: #444; font-size: 0.9rem; max-width: 60rem; }
.chart { min-height: 80px; overflow-x: auto; }
.note { background: #fff8e1; border-left: 4px solid #d9a400; padding: 0.5rem 0.8rem; }
"""

# Runs before the Vega bundle, so that errors while loading it are recorded too.
_STATUS_SCRIPT = """
(function () {
  var status = document.getElementById("%(status)s");
  function record(attribute, args) {
    var list = JSON.parse(status.getAttribute(attribute) || "[]");
    list.push(Array.prototype.map.call(args, function (a) {
      return a instanceof Error ? (a.stack || String(a)) : String(a);
    }).join(" "));
    status.setAttribute(attribute, JSON.stringify(list));
  }
  window.reportStatus = { error: function () { record("data-errors", arguments); } };
  window.addEventListener("error", function (event) {
    record("data-errors", [event.message + " (" + event.filename + ":" + event.lineno + ")"]);
  });
  window.addEventListener("unhandledrejection", function (event) {
    record("data-errors", [event.reason]);
  });
  var consoleError = console.error, consoleWarn = console.warn;
  console.error = function () { record("data-errors", arguments); consoleError.apply(console, arguments); };
  console.warn = function () { record("data-warnings", arguments); consoleWarn.apply(console, arguments); };
})();
"""

_EMBED_SCRIPT = """
(function () {
  var status = document.getElementById("%(status)s");
  var charts = Array.prototype.slice.call(document.querySelectorAll("div.%(chart)s[data-spec]"));
  var options = { renderer: "svg", actions: { export: true, source: false, compiled: false, editor: false } };
  var rendered = 0;
  if (typeof vegaEmbed !== "function") {
    window.reportStatus.error("vegaEmbed is not available: the embedded Vega bundle did not load");
    status.setAttribute("data-done", "true");
    return;
  }
  Promise.all(charts.map(function (div) {
    var spec = JSON.parse(document.getElementById(div.getAttribute("data-spec")).textContent);
    return vegaEmbed(div, spec, options).then(function () {
      rendered += 1;
      div.setAttribute("data-rendered", "true");
    }).catch(function (error) {
      div.setAttribute("data-rendered", "failed");
      div.textContent = "This figure failed to render: " + error;
      window.reportStatus.error("figure " + div.id + ": " + error);
    });
  })).then(function () {
    status.setAttribute("data-rendered", String(rendered));
    status.setAttribute("data-done", "true");
  });
})();
"""


def build_report(
    results: list[dict],
    out: Path,
    *,
    title: str = "diffrl-eval report",
    metadata: dict | None = None,
    variance_task: str | None = None,
    variance_dimension: int = DEFAULT_VARIANCE_DIMENSION,
) -> Path:
    """Write the HTML report for ``results`` (metrics dicts, one per dataset) to ``out``.

    ``metadata`` adds key/value rows to the run metadata (e.g. a command line, a seed).
    ``variance_task``/``variance_dimension`` choose the action-variance figure (default: the
    first task every source has a curve for, dimension 1 = y). Raises ``UserError`` if
    ``out`` exists, its directory is missing, or a result is not a valid metrics dict.
    Returns ``out``.
    """
    out = Path(out)
    check_destination(out)  # fail before the (slow) rendering, not after
    page = render_page(
        results,
        title=title,
        metadata=metadata,
        variance_task=variance_task,
        variance_dimension=variance_dimension,
    )
    return write_new_file(out, page)


def render_page(
    results: Sequence[Mapping[str, Any]],
    *,
    title: str = "diffrl-eval report",
    metadata: Mapping[str, Any] | None = None,
    variance_task: str | None = None,
    variance_dimension: int = DEFAULT_VARIANCE_DIMENSION,
    generated_at: datetime.datetime | None = None,
) -> str:
    """The report page as one HTML string (see ``build_report``)."""
    validate_results(results)
    sources = name_sources(results)
    page_figures = figures(
        sources, variance_task=variance_task, variance_dimension=variance_dimension
    )
    generated_at = generated_at or datetime.datetime.now(datetime.timezone.utc)
    run_metadata: dict[str, Any] = {
        "diffrl-eval version": diffrl_eval.__version__,
        "generated at": generated_at.isoformat(timespec="seconds"),
        "datasets": len(sources),
        "embedded libraries": ", ".join(f"{k} {v}" for k, v in javascript.versions().items()),
    }
    run_metadata.update(metadata or {})
    status = STATUS_ELEMENT_ID
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escaping.text(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        (
            f'<div id="{status}" hidden data-errors="[]" data-warnings="[]" data-done="false" '
            f'data-rendered="0" data-expected="{len(page_figures)}"></div>'
        ),
        f"<script>{_STATUS_SCRIPT % {'status': status}}</script>",
        f"<script>{javascript.vega_embed_bundle()}</script>",
        f"<h1>{escaping.text(title)}</h1>",
        (
            f'<p class="subtitle">Generated {escaping.text(run_metadata["generated at"])} by '
            f"diffrl-eval {escaping.text(diffrl_eval.__version__)}.</p>"
        ),
        (
            '<noscript><p class="note">The figures need JavaScript (no network is used); '
            "the tables below are complete without it.</p></noscript>"
        ),
        _simulated_note(sources),
        "<h2>Run</h2>",
        table_html(key_value_table(run_metadata), css_class="metadata"),
        "<h2>Datasets</h2>",
        _scroll(table_html(dataset_table(sources), css_class="datasets")),
        "<h2>Data quality per source</h2>",
        _scroll(table_html(source_table(sources), css_class="per-source")),
        "<h2>Figures</h2>",
        *(_figure_html(figure) for figure in page_figures),
        "<h2>Data quality per task</h2>",
        _scroll(table_html(task_table(sources), css_class="per-task")),
        f"<script>{_EMBED_SCRIPT % {'status': status, 'chart': CHART_CLASS}}</script>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def _scroll(inner: str) -> str:
    return f'<div class="scroll">{inner}</div>'


def _simulated_note(sources: Sequence[Source]) -> str:
    simulated = [s for s in sources if s.is_simulated_teleoperation]
    if not simulated:
        return ""
    names = ", ".join(escaping.text(s.name) for s in simulated)
    return (
        f'<p class="note">{badge_html().strip()} {names}: these demonstrations come from a '
        "scripted operator model, not from people.</p>"
    )


def _figure_html(figure: Figure) -> str:
    chart_id = f"chart-{figure.name}"
    spec_id = f"spec-{figure.name}"
    return (
        f'<figure id="figure-{escaping.text(figure.name)}">'
        f"<h3>{escaping.text(figure.title)}</h3>"
        f'<div class="{CHART_CLASS}" id="{escaping.text(chart_id)}" '
        f'data-spec="{escaping.text(spec_id)}"></div>'
        f'<script type="application/json" id="{escaping.text(spec_id)}">'
        f"{escaping.script_json(figure.spec)}</script>"
        f"<figcaption>{escaping.text(figure.caption)}</figcaption>"
        "</figure>"
    )
