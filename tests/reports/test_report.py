"""The HTML report: validation, tables, figures, escaping, the atomic write."""

from __future__ import annotations

import copy
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_fixtures import computed_results, metrics_result, three_sources, wilson

from diffrl_eval.constants import SIMULATED_TELEOP_LABEL
from diffrl_eval.errors import UserError
from reports import build_report, read_result, render_page
from reports.charts import default_variance_task, figures
from reports.escaping import script_json
from reports.sources import name_sources
from reports.tables import (
    MISSING,
    format_mean_std,
    format_success,
    source_table,
    table_html,
    task_table,
)

MALICIOUS = "<script>alert(1)</script>"


class _Scripts(HTMLParser):
    """Collects every <script> element: its attributes and its raw text."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict, str]] = []
        self._current: dict | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._current, self._text = dict(attrs), []

    def handle_data(self, data):
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._current is not None:
            self.scripts.append((self._current, "".join(self._text)))
            self._current = None


def _scripts(page: str) -> list[tuple[dict, str]]:
    parser = _Scripts()
    parser.feed(page)
    return parser.scripts


def _markup(page: str) -> str:
    """The page without the contents of its scripts (the Vega bundle quotes HTML in strings)."""
    return re.sub(r"(<script\b[^>]*>).*?(</script>)", r"\1\2", page, flags=re.DOTALL)


def _spec_blocks(page: str) -> dict[str, dict]:
    return {
        attrs["id"]: json.loads(text)
        for attrs, text in _scripts(page)
        if attrs.get("type") == "application/json"
    }


@pytest.fixture(scope="module")
def results() -> list[dict]:
    return three_sources()


@pytest.fixture(scope="module")
def page(results) -> str:
    return render_page(results, metadata={"command": "diffrl-eval report a.json b.json c.json"})


# --- refusing bad input -------------------------------------------------------------------


def test_build_report_refuses_an_existing_file_and_leaves_it_untouched(tmp_path, results):
    out = tmp_path / "report.html"
    out.write_text("keep me")
    with pytest.raises(UserError, match="already exists"):
        build_report(results, out)
    assert out.read_text() == "keep me"


def test_build_report_creates_missing_directories(tmp_path, results):
    out = build_report(results, tmp_path / "no" / "such" / "report.html")
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_build_report_refuses_a_file_standing_where_its_directory_should_be(tmp_path, results):
    (tmp_path / "no").write_text("x")
    with pytest.raises(UserError, match="is not a directory"):
        build_report(results, tmp_path / "no" / "report.html")


def test_a_result_of_another_kind_is_refused_naming_its_kind(tmp_path, results):
    other = {**results[1], "kind": "diffrl-eval/vla-evaluation"}
    with pytest.raises(UserError) as raised:
        build_report([results[0], other], tmp_path / "report.html")
    message = str(raised.value)
    assert "\n" not in message
    assert "#2" in message and "'diffrl-eval/vla-evaluation'" in message
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("overall",), "'overall'"),
        (("dataset", "source"), "'dataset.source'"),
        (("overall", "success", "ci_low"), "'overall.success.ci_low'"),
        (("per_task", "spatial_1", "trajectory_length"), "'per_task.spatial_1.trajectory_length'"),
        (
            ("action_variance_curves", "spatial_0", "variance"),
            "'action_variance_curves.spatial_0.variance'",
        ),
    ],
)
def test_a_missing_key_is_named_in_a_one_line_error(results, path, expected):
    broken = copy.deepcopy(results[0])
    container = broken
    for key in path[:-1]:
        container = container[key]
    del container[path[-1]]
    with pytest.raises(UserError) as raised:
        render_page([broken])
    message = str(raised.value)
    assert "\n" not in message
    assert message == f"metrics result #1 is missing key {expected}"


def test_a_missing_key_in_an_episode_names_the_episode(results):
    broken = copy.deepcopy(results[0])
    del broken["episodes"][3]["task_id"]
    with pytest.raises(UserError, match=r"missing key 'episodes\[3\]\.task_id'"):
        render_page([broken])


def test_an_unknown_schema_version_is_refused(results):
    with pytest.raises(UserError, match="schema_version 7"):
        render_page([{**results[0], "schema_version": 7}])


def test_a_result_that_is_not_an_object_is_refused():
    with pytest.raises(UserError, match="is a list, not a JSON object"):
        render_page([[1, 2, 3]])


def test_a_report_needs_at_least_one_result():
    with pytest.raises(UserError, match="at least one"):
        render_page([])


def test_read_result_reports_invalid_json_with_file_and_line(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text('{"kind": "diffrl-eval/metrics",\n "schema_version": }')
    with pytest.raises(UserError, match=r"metrics\.json' is not valid JSON \(line 2"):
        read_result(path)


def test_read_result_returns_a_valid_result_unchanged(tmp_path, results):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(results[0]))
    assert read_result(path) == results[0]


def test_read_result_validates_what_it_reads(tmp_path, results):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({**results[0], "kind": "something-else"}))
    with pytest.raises(UserError, match=r"metrics\.json' has kind 'something-else'"):
        read_result(path)


# --- formatting and tables ------------------------------------------------------------------


def test_success_is_shown_with_its_wilson_interval():
    # 36/50: p = 0.72; Wilson 95% by hand: centre 0.7043, half-width 0.1210 -> [0.5833, 0.8253].
    low, high = wilson(36, 50)
    assert (round(low, 4), round(high, 4)) == (0.5833, 0.8253)
    success = {
        "successes": 36,
        "episodes": 50,
        "rate": 0.72,
        "ci_low": low,
        "ci_high": high,
        "confidence": 0.95,
    }
    assert format_success(success) == "72.0% (36/50), 95% CI 58.3–82.5%"


def test_success_without_episodes_is_a_dash_not_zero_percent():
    success = {"successes": 0, "episodes": 0, "rate": 0.0, "ci_low": 0.0, "ci_high": 1.0}
    assert format_success(success).startswith(MISSING)


def test_mean_std_formats_and_missing_statistics_show_a_dash():
    assert format_mean_std({"count": 4, "mean": 101.25, "std": 12.5, "median": 100}) == (
        "101 ± 12.5 (n=4)"
    )
    assert format_mean_std({"count": 0, "mean": None, "std": None, "median": None}) == MISSING
    assert format_mean_std({"count": 3, "mean": float("nan"), "std": 1.0}) == MISSING


def test_source_table_has_one_row_per_source_with_its_overall_metrics(results):
    table = source_table(name_sources(results))
    assert [row[0].text for row in table.rows] == ["human", "gaussian-ppo", "diffusion-ppo"]
    success = results[2]["overall"]["success"]
    assert table.rows[2][1].text == format_success(success)
    no_ops = results[1]["overall"]["no_op_count"]
    assert table.rows[1][3].text.startswith(f"{no_ops} (")


def test_only_the_simulated_teleoperation_source_carries_the_badge(results):
    table = source_table(name_sources(results))
    assert [row[0].simulated_badge for row in table.rows] == [True, False, False]
    html = table_html(table, css_class="per-source")
    assert html.count('class="badge simulated"') == 1
    assert f">{SIMULATED_TELEOP_LABEL}</span>" in html


def test_task_table_lists_each_task_for_each_source_that_has_it():
    first = metrics_result("a", tasks={"t0": "open the drawer", "t1": "close it"}, seed=5)
    second = metrics_result("b", tasks={"t1": "close it", "t2": "stack"}, seed=6)
    table = task_table(name_sources([first, second]))
    pairs = [(row[0].text, row[2].text) for row in table.rows]
    assert pairs == [("t0", "a"), ("t1", "a"), ("t1", "b"), ("t2", "b")]
    assert table.rows[0][1].text == "open the drawer"


def test_a_task_without_successful_episodes_shows_dashes_not_zeros():
    result = metrics_result("never", success_probability=0.0, seed=7)
    row = task_table(name_sources([result])).rows[0]
    assert row[4].text == MISSING  # trajectory length
    assert row[8].text == MISSING  # action variance


def test_sources_with_the_same_name_get_distinct_names():
    results = [
        metrics_result("human", suite="spatial", seed=1),
        metrics_result("human", suite="goal", seed=2),
        metrics_result("human", suite="goal", seed=3),
        metrics_result("diffusion-ppo", seed=4),
    ]
    names = [source.name for source in name_sources(results)]
    assert names == ["human (spatial)", "human (goal) #1", "human (goal) #2", "diffusion-ppo"]


# --- figures ------------------------------------------------------------------------------------


def test_every_data_quality_figure_is_made_from_complete_results(results):
    names = [figure.name for figure in figures(name_sources(results))]
    assert names == [
        "success-rate",
        "trajectory-length-suite",
        "trajectory-length",
        "mean-squared-jerk",
        "log-dimensionless-jerk",
        "action-variance",
    ]


def test_success_figure_carries_each_sources_rate_and_interval(results):
    spec = figures(name_sources(results))[0].spec
    values = spec["datasets"]["rows"]
    by_source = {row["source"]: row for row in values}
    success = results[1]["overall"]["success"]
    assert by_source["gaussian-ppo"]["rate"] == success["rate"]
    assert (by_source["gaussian-ppo"]["ci_low"], by_source["gaussian-ppo"]["ci_high"]) == (
        success["ci_low"],
        success["ci_high"],
    )


def test_variance_figure_defaults_to_the_first_task_every_source_has():
    tasks = {"t0": "a", "t1": "b", "t2": "c"}
    first = metrics_result("a", tasks=tasks, success_probability=1.0, seed=1)
    second = metrics_result("b", tasks=tasks, success_probability=1.0, seed=2)
    del second["action_variance_curves"]["t0"]
    sources = name_sources([first, second])
    assert default_variance_task(sources) == "t1"
    variance = figures(sources)[-1]
    assert variance.name == "action-variance" and variance.title.endswith("task t1")


def test_variance_figure_starts_at_dimension_y_and_embeds_all_dimensions(results):
    spec = figures(name_sources(results))[-1].spec
    (param,) = spec["params"]
    assert param["value"] == 1
    assert param["bind"]["labels"][1] == "y"
    values = spec["datasets"]["rows"]
    human_rows = [row for row in values if row["source"] == "human"]
    assert len(human_rows) == 100 * 7
    curve = results[0]["action_variance_curves"]["spatial_0"]["variance"]
    assert [row["variance"] for row in human_rows if row["dimension"] == 1] == [
        point[1] for point in curve
    ]


def test_an_unknown_variance_task_or_dimension_is_a_user_error(results):
    sources = name_sources(results)
    with pytest.raises(UserError, match="unknown task for the action-variance figure 'nope'"):
        figures(sources, variance_task="nope")
    with pytest.raises(UserError, match="action dimension 7 is out of range"):
        figures(sources, variance_dimension=7)


def test_zero_jerk_episodes_are_left_off_the_log_axis_and_counted_in_the_caption():
    result = metrics_result("idle", seed=3)
    for episode in result["episodes"][:4]:
        episode["mean_squared_jerk"] = 0.0
    figure = next(f for f in figures(name_sources([result])) if f.name == "mean-squared-jerk")
    assert figure.spec["mark"]["type"] == "boxplot"
    assert figure.spec["encoding"]["y"]["scale"]["type"] == "log"
    plotted = figure.spec["datasets"]["rows"]
    assert len(plotted) == len(result["episodes"]) - 4
    assert all(row["mean_squared_jerk"] > 0 for row in plotted)
    assert "4 episode(s) with zero jerk" in figure.caption


# --- the page -----------------------------------------------------------------------------------


def test_page_shows_run_metadata_and_every_dataset(page, results):
    assert "diffrl-eval version" in page and "generated at" in page
    assert "diffrl-eval report a.json b.json c.json" in page
    for result in results:
        dataset = result["dataset"]
        assert dataset["content_hash"] in page
        assert f"{dataset['n_episodes']} / {dataset['n_frames']}" in page


def test_page_embeds_the_vega_libraries_once_and_loads_nothing_from_the_network(page):
    assert page.count("window.vegaEmbed=") == 1
    markup = _markup(page)
    assert not re.search(r"<script[^>]*\ssrc\s*=", markup, re.IGNORECASE)
    assert not re.search(r"<(link|img|iframe|object|embed)\b", markup, re.IGNORECASE)
    assert not re.search(r"\s(src|href)\s*=", markup, re.IGNORECASE)


def test_page_has_one_chart_container_and_one_spec_per_figure(page, results):
    specs = _spec_blocks(page)
    charts = re.findall(r'<div class="chart" id="(chart-[\w-]+)" data-spec="(spec-[\w-]+)">', page)
    assert len(charts) == len(figures(name_sources(results))) == len(specs)
    assert {spec_id for _, spec_id in charts} == set(specs)
    assert all(
        spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
        for spec in specs.values()
    )


def test_page_marks_the_simulated_teleoperation_source_visibly(page):
    assert page.count('class="badge simulated"') >= 3  # note, datasets, per-source, per-task
    assert "scripted operator model" in page


def test_untrusted_strings_are_escaped_in_html_and_inert_in_script_json(results):
    hostile = copy.deepcopy(results[0])
    hostile["dataset"]["source"] = MALICIOUS
    hostile["dataset"]["source_label"] = f"{MALICIOUS} {SIMULATED_TELEOP_LABEL}"
    hostile["dataset"]["path"] = '"><img src=x onerror=alert(1)>'
    task_id = "spatial_0"
    hostile["per_task"][task_id]["instruction"] = "pick </script><script>alert(2)</script> up"
    page = render_page(
        [hostile, results[1]],
        title=MALICIOUS,
        metadata={MALICIOUS: MALICIOUS, "note": "<!-- <script>"},
    )
    assert "alert(1)</script>" not in page and "<script>alert" not in page
    assert "<img" not in _markup(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Only the page's own scripts exist: status, bundle, embed, and one JSON block per figure.
    scripts = _scripts(page)
    specs = _spec_blocks(page)
    assert len(scripts) == 3 + len(specs)
    # The hostile names survive unchanged as data inside the chart specs.
    values = specs["spec-success-rate"]["datasets"]["rows"]
    assert values[0]["source"] == MALICIOUS
    assert all(
        "<" not in text for attrs, text in scripts if attrs.get("type") == "application/json"
    )


def test_script_json_round_trips_and_never_closes_a_script():
    value = {"label": "</script><!-- <script>x</SCRIPT>", "line": "a\u2028b", "amp": "&"}
    encoded = script_json(value)
    assert "</" not in encoded and "<!--" not in encoded and "<" not in encoded
    assert json.loads(encoded) == value


# --- writing ---------------------------------------------------------------------------------------


def test_build_report_writes_one_complete_file_and_returns_its_path(tmp_path, results):
    out = tmp_path / "report.html"
    assert build_report(results, out, title="Run 17") == out
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "<title>Run 17</title>" in text
    assert list(tmp_path.iterdir()) == [out]


def test_build_report_renames_a_temporary_file_from_the_same_directory(
    tmp_path, results, monkeypatch
):
    renames = []
    real_replace = os.replace

    def spying_replace(source, destination):
        renames.append((Path(source), Path(destination)))
        assert not Path(destination).exists()
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", spying_replace)
    out = tmp_path / "report.html"
    build_report(results, out)
    ((source, destination),) = renames
    assert destination == out and source.parent == tmp_path and source != out


def test_a_failed_write_leaves_neither_the_report_nor_a_temporary_file(
    tmp_path, results, monkeypatch
):
    def failing_replace(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        build_report(results, tmp_path / "report.html")
    assert list(tmp_path.iterdir()) == []


# --- with results computed by diffrl_eval.metrics ----------------------------------------------


def test_report_from_computed_metrics_shows_their_numbers_and_all_figures(tmp_path):
    (tmp_path / "datasets").mkdir()
    results = computed_results(tmp_path / "datasets")
    out = build_report(results, tmp_path / "report.html")
    page = out.read_text(encoding="utf-8")
    for result in results:
        assert result["dataset"]["content_hash"] in page
        assert format_success(result["overall"]["success"]) in page
    names = [figure.name for figure in figures(name_sources(results))]
    assert names == [
        "success-rate",
        "trajectory-length-suite",
        "trajectory-length",
        "mean-squared-jerk",
        "log-dimensionless-jerk",
        "action-variance",
    ]
    # One motionless episode per dataset: zero jerk, left off the log axis and said so.
    assert "2 episode(s) with zero jerk are not shown" in page
    # "push" has a single success in both datasets, so no curve: the figure shows "lift".
    assert "Action variance over normalized time — task lift" in page
