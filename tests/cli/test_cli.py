"""The command line: help text, one-line errors with exit code 2, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import assert_one_line_error, run_cli


@pytest.mark.parametrize("command", [
    ["generators", "list"], ["generate"], ["metrics"], ["report"], ["compare"], ["check"],
    ["vla", "train"], ["vla", "eval"], ["export"], ["tasks", "list"], ["serve"],
])
def test_every_subcommand_has_help(command, capsys):
    code, out, _ = run_cli([*command, "--help"], capsys)
    assert code == 0
    assert "Usage" in out
    assert len(out.strip().splitlines()) > 4


def test_nonexistent_dataset_is_one_line_exit_2_in_a_real_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "diffrl_eval", "metrics", str(tmp_path / "nope")],
                          capture_output=True, text=True, check=False)
    assert_one_line_error(proc.returncode, proc.stderr, "dataset not found")


def test_unknown_option_is_one_line_exit_2(capsys):
    code, _, err = run_cli(["metrics", "x", "--bogus"], capsys)
    assert_one_line_error(code, err, "--bogus")


def test_unknown_generator_lists_the_valid_choices(third_party_plugin, tmp_path, capsys):
    code, _, err = run_cli(["generate", "--source", "nope", "--suite", "acme-suite", "--backend",
                            "acme-line", "--out", tmp_path / "d"], capsys)
    assert_one_line_error(code, err, "unknown generator 'nope'", "acme-random-walk")
    assert not (tmp_path / "d").exists()


def test_unknown_suite_and_task_list_the_valid_choices(third_party_plugin, tmp_path, capsys):
    base = ["generate", "--source", "acme-random-walk", "--backend", "acme-line", "--out", tmp_path / "d"]
    code, _, err = run_cli([*base, "--suite", "nope"], capsys)
    assert_one_line_error(code, err, "unknown acme-line suite 'nope'", "acme-suite")
    code, _, err = run_cli([*base, "--task", "reach_9"], capsys)
    assert_one_line_error(code, err, "unknown task 'reach_9'", "reach_1, reach_2")
    assert list(tmp_path.iterdir()) == []


def test_unknown_backend_lists_the_valid_choices(tmp_path, capsys):
    code, _, err = run_cli(["generate", "--source", "x", "--backend", "nope", "--suite", "s",
                            "--out", tmp_path / "d"], capsys)
    assert code == 2
    assert "error: unknown" in err


@pytest.mark.parametrize("episodes", ["0", "-3"])
def test_non_positive_episodes_is_refused(third_party_plugin, tmp_path, episodes, capsys):
    code, _, err = run_cli(["generate", "--source", "acme-random-walk", "--backend", "acme-line",
                            "--suite", "acme-suite", "--episodes", episodes, "--out", tmp_path / "d"],
                           capsys)
    assert_one_line_error(code, err, "--episodes must be a positive integer")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_dataset_is_refused_and_untouched(third_party_plugin, tmp_path, capsys):
    target = tmp_path / "d"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    code, _, err = run_cli(["generate", "--source", "acme-random-walk", "--backend", "acme-line",
                            "--suite", "acme-suite", "--out", target], capsys)
    assert_one_line_error(code, err, "already exists")
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_generator_setting_with_a_bad_value_is_refused(third_party_plugin, tmp_path, capsys):
    code, _, err = run_cli(["generate", "--source", "acme-random-walk", "--backend", "acme-line",
                            "--suite", "acme-suite", "--out", tmp_path / "d",
                            "--option", "step_scale=-1"], capsys)
    assert_one_line_error(code, err, "step_scale must be positive")
    assert list(tmp_path.iterdir()) == []


def test_images_requested_from_a_source_that_records_none_is_refused(third_party_plugin, tmp_path, capsys):
    code, _, err = run_cli(["generate", "--source", "acme-random-walk", "--backend", "acme-line",
                            "--task", "reach_1", "--out", tmp_path / "d", "--images"], capsys)
    assert_one_line_error(code, err, "recorded no camera images")
    assert list(tmp_path.iterdir()) == []


def test_same_seed_gives_the_same_content_hash_through_the_cli(third_party_plugin, tmp_path, capsys):
    hashes = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        code, _, err = run_cli(["generate", "--source", "acme-random-walk", "--backend", "acme-line",
                                "--suite", "acme-suite", "--out", tmp_path / name, "--seed", seed],
                               capsys)
        assert code == 0, err
        hashes.append(json.loads((tmp_path / name / "manifest.json").read_text())["content_hash"])
    assert hashes[0] == hashes[1] != hashes[2]


def test_metrics_json_to_an_existing_file_is_refused_and_file_kept(toy_dataset, tmp_path, capsys):
    existing = tmp_path / "m.json"
    existing.write_text("old")
    code, _, err = run_cli(["metrics", toy_dataset, "--json", existing], capsys)
    assert_one_line_error(code, err, "already exists")
    assert existing.read_text() == "old"


def test_report_refuses_a_json_that_is_not_a_metrics_result(tmp_path, capsys):
    bogus = tmp_path / "x.json"
    bogus.write_text(json.dumps({"hello": 1}))
    code, _, err = run_cli(["report", bogus, "--out", tmp_path / "r.html"], capsys)
    assert_one_line_error(code, err, "not a metrics result")
    assert not (tmp_path / "r.html").exists()


def test_report_refuses_a_non_html_output(toy_dataset, tmp_path, capsys):
    code, _, err = run_cli(["report", toy_dataset, "--out", tmp_path / "r.txt"], capsys)
    assert_one_line_error(code, err, ".html")


def test_unusable_mujoco_gl_setting_is_one_line_exit_2_and_writes_nothing(tmp_path):
    # MuJoCo sets PYOPENGL_PLATFORM when this process imports it; a user's shell has none.
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    env["MUJOCO_GL"] = "osmesa"
    probe = subprocess.run([sys.executable, "-c", "import mujoco"], env=env,
                           capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip("OSMesa is installed here, so MUJOCO_GL=osmesa is usable")
    proc = subprocess.run(
        [sys.executable, "-m", "diffrl_eval", "generate", "--source", "human", "--task",
         "goal_open_drawer", "--episodes", "1", "--out", str(tmp_path / "d")],
        env=env, capture_output=True, text=True, check=False,
    )
    assert_one_line_error(proc.returncode, proc.stderr, "MUJOCO_GL='osmesa'", "unset MUJOCO_GL")
    assert list(tmp_path.iterdir()) == []


def test_libero_assets_is_a_global_option_every_command_passes_to_the_backend(tmp_path, capsys):
    folder = tmp_path / "assets"
    folder.mkdir()
    # a fresh process: the backend remembers the folder it configured for the process
    env = {k: v for k, v in os.environ.items() if k != "DIFFRL_LIBERO_ASSETS"}
    proc = subprocess.run(
        [sys.executable, "-m", "diffrl_eval", "--libero-assets", str(folder), "doctor", "--json"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    # the backend's asset check sees the folder (empty here, so it lists what is missing)
    assert f"{folder.resolve()} lacks scenes" in proc.stdout
    code, _, err = run_cli(["--libero-assets", tmp_path / "nowhere", "tasks", "list"], capsys)
    assert_one_line_error(code, err, "--libero-assets: no such folder")
