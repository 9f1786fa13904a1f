"""The verdict block at the top of the report: the run's answer in one glance.

Reads a ``diffrl-eval/verdict`` document (``results/verdict.json``): a headline per source
against each baseline (VLA success in- and out-of-distribution, with interval and label),
the paper's claims marked for this run, what the run could detect and, when it is too small,
what to run instead; then every comparison, folded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from diffrl_eval.compare.verdict import format_difference
from reports import escaping

VERDICT_ID = "verdict"
VERDICT_FINDINGS_ID = "table-verdict-findings"
VERDICT_COMPARISONS_ID = "table-verdict-comparisons"

STYLE = """
#verdict { border: 2px solid #3b6fd8; border-radius: 6px; padding: 0.4rem 1rem 0.8rem;
           margin: 1rem 0 1.5rem; background: #fbfcff; }
#verdict h2 { margin-top: 0.6rem; border: none; }
#verdict ul { padding-left: 1.2rem; margin: 0.3rem 0; }
.label { font-weight: 600; padding: 0 0.35rem; border-radius: 0.3rem; white-space: nowrap; }
.label.better, .label.reproduced { background: #dff3e3; color: #185c28; }
.label.worse, .label.contradicted { background: #fbe0e0; color: #7a1a1a; }
.label.neutral { background: #eeeef2; color: #333; }
table.verdict { table-layout: fixed; width: 100%; }
table.verdict td { overflow-wrap: anywhere; }
"""

_SUCCESS_KEYS = ("success_in_distribution", "success_ood_zero_shot")


def _label_html(text: str) -> str:
    kind = text if text in ("better", "worse", "reproduced", "contradicted") else "neutral"
    return f'<span class="label {kind}">{escaping.text(text)}</span>'


def _headlines(comparisons: Sequence[Mapping[str, Any]]) -> list[str]:
    items = []
    for c in comparisons:
        if c["quantity"] in _SUCCESS_KEYS:
            text = format_difference(c, with_label=False)
            items.append(f"<li>{_label_html(c['label'])} {escaping.text(text)}"
                         f"{_detectable(c)}</li>")
    return items


def _detectable(comparison: Mapping[str, Any]) -> str:
    value = comparison.get("minimum_detectable")
    if value is None:
        return ""
    return f" — detectable at this size: ±{100 * value:.0f} points"


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], element_id: str,
           widths: Sequence[str]) -> str:
    head = "".join(f'<th style="width:{w}">{escaping.text(c)}</th>'
                   for c, w in zip(columns, widths))
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (f'<table class="verdict" id="{element_id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _number(value: float | None, rate: bool) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}%" if rate else f"{value:.3g}"


def verdict_html(verdict: Mapping[str, Any]) -> str:
    """The verdict block (``<section id="verdict">``)."""
    comparisons = verdict["comparisons"]
    headlines = _headlines(comparisons)
    parts = [f'<section id="{VERDICT_ID}">', "<h2>Verdict</h2>"]
    confidence = round(100 * verdict["confidence"])
    parts.append(
        f'<p class="caption">Each source minus its baseline, with a {confidence}% interval. '
        "Success: episodes paired by task and initial state, training seeds resampled as a "
        "random effect. <em>Better</em> / <em>worse</em>: the interval excludes zero; "
        "<em>not distinguishable at this size</em>: it does not, which says nothing about a "
        "difference smaller than the detectable one.</p>")
    if headlines:
        parts.append(f"<ul>{''.join(headlines)}</ul>")
    else:
        parts.append("<p>No VLA evaluation in this run: only data quality is compared.</p>")
    if verdict.get("recommendation"):
        parts.append(f'<p class="note"><strong>Too small to tell:</strong> '
                     f"{escaping.text(verdict['recommendation'])}</p>")
    rows = [[escaping.text(f["claim"]), _label_html(f["mark"]),
             "<br>".join(escaping.text(line) for line in f["evidence"])]
            for f in verdict["findings"]]
    parts += ["<h3>The paper's findings, for this run</h3>",
              _table(("claim", "this run", "numbers"), rows, VERDICT_FINDINGS_ID,
                     ("28%", "12%", "60%"))]
    detail = []
    for c in comparisons:
        rate = c["quantity"].startswith("success") or c["quantity"] == "no_op_fraction"
        interval = ("—" if c["ci_low"] is None
                    else f"{_number(c['ci_low'], rate)} to {_number(c['ci_high'], rate)}")
        detail.append([escaping.text(f"{c['source']} vs {c['baseline']}"),
                       escaping.text(c["title"]),
                       escaping.text(f"{_number(c['source_value'], rate)} vs "
                                     f"{_number(c['baseline_value'], rate)}"),
                       escaping.text(f"{_number(c['difference'], rate)} [{interval}]"),
                       escaping.text(_number(c["minimum_detectable"], rate)),
                       _label_html(c["label"])])
    parts += [
        f"<details><summary><strong>Every comparison ({len(comparisons)})</strong>: success "
        "and data quality, with the method of each interval in verdict.json</summary>",
        _table(("pair", "quantity", "values", "difference [95% CI]", "detectable", "label"),
               detail, VERDICT_COMPARISONS_ID, ("16%", "24%", "17%", "21%", "9%", "13%")),
        "</details>",
        "</section>",
    ]
    return "\n".join(parts)
