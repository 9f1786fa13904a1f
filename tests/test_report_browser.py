"""The report in a real browser: headless Chromium draws every figure, offline, without errors.

Chromium runs with name resolution disabled, so the page can only render from what it
embeds. The page records script errors, console errors/warnings and how many figures
rendered in ``#report-status``; ``--dump-dom`` gives us the DOM after the scripts ran.
Skipped when Chromium is absent, except under CI (``CI`` set), where it must run.
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
from report_fixtures import computed_results, three_sources

from reports import build_report

pytestmark = pytest.mark.browser

_SHAPES = ("path", "rect", "line", "circle", "polyline", "polygon")
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


@pytest.fixture(scope="module")
def chromium() -> str:
    return _chromium()


@pytest.fixture(scope="module", params=["fixtures", "computed"])
def report(request, tmp_path_factory) -> _Report:
    """The report of the hand-made fixtures, or of metrics computed on written datasets.

    A fourth, hostile source (script and markup in its labels) is added to both.
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
    path = build_report(sources, out, title=_HOSTILE, metadata={"note": _HOSTILE_IMG})
    return _Report(path, len(sources))


@pytest.fixture(scope="module")
def rendered(chromium, report, tmp_path_factory) -> _RenderedDom:
    profile = tmp_path_factory.mktemp("chromium-profile")
    completed = _run_chromium(chromium, profile, "--dump-dom", report.path.as_uri())
    assert completed.returncode == 0, completed.stderr[-2000:]
    dom = _RenderedDom()
    dom.feed(completed.stdout)
    assert dom.status, "the dumped DOM has no #report-status: the page did not load"
    return dom


def test_the_page_finished_rendering(rendered):
    assert rendered.status["data-done"] == "true"


def test_every_figure_rendered_as_svg(rendered):
    expected = int(rendered.status["data-expected"])
    assert expected == 5
    assert len(rendered.charts) == expected
    assert int(rendered.status["data-rendered"]) == expected
    for chart_id, chart in rendered.charts.items():
        assert chart["attrs"].get("data-rendered") == "true", chart_id
        assert chart["drawings"], f"{chart_id} holds no Vega svg or canvas"


def test_every_figure_draws_data_marks_in_one_colour_per_source(report, rendered):
    n_sources = report.n_sources
    for chart_id, chart in rendered.charts.items():
        colors = chart["mark_colors"]
        # Error bars and box medians are black or white; the source colours are the others.
        source_colors = colors - {"black", "white", "#000", "#000000", "#fff", "#ffffff"}
        assert len(source_colors) >= n_sources, (chart_id, colors)


def test_no_script_errors_or_console_errors(rendered):
    assert json.loads(rendered.status["data-errors"]) == []


def test_vega_raised_no_warnings(rendered):
    # Vega warns (console.warn) about empty or infinite scale domains: a figure with no data.
    assert json.loads(rendered.status["data-warnings"]) == []


def test_hostile_labels_did_not_run_as_script(rendered):
    assert "data-injected" not in rendered.body


def test_a_screenshot_of_the_page_can_be_taken(chromium, report, tmp_path_factory):
    shots = tmp_path_factory.mktemp("screenshot")
    png = shots / "report.png"
    completed = _run_chromium(
        chromium,
        shots / "profile",
        "--hide-scrollbars",
        "--window-size=1280,4000",
        f"--screenshot={png}",
        report.path.as_uri(),
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])  # the IHDR chunk comes first
    assert (width, height) == (1280, 4000)
    if os.environ.get("REPORT_SCREENSHOT"):  # keep it for a human to look at
        shutil.copyfile(png, os.environ["REPORT_SCREENSHOT"])
