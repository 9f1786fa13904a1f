"""The report in a real browser: headless Chromium draws every figure, offline, without errors.

Chromium runs with name resolution disabled, so the page can only render from what it
embeds. The page records script errors, console errors/warnings, how many figures
rendered and its drawn height in ``#report-status``; ``--dump-dom`` gives us the DOM after
the scripts ran. Skipped when Chromium is absent, except under CI (``CI`` set), where it
must run. With ``DIFFRL_REPORT_SCREENSHOT=path.png`` the full-page screenshot of a complete
run's report is kept there for a person to look at.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

import pytest
from report_fixtures import computed_results, paper_run, run_extras, three_sources

from reports import build_report

pytestmark = pytest.mark.browser

_SHAPES = ("path", "rect", "line", "circle", "polyline", "polygon")
_WIDTH = 1280
# Every figure of a complete run's report, and how many colours its data marks need.
_QUALITY_CHARTS = (
    "chart-success-rate",
    "chart-trajectory-length-suite",
    "chart-trajectory-length",
    "chart-mean-squared-jerk",
    "chart-log-dimensionless-jerk",
    "chart-action-variance",
)
_VLA_CHARTS = ("chart-vla-in-distribution", "chart-vla-ood")
_ABLATION_CHART = "chart-ablation"
_EXPERT_CHART = "chart-expert-training"
_ALL_CHARTS = (*_VLA_CHARTS, *_QUALITY_CHARTS, _EXPERT_CHART, _ABLATION_CHART)
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
_HOSTILE = '<script>document.body.setAttribute("data-injected", "script")</script>'
_HOSTILE_IMG = "<img src=x onerror=\"document.body.setAttribute('data-injected', 'img')\">"


def _chromium() -> str:
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("headless Chromium is required under CI (apt-get install chromium)")
    pytest.skip("headless Chromium is not installed")


def _run_chromium(chromium: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",  # CI containers run as root, where the sandbox cannot start
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        # Every host name fails to resolve: anything fetched from the network would fail.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        # Virtual time runs the page's timers and promises to completion without waiting.
        "--virtual-time-budget=20000",
        *arguments,
    ]
    # The timeout only stops a hung browser from hanging the suite.
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


class _RenderedDom(HTMLParser):
    """What the test needs from the dumped DOM: status attributes, charts and their drawings."""

    def __init__(self) -> None:
        super().__init__()
        self.status: dict[str, str] = {}
        self.body: dict[str, str] = {}
        # chart id -> {"attrs", "drawings" (svg/canvas tags), "mark_colors" (data marks' colours)}
        self.charts: dict[str, dict] = {}
        self._open_charts: list[tuple[str, int]] = []  # (chart id, div depth when opened)
        self._div_depth = 0
        self._groups: list[bool] = []  # open SVG <g>: is it a container of data marks?

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "body":
            self.body = attributes
        if attributes.get("id") == "report-status":
            self.status = attributes
        # Vega's drawing surface has class "marks" (vega-embed's menu icon is an svg too).
        if tag in ("svg", "canvas") and "marks" in attributes.get("class", "").split():
            for chart_id, _ in self._open_charts:
                self.charts[chart_id]["drawings"].append(tag)
        if tag == "g":
            # Vega puts the marks drawn from data in groups of class "mark-<type> role-mark";
            # axes, legends and titles have other roles.
            self._groups.append("role-mark" in attributes.get("class", "").split())
        elif self._open_charts and any(self._groups) and tag in _SHAPES:
            color = attributes.get("fill") or attributes.get("stroke")
            if color and color not in ("transparent", "none"):
                self.charts[self._open_charts[-1][0]]["mark_colors"].add(color)
        if tag == "div":
            self._div_depth += 1
            if "chart" in attributes.get("class", "").split():
                self.charts[attributes["id"]] = {
                    "attrs": attributes,
                    "drawings": [],
                    "mark_colors": set(),
                }
                self._open_charts.append((attributes["id"], self._div_depth))

    def handle_endtag(self, tag):
        if tag == "g" and self._groups:
            self._groups.pop()
        if tag == "div":
            if self._open_charts and self._open_charts[-1][1] == self._div_depth:
                self._open_charts.pop()
            self._div_depth -= 1


class _Report(NamedTuple):
    path: Path
    n_sources: int
    vla_rows: dict[str, int]  # chart id -> training-data rows it draws
    n_variants: int


@pytest.fixture(scope="module")
def chromium() -> str:
    return _chromium()


def _hostile_vla_results(vla_results: list[dict]) -> list[dict]:
    """The runs with one more OOD row trained on a source whose name is markup."""
    hostile = copy.deepcopy(vla_results[-1])
    hostile["training"]["sources"] = [_HOSTILE]
    hostile["checkpoint_hash"] = _HOSTILE_IMG
    return [*vla_results, hostile]


@pytest.fixture(scope="module", params=["fixtures", "computed"])
def report(request, tmp_path_factory) -> _Report:
    """A complete run's report (VLA results, cost, ablation) with the hand-made metrics, or
    with metrics computed on written datasets.

    A hostile source (script and markup in its labels) is added to the metrics and to
    Table II.
    """
    if request.param == "computed":
        results = computed_results(tmp_path_factory.mktemp("datasets"))
    else:
        results = three_sources()
    hostile = copy.deepcopy(results[1])
    hostile["dataset"]["source"] = _HOSTILE
    hostile["dataset"]["source_label"] = _HOSTILE_IMG
    for summary in hostile["per_task"].values():
        summary["instruction"] = f"{_HOSTILE} then {_HOSTILE_IMG}"
    out = tmp_path_factory.mktemp("report") / "report.html"
    sources = [*results, hostile]
    run = paper_run()
    run["vla_results"] = _hostile_vla_results(run["vla_results"])
    extras = run_extras(sources, run["vla_results"], out.parent)
    path = build_report(
        sources, out, title=_HOSTILE, metadata={"note": _HOSTILE_IMG}, **run, **extras
    )
    vla_rows = {"chart-vla-in-distribution": 3, "chart-vla-ood": 4}
    return _Report(path, len(sources), vla_rows, len(run["ablation"]["curves"]))


def _dump(chromium: str, profile: Path, page: Path) -> _RenderedDom:
    completed = _run_chromium(
        chromium, profile, f"--window-size={_WIDTH},1000", "--dump-dom", page.as_uri()
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    dom = _RenderedDom()
    dom.feed(completed.stdout)
    assert dom.status, "the dumped DOM has no #report-status: the page did not load"
    return dom


@pytest.fixture(scope="module")
def rendered(chromium, report, tmp_path_factory) -> _RenderedDom:
    return _dump(chromium, tmp_path_factory.mktemp("chromium-profile"), report.path)


def test_the_page_finished_rendering(rendered):
    assert rendered.status["data-done"] == "true"


def test_every_figure_rendered_as_svg(rendered):
    expected = int(rendered.status["data-expected"])
    assert expected == len(_ALL_CHARTS)
    assert set(rendered.charts) == set(_ALL_CHARTS)
    assert int(rendered.status["data-rendered"]) == expected
    for chart_id, chart in rendered.charts.items():
        assert chart["attrs"].get("data-rendered") == "true", chart_id
        assert "svg" in chart["drawings"], f"{chart_id} holds no Vega svg"


def _source_colours(colours: set[str]) -> set[str]:
    # Error bars, seed dots and box medians are black or white; the series colours are the others.
    return colours - {"black", "white", "#000", "#000000", "#fff", "#ffffff"}


def test_every_figure_draws_data_marks_in_one_colour_per_series(report, rendered):
    wanted = {chart_id: report.n_sources for chart_id in _QUALITY_CHARTS}
    wanted.update(report.vla_rows)
    wanted[_ABLATION_CHART] = report.n_variants
    for chart_id, n_series in wanted.items():
        colours = _source_colours(rendered.charts[chart_id]["mark_colors"])
        assert len(colours) >= n_series, (chart_id, colours)


def test_no_script_errors_or_console_errors(rendered):
    assert json.loads(rendered.status["data-errors"]) == []


def test_vega_raised_no_warnings(rendered):
    # Vega warns (console.warn) about empty or infinite scale domains: a figure with no data.
    assert json.loads(rendered.status["data-warnings"]) == []


def test_hostile_labels_did_not_run_as_script(rendered):
    assert "data-injected" not in rendered.body


def test_the_verdict_block_opens_the_page(report):
    page = report.path.read_text()
    verdict = page.index('<section id="verdict">')
    assert verdict < page.index('id="table-run-metadata"') < page.index('id="table-in-distribution"')
    block = page[verdict:page.index("</section>", verdict)]
    assert "The paper's findings" in block and "diffusion-ppo − human" in block


def test_every_clip_decodes_to_a_picture_of_non_zero_size(rendered):
    expected = int(rendered.status["data-clips-expected"])
    assert expected > 0
    assert int(rendered.status["data-clips-decoded"]) == expected


def test_no_table_is_wider_than_a_1280_pixel_window(rendered):
    assert json.loads(rendered.status["data-overflowing-tables"]) == []


@pytest.fixture(scope="module")
def clean_report(tmp_path_factory) -> Path:
    """A complete run's report as a user would see it (no hostile labels)."""
    out = tmp_path_factory.mktemp("clean") / "report.html"
    run = paper_run()
    extras = run_extras(three_sources(), run["vla_results"], out.parent)
    return build_report(three_sources(), out, title="diffrl-eval compare (quick)", **run,
                        **extras)


def test_a_full_page_screenshot_shows_the_drawn_report(chromium, clean_report, tmp_path_factory):
    shots = tmp_path_factory.mktemp("screenshot")
    dom = _dump(chromium, shots / "dump-profile", clean_report)
    assert dom.status["data-done"] == "true"
    assert json.loads(dom.status["data-errors"]) == []
    assert int(dom.status["data-rendered"]) == len(_ALL_CHARTS)
    height = int(dom.status["data-page-height"])
    assert height > 2000  # tables and nine figures
    png = shots / "report.png"
    completed = _run_chromium(
        chromium,
        shots / "profile",
        "--hide-scrollbars",
        f"--window-size={_WIDTH},{height}",
        f"--screenshot={png}",
        clean_report.as_uri(),
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, shot_height = struct.unpack(">II", header[16:24])  # the IHDR chunk comes first
    assert (width, shot_height) == (_WIDTH, height)
    if os.environ.get("DIFFRL_REPORT_SCREENSHOT"):  # keep it for a person to look at
        shutil.copyfile(png, os.environ["DIFFRL_REPORT_SCREENSHOT"])
