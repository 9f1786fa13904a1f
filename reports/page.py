"""The self-contained HTML report: one file, readable offline, the evidence for one run.

``build_report`` is the entry point (``diffrl_eval.reports`` group, name ``html``). From
metrics results, VLA evaluation results, generation costs and an ablation it lays out the
paper's tables and figures for this run: Table I (in-distribution VLA success), Table II
(OOD zero-shot), Fig. 6a (trajectory length), Fig. 6b (jerk), Fig. 7 (action variance),
no-op counts, the cost of generating each dataset, and the run's metadata. Every table and
figure has a stable element id (``*_ID`` constants, ``figure-<name>``), so tools and tests
can find them. The Vega libraries are inlined once and each figure's spec is an inert JSON
block that a small script hands to ``vegaEmbed``. The page records its own script errors, console errors and
warnings, and how many figures rendered, in the ``data-*`` attributes of
``#report-status``, so a headless browser can check the drawing without a debugger.
"""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import diffrl_eval
from diffrl_eval.errors import UserError
from reports import escaping, javascript
from reports.ablation import ablation_chart
from reports.charts import DEFAULT_VARIANCE_DIMENSION, Figure, figures
from reports.drilldown import CLIP_CLASS, CLIPS_ID, clips_html, drilldown_html, task_order
from reports.drilldown import STYLE as DRILLDOWN_STYLE
from reports.expert_curves import expert_curves_figure, expert_table_html
from reports.generation_cost import generation_cost_table
from reports.output import check_destination, write_new_file
from reports.sources import Source, name_sources, series_names, validate_results
from reports.tables import (
    badge_html,
    dataset_table,
    key_value_table,
    no_op_table,
    source_table,
    table_html,
    task_table,
)
from reports.verdict import STYLE as VERDICT_STYLE
from reports.verdict import verdict_html
from reports.vla_charts import vla_success_chart
from reports.vla_results import (
    IN_DISTRIBUTION,
    OOD_ZERO_SHOT,
    VlaRow,
    evaluation_runs,
    vla_rows,
)
from reports.vla_tables import (
    in_distribution_table,
    ood_table,
    runs_table,
    seed_list,
    training_label,
)

STATUS_ELEMENT_ID = "report-status"
CHART_CLASS = "chart"

