"""`compare` answers its question: results/verdict.json and the verdict block on the page,
and the one-line refusal of a baseline that is not in the run."""

from __future__ import annotations

import json

import pytest
from compare_fixtures import tiny_plan

from diffrl_eval.cli import main
from diffrl_eval.compare import execute


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


def test_compare_embeds_clips_of_the_data_and_of_the_vla_rollouts(tmp_path):
    import av

    out = tmp_path / "run"
    execute(tiny_plan(out), show_progress=False)
    clips = json.loads((out / "results" / "clips.json").read_text())
    kinds = {(c["source"], c["kind"]) for c in clips}
    assert kinds == {("human", "data"), ("human", "VLA rollout")}
    # one data clip per in-distribution task; one rollout per task evaluated (both protocols)
    assert sum(c["kind"] == "data" for c in clips) == 1
    assert sum(c["kind"] == "VLA rollout" for c in clips) == 2
    for clip in clips:
        with av.open(str(out / clip["path"])) as container:
            assert sum(1 for _ in container.decode(video=0)) > 1
    page = (out / "report.html").read_text()
    assert page.count('<video class="clip" src="data:video/mp4;base64,') >= len(clips)
    assert 'id="per-task-drilldown"' in page


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
