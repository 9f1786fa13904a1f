"""`compare`: every stage end to end on a tiny plan, resuming after a kill, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from compare_fixtures import tiny_plan

from diffrl_eval.cli import main
from diffrl_eval.compare import execute
from diffrl_eval.compare.stages import STAGE_FILE, STAGES_DIR
from diffrl_eval.envs.tabletop import TabletopBackend

SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from compare_fixtures import tiny_plan
from diffrl_eval.compare import execute
execute(tiny_plan(Path({out!r})), show_progress=False)
"""


def run_in_subprocess(out: Path) -> subprocess.Popen:
    code = SCRIPT.format(tests=str(Path(__file__).parent), out=str(out))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "run"
    summary = execute(tiny_plan(out), show_progress=False)
    return out, summary


def test_compare_writes_results_and_a_report_with_both_protocols(finished_run):
    out, summary = finished_run
    assert summary["failures"] == []
    assert (out / "report.html").is_file()
    run = json.loads((out / "run.json").read_text())
    assert run["kind"] == "diffrl-eval/compare-run"
    assert run["results_hash"] == summary["results_hash"]
    quality = pl.read_parquet(out / "results" / "data_quality.parquet")
    assert sorted(quality["suite"].to_list()) == ["tabletop-90", "tabletop-spatial"]
    assert quality["episodes"].to_list() == [3, 3]
    success = pl.read_parquet(out / "results" / "vla_success.parquet")
    protocols = dict(zip(success["eval_suite"].to_list(), success["protocol"].to_list()))
    assert protocols == {"tabletop-spatial": "in-distribution",
                         "tabletop-goal": "ood-zero-shot"}
    assert success["episodes"].to_list() == [2, 2]
    evaluations = json.loads((out / "results" / "vla_evaluations.json").read_text())
    assert len({e["hparams_hash"] for e in evaluations}) == 1  # one hparams for all
    page = (out / "report.html").read_text()
    assert "tiny plan for tests" in page
    variance_task = TabletopBackend().tasks("tabletop-90")[0].task_id
    assert f"normalized time — task {variance_task}" in page
    assert summary["results_hash"] in page
    cost = json.loads((out / "results" / "generation_cost.json").read_text())
    assert cost["human"]["episodes"] == 6
    metrics = json.loads((out / "results" / "metrics.json").read_text())
    assert cost["human"]["env_steps"] == sum(m["dataset"]["n_frames"] for m in metrics)
    assert cost["human"]["expert_env_steps"] is None  # a scripted source trains no expert


def test_a_rerun_reuses_every_stage_and_repeats_the_results_hash(finished_run):
    out, summary = finished_run
    again = execute(tiny_plan(out), show_progress=False)
    assert again["stages_run"] == 0
    assert again["stages_reused"] == summary["stages_run"]
    assert again["results_hash"] == summary["results_hash"]


def finished_stages(stages: Path) -> set[str]:
    """Stage directories under their final names (a staging place ``.NAME.tmp-*`` holds
    its record file while it is being flushed, before the rename)."""
    return {p.parent.name for p in stages.glob(f"*/{STAGE_FILE}")
            if not p.parent.name.startswith(".")}


def test_a_killed_run_resumes_with_finished_stages_and_the_same_results(finished_run, tmp_path):
    reference_out, reference = finished_run
    out = tmp_path / "run"
    process = run_in_subprocess(out)
    stages = out / STAGES_DIR
    try:
        deadline = time.monotonic() + 600
        # kill once some stage has finished and a later one is under way
        while len(finished_stages(stages)) < 3:
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    finished = finished_stages(stages)
    # nothing half-written under a final name: every stage directory is complete
    for directory in stages.iterdir():
        assert directory.name.startswith(".") or (directory / STAGE_FILE).is_file()
    assert not (out / "report.html").exists()
    summary = execute(tiny_plan(out), show_progress=False)
    assert summary["stages_reused"] == len(finished)
    assert summary["results_hash"] == reference["results_hash"]
    assert reference_out != out


def test_compare_bad_input_is_a_one_line_error(tmp_path, capsys):
    cases = [
        (["--sources", "human,robot"], "unknown generator 'robot'"),
        (["--sources", "human,human"], "twice"),
        (["--preset", "medium"], "unknown preset 'medium'"),
        (["--seeds", "0,a"], "--seeds"),
        (["--seeds", "1,1"], "distinct"),
        (["--backend", "nowhere"], "nowhere"),
        (["--variance-task", "goal_open_drawer"], "a task of this run"),
        (["--variance-dimension", "7"], "--variance-dimension must be in 0..6"),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(["compare", "--out", str(tmp_path / "run"), *extra])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2, (extra, err)
        assert message in err, (extra, err)
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