# Stable ids of the page's tables (figures are "figure-<name>", e.g. figure-action-variance).
RUN_METADATA_ID = "table-run-metadata"
IN_DISTRIBUTION_TABLE_ID = "table-in-distribution"  # Table I
OOD_TABLE_ID = "table-ood"  # Table II
VLA_RUNS_TABLE_ID = "table-vla-runs"
GENERATION_COST_TABLE_ID = "table-generation-cost"
DATASETS_TABLE_ID = "table-datasets"
PER_SOURCE_TABLE_ID = "table-per-source"
NO_OP_TABLE_ID = "table-no-op"
PER_TASK_TABLE_ID = "table-per-task"
PRESET_NOTE_ID = "preset-note"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1d1d1f; line-height: 1.4; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.subtitle { color: #555; margin-top: 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.88rem; margin: 0.6rem 0; max-width: 100%; }
th, td { overflow-wrap: break-word; }
table.vla td:nth-child(2) { min-width: 7rem; overflow-wrap: normal; }
table.vla td:first-child { overflow-wrap: anywhere; }  /* user-named sources */
th, td { border: 1px solid #ddd; padding: 0.3rem 0.55rem; text-align: left; vertical-align: top; }
th { background: #f4f4f6; } td.num { text-align: right; white-space: nowrap; }
td.id { font-family: ui-monospace, monospace; font-size: 0.74rem; word-break: break-all;
        min-width: 6rem; }
table.per-task td:nth-child(2) { min-width: 10rem; }
table.per-task, table.vla-runs, table.per-source { font-size: 0.8rem; }
table.per-task td.num, table.vla-runs td.num, table.per-source td.num { white-space: normal; }
table.metadata td:first-child { font-weight: 600; }
.badge { display: inline-block; font-size: 0.72rem; padding: 0.05rem 0.45rem; margin-left: 0.3rem;
         border-radius: 0.6rem; white-space: nowrap; }
.badge.simulated { background: #fff1c2; border: 1px solid #d9a400; color: #6b5000; }
figure { margin: 1.2rem 0 2rem; } figcaption { color: #444; font-size: 0.9rem; max-width: 60rem; }
.chart { min-height: 80px; overflow-x: auto; }
.note { background: #fff8e1; border-left: 4px solid #d9a400; padding: 0.5rem 0.8rem; }
.preset { background: #eef4ff; border-left: 4px solid #3b6fd8; padding: 0.5rem 0.8rem; }
table.vla td.num { white-space: normal; min-width: 10rem; }
details { margin: 1rem 0; } summary { cursor: pointer; }
p.caption { color: #444; font-size: 0.9rem; max-width: 60rem; margin: 0.2rem 0; }
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
    return Promise.all(Array.prototype.map.call(document.querySelectorAll(".%(clip)s"), clipShown));
  }).then(function (shown) {
    status.setAttribute("data-clips-decoded", String(shown.filter(Boolean).length));
    status.setAttribute("data-overflowing-tables", JSON.stringify(overflowingTables()));
    // The drawn page's height, so a screenshot can take the whole page at once.
    status.setAttribute("data-page-height", String(document.documentElement.scrollHeight));
    status.setAttribute("data-done", "true");
  });
  // A clip counts when the browser decoded a picture of non-zero size from it.
  function clipShown(element) {
    if (element.tagName === "IMG") {
      return element.decode().then(function () { return element.naturalWidth > 0; },
                                   function () { return false; });
    }
    return new Promise(function (resolve) {
      if (element.readyState >= 2) { resolve(element.videoWidth > 0); return; }
      element.addEventListener("loadeddata", function () { resolve(element.videoWidth > 0); });
      element.addEventListener("error", function () { resolve(false); });
    });
  }
  // Tables wider than the window (folded ones opened for the measurement).
  function overflowingTables() {
    var folded = Array.prototype.filter.call(document.querySelectorAll("details"),
                                             function (d) { return !d.open; });
    folded.forEach(function (d) { d.open = true; });
    var width = document.documentElement.clientWidth, found = [];
    document.querySelectorAll("table").forEach(function (table, index) {
      if (table.getBoundingClientRect().right > width + 1) {
        found.push(table.id || table.className || "table " + index);
      }
    });
    folded.forEach(function (d) { d.open = false; });
    return found;
  }
})();
"""


def build_report(
    results: Sequence[Mapping[str, Any]],
    out: Path,
    *,
    title: str = "diffrl-eval report",
    metadata: Mapping[str, Any] | None = None,
    variance_task: str | None = None,
    variance_dimension: int = DEFAULT_VARIANCE_DIMENSION,
    vla_results: Sequence[Mapping[str, Any]] | None = None,
    generation_cost: Mapping[str, Any] | None = None,
    ablation: Mapping[str, Any] | None = None,
    preset_note: str | None = None,
    verdict: Mapping[str, Any] | None = None,
    expert_curves: Mapping[str, Mapping[str, Any]] | None = None,
    clips: Sequence[Mapping[str, Any]] | None = None,
    clips_base: Path | None = None,
) -> Path:
    """Write the HTML report of one run to ``out``; returns ``out``.

    - ``results``: metrics dicts (``diffrl-eval/metrics``), one per dataset: datasets, data
      quality per source and per task, no-op counts, Fig. 6a, Fig. 6b and Fig. 7. May be
      empty when ``vla_results`` are given.
    - ``metadata``: extra key/value rows for the run metadata (a command line, a seed).
    - ``variance_task``/``variance_dimension``: Fig. 7's task (default: the first task
      every source has a curve for) and starting action dimension (default 1 = y).
    - ``vla_results``: ``diffrl-eval/vla-eval`` results and/or ``diffrl-eval/vla-eval-seeds``
      aggregates: Table I (in-distribution) and Table II (OOD zero-shot), each with its
      figure, and the table of evaluation runs. All runs of one table must share one
      ``hparams_hash``.
    - ``generation_cost``: ``{source: {"env_steps", "wall_seconds", "episodes",
      "expert_env_steps", "expert_seconds"}}``: the data-generation cost table.
    - ``ablation``: ``{"task", "curves": [{"variant", "env_steps", "success_rate"}]}``:
      the ablation figure.
    - ``preset_note``: what the run's preset changed (fewer tasks, smaller budgets), shown
      at the top and in the metadata.
    - ``verdict``: a ``diffrl-eval/verdict`` document (``results/verdict.json``), shown as
      the first block of the page.
    - ``expert_curves``: ``{source: {task: {"env_steps", "success_rate"}}}``: the RL
      experts' training curves and their BC -> PPO table (see ``reports.expert_curves``).
    - ``clips``: episode clip descriptors (see ``reports.drilldown``), paths relative to
      ``clips_base``: a few per source up front, and each task's in its drill-down.

    Raises ``UserError`` if ``out`` exists, its directory cannot be made, or an input is
    malformed (one line naming the input and the key).
    """
    out = Path(out)
    check_destination(out)  # fail before the (slow) rendering, not after
    page = render_page(
        results,
        title=title,
        metadata=metadata,
        variance_task=variance_task,
        variance_dimension=variance_dimension,
        vla_results=vla_results,
        generation_cost=generation_cost,
        ablation=ablation,
        preset_note=preset_note,
        verdict=verdict,
        expert_curves=expert_curves,
        clips=clips,
        clips_base=clips_base,
    )
    return write_new_file(out, page)


def generation_time() -> datetime.datetime:
    """When the page says it was made: now, or ``SOURCE_DATE_EPOCH`` (seconds since 1970,
    the reproducible-builds convention) when set, so that two builds of the same results
    are byte-identical. A value that is not a whole number of seconds is a one-line error."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None or not epoch.strip():
        return datetime.datetime.now(datetime.timezone.utc)
    try:
        seconds = int(epoch)
    except ValueError:
        raise UserError(f"SOURCE_DATE_EPOCH={epoch!r} is not a whole number of seconds "
                        "since 1970-01-01 (unset it, or give e.g. 1767225600)") from None
    try:
        return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise UserError(f"SOURCE_DATE_EPOCH={epoch!r} is out of range (a time after "
                        "1970-01-01 in seconds, e.g. 1767225600)") from None


def _unique(values: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(value for value in values if value is not None))


def _run_metadata(
    sources: Sequence[Source],
    runs: Sequence[Mapping[str, Any]],
    generated_at: datetime.datetime,
) -> dict[str, Any]:
    datasets = [source.dataset for source in sources]
    metadata: dict[str, Any] = {
        "diffrl-eval version": diffrl_eval.__version__,
        "generated at": generated_at.isoformat(timespec="seconds"),
        "python": platform.python_version(),
    }
    metadata["datasets"] = len(sources)
    metadata["backends"] = _unique(
        [d.get("backend") for d in datasets] + [r.get("backend") for r in runs]
    )
    result_versions = _unique(
        [d.get("tool_version") for d in datasets] + [r.get("tool_version") for r in runs]
    )
    if result_versions != [diffrl_eval.__version__]:  # only news when they differ
        metadata["tool versions of the results"] = result_versions
    if runs:
        metadata["VLA"] = _unique([r["vla"] for r in runs])
        metadata["VLA hparams hash"] = _unique([r["hparams_hash"] for r in runs])
        metadata["VLA training seeds"] = seed_list(
            sorted(_unique([r["training"]["seed"] for r in runs])))
        metadata["VLA evaluation seeds"] = sorted(_unique([r["eval_seed"] for r in runs]))
        metadata["VLA evaluation episodes per task"] = _unique(
            [r["episodes_per_task"] for r in runs]
        )
    metadata["embedded libraries"] = ", ".join(
        f"{k} {v}" for k, v in javascript.versions().items()
    )
    return metadata


def render_page(
    results: Sequence[Mapping[str, Any]],
    *,
    title: str = "diffrl-eval report",
    metadata: Mapping[str, Any] | None = None,
    variance_task: str | None = None,
    variance_dimension: int = DEFAULT_VARIANCE_DIMENSION,
    generated_at: datetime.datetime | None = None,
    vla_results: Sequence[Mapping[str, Any]] | None = None,
    generation_cost: Mapping[str, Any] | None = None,
    ablation: Mapping[str, Any] | None = None,
    preset_note: str | None = None,
    verdict: Mapping[str, Any] | None = None,
    expert_curves: Mapping[str, Mapping[str, Any]] | None = None,
    clips: Sequence[Mapping[str, Any]] | None = None,
    clips_base: Path | None = None,
) -> str:
    """The report page as one HTML string (see ``build_report``)."""
    validate_results(results, allow_none=bool(vla_results) or bool(ablation))
    sources = name_sources(results)
    runs = evaluation_runs(vla_results or [])
    order = series_names(sources)
    in_distribution = vla_rows(runs, IN_DISTRIBUTION, order)
    ood = vla_rows(runs, OOD_ZERO_SHOT, order)
    # One colour per name across the page: data sources first, then VLA training rows.
    domain = _unique([*order, *(row.label for row in [*in_distribution, *ood])])
    quality_figures = figures(
        sources,
        variance_task=variance_task,
        variance_dimension=variance_dimension,
        colour_domain=domain,
    )
    vla_figures = _vla_figures(in_distribution, ood, domain)
    ablation_figure = _ablation_figure(ablation) if ablation is not None else None
    expert_figure = (expert_curves_figure(expert_curves, domain)
                     if expert_curves else None)
    page_figures = [
        *vla_figures.values(), *quality_figures,
        *([expert_figure] if expert_figure else []),
        *([ablation_figure] if ablation_figure else []),
    ]
    clips = list(clips or [])
    generated_at = generated_at or generation_time()
    run_metadata = _run_metadata(sources, runs, generated_at)
    run_metadata.update(metadata or {})
    simulated_sources = {s.dataset["source"] for s in sources if s.is_simulated_teleoperation}
    status = STATUS_ELEMENT_ID
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escaping.text(title)}</title>",
        f"<style>{_STYLE}{VERDICT_STYLE}{DRILLDOWN_STYLE}</style>",
        "</head>",
        "<body>",
        (
            f'<div id="{status}" hidden data-errors="[]" data-warnings="[]" data-done="false" '
            f'data-rendered="0" data-expected="{len(page_figures)}" '
            f'data-clips-expected="{_count_clips(clips, sources, runs)}" data-clips-decoded="0" '
            'data-overflowing-tables="[]"></div>'
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
        verdict_html(verdict) if verdict is not None else "",
        _simulated_note(sources, [*in_distribution, *ood]),
        _preset_note(preset_note),
        "<h2>Run</h2>",
        table_html(key_value_table(run_metadata), css_class="metadata",
                   element_id=RUN_METADATA_ID),
    ]
    if vla_results:
        parts += _vla_sections(in_distribution, ood, runs, vla_figures)
    if clips:
        parts += [
            f'<h2 id="{CLIPS_ID}">Episode clips</h2>',
            _caption("The first recorded episodes of each source: its generated data, and "
                     "the VLA trained on it during evaluation. Every task's clips are in its "
                     "drill-down below."),
            clips_html(_first_clips(clips), clips_base),
        ]
    if generation_cost is not None:
        parts += [
            "<h2>Data-generation cost</h2>",
            _caption(
                "Environment steps and wall time spent making each dataset: generation, and "
                "for RL sources the training of the expert policies that generate."
            ),
            _scroll(table_html(generation_cost_table(generation_cost, simulated_sources),
                               css_class="generation-cost", element_id=GENERATION_COST_TABLE_ID)),
        ]
    if sources:
        parts += [
            "<h2>Datasets</h2>",
            _scroll(table_html(dataset_table(sources), css_class="datasets",
                               element_id=DATASETS_TABLE_ID)),
            "<h2>Data quality per source</h2>",
            _scroll(table_html(source_table(sources), css_class="per-source",
                               element_id=PER_SOURCE_TABLE_ID)),
            "<h3>No-op steps</h3>",
            _caption(
                "Steps whose arm motion is below 1e-4 and whose gripper command repeats the "
                "last kept step's (OpenVLA's LIBERO rule): hesitation in the data."
            ),
            _scroll(table_html(no_op_table(sources), css_class="no-op",
                               element_id=NO_OP_TABLE_ID)),
            "<h2>Data-quality figures</h2>",
            *(_figure_html(figure) for figure in quality_figures),
        ]
    if expert_curves:
        parts += [
            "<h2>RL experts: behaviour cloning, then PPO</h2>",
            _caption("Per task: training success of the first PPO iteration (the cloned "
                     "policy) → the last, for each RL source."),
            expert_table_html(expert_curves),
            *([_figure_html(expert_figure)] if expert_figure else []),
        ]
    if ablation_figure is not None:
        parts += ["<h2>Ablation</h2>", _figure_html(ablation_figure)]
    if sources or runs:
        parts += [
            "<h2>Per task</h2>",
            _caption("Open a task for its numbers per source and its clips."),
            drilldown_html(sources, runs, clips, clips_base),
        ]
    if sources:
        parts += [
            "<details><summary><strong>Data quality per task, all in one table</strong>"
            "</summary>",
            table_html(task_table(sources), css_class="per-task",
                       element_id=PER_TASK_TABLE_ID),
            "</details>",
        ]
    parts += [
        f"<script>{_EMBED_SCRIPT % {'status': status, 'chart': CHART_CLASS, 'clip': CLIP_CLASS}}"
        "</script>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def _vla_figures(
    in_distribution: Sequence[VlaRow], ood: Sequence[VlaRow], domain: Sequence[str]
) -> dict[str, Figure]:
    made = {}
    for protocol, rows, name, title in (
        (IN_DISTRIBUTION, in_distribution, "vla-in-distribution",
         "In-distribution VLA success per suite (Table I)"),
        (OOD_ZERO_SHOT, ood, "vla-ood", "OOD zero-shot VLA success per suite (Table II)"),
    ):
        spec = vla_success_chart(rows, domain) if rows else None
        if spec is not None:
            made[protocol] = Figure(
                name,
                title,
                "Bars: mean success over training seeds; error bars: Wilson 95% interval of the "
                "episodes pooled over seeds; dots: each seed's rate (when there are several).",
                spec,
            )
    return made


def _ablation_figure(ablation: Mapping[str, Any]) -> Figure:
    spec = ablation_chart(ablation)
    return Figure(
        "ablation",
        f"Ablation — success rate against environment steps, task {ablation['task']}",
        "Success rate of each variant's policy as training consumes environment steps.",
        spec,
    )


def _vla_sections(
    in_distribution: Sequence[VlaRow],
    ood: Sequence[VlaRow],
    runs: Sequence[Mapping[str, Any]],
    vla_figures: Mapping[str, Figure],
) -> list[str]:
    interval = (
        "One seed: success rate (successes/episodes) with its Wilson 95% interval. Several "
        "seeds: mean ± standard deviation over training seeds, then the pooled episodes and "
        "their Wilson 95% interval."
    )
    parts = ["<h2>Table I — In-distribution VLA success</h2>"]
    if in_distribution:
        parts += [
            _caption(
                "A VLA fine-tuned on each source's data with the same hyper-parameters, "
                f"evaluated on the suites it was trained on. {interval}"
            ),
            _scroll(table_html(in_distribution_table(in_distribution), css_class="vla",
                               element_id=IN_DISTRIBUTION_TABLE_ID)),
        ]
        if IN_DISTRIBUTION in vla_figures:
            parts.append(_figure_html(vla_figures[IN_DISTRIBUTION]))
    else:
        parts.append(_caption("No in-distribution evaluation is part of this report."))
    parts.append("<h2>Table II — OOD zero-shot VLA success</h2>")
    if ood:
        mixes = [training_label(row) for row in ood if row.is_mix]
        mix_note = f" Mixed training data: {'; '.join(mixes)}." if mixes else ""
        parts += [
            _caption(
                "A VLA trained only on the suites in 'trained on', evaluated zero-shot on "
                f"suites it has never seen.{mix_note} {interval}"
            ),
            _scroll(table_html(ood_table(ood), css_class="vla", element_id=OOD_TABLE_ID)),
        ]
        if OOD_ZERO_SHOT in vla_figures:
            parts.append(_figure_html(vla_figures[OOD_ZERO_SHOT]))
    else:
        parts.append(_caption("No OOD zero-shot evaluation is part of this report."))
    # Provenance rather than a result: folded, so that it does not push the figures away.
    parts += [
        f"<details><summary><strong>VLA evaluation runs ({len(runs)})</strong>: checkpoints, "
        "seeds and hashes behind Tables I and II</summary>",
        _scroll(table_html(runs_table(runs), css_class="vla-runs", element_id=VLA_RUNS_TABLE_ID)),
        "</details>",
    ]
    return parts


def _first_clips(clips: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The first clip of each (source, kind): a few per source."""
    seen: dict[tuple[str, str], Mapping[str, Any]] = {}
    for clip in clips:
        seen.setdefault((clip["source"], clip["kind"]), clip)
    return list(seen.values())


def _count_clips(clips: Sequence[Mapping[str, Any]], sources: Sequence[Source],
                 runs: Sequence[Mapping[str, Any]]) -> int:
    """Clip elements on the page: the first ones up front, and every task's in its block."""
    if not clips:
        return 0
    tasks = set(task_order(sources, runs))
    return len(_first_clips(clips)) + sum(1 for c in clips if c["task"] in tasks)


def _caption(text: str) -> str:
    return f'<p class="caption">{escaping.text(text)}</p>'


def _preset_note(preset_note: str | None) -> str:
    if preset_note is None:
        return ""
    return (
        f'<p class="preset" id="{PRESET_NOTE_ID}"><strong>Preset:</strong> '
        f"{escaping.text(preset_note)}</p>"
    )


def _scroll(inner: str) -> str:
    return f'<div class="scroll">{inner}</div>'


def _simulated_note(sources: Sequence[Source], rows: Sequence[VlaRow]) -> str:
    datasets = [s.name for s in sources if s.is_simulated_teleoperation]
    trained = _unique([training_label(r) for r in rows if r.is_simulated_teleoperation])
    if not datasets and not trained:
        return ""
    where = []
    if datasets:
        where.append(f"datasets {', '.join(datasets)}")
    if trained:
        where.append(f"the training data of the VLA rows {'; '.join(trained)}")
    return (
        f'<p class="note">{badge_html().strip()} The human demonstrations in '
        f"{escaping.text(' and in '.join(where))} come from a scripted operator model "
        "(simulated teleoperation), not from people.</p>"
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
