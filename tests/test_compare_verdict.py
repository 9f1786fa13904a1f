"""`compare` answers its question: results/verdict.json and the verdict block on the page,
and the one-line refusal of a baseline that is not in the run."""

from __future__ import annotations

import json

import pytest

from diffrl_eval.cli import main
from diffrl_eval.compare import execute
from tests.test_compare import tiny_plan


def test_compare_writes_the_verdict_and_opens_the_report_with_it(tmp_path):
    out = tmp_path / "run"
    execute(tiny_plan(out), show_progress=False)
    verdict = json.loads((out / "results" / "verdict.json").read_text())
    assert verdict["kind"] == "diffrl-eval/verdict"
    assert verdict["size"]["in-distribution"]["seeds"] == [0]
    assert {f["key"] for f in verdict["findings"]} >= {"in-distribution-ranking", "no-no-ops"}
    page = (out / "report.html").read_text()
    assert page.index('id="verdict"') < page.index('id="table-run-metadata"')
    evaluations = json.loads((out / "results" / "vla_evaluations.json").read_text())
    for evaluation in evaluations:  # per-episode outcomes, for the paired intervals
        for task in evaluation["per_task"].values():
            assert sum(task["episode_successes"]) == task["successes"]


@pytest.mark.parametrize("baseline", ["robot", "gaussian-ppo"])
def test_a_baseline_source_not_in_the_run_is_a_one_line_error(tmp_path, capsys, baseline):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--sources", "human,diffusion-ppo", "--out", str(tmp_path / "run"),
              "--baseline-source", baseline])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert f"--baseline-source (a source of this run) {baseline!r}" in lines[0]
    assert "diffusion-ppo, human" in lines[0]
    assert not (tmp_path / "run").exists()
