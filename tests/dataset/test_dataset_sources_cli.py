"""`metrics` reads every format, says how it interpreted it, and refuses bad input in one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO, assert_one_line_error, run_cli

from tests.dataset.source_fixtures import write_lerobot_v3


def _cli(args, env_extra):
    env = {**os.environ, "PYTHONPATH": str(REPO), **env_extra}
    return subprocess.run([sys.executable, "-m", "diffrl_eval", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


def test_metrics_of_a_lerobot_directory_prints_its_semantics_and_writes_them(toy_dataset, tmp_path, capsys):
    path = write_lerobot_v3(toy_dataset, tmp_path / "v3", fps=10)
    out = tmp_path / "m.json"
    code, stdout, _ = run_cli(["metrics", path, "--json", out], capsys)
    assert code == 0
    assert "lerobot v3.0, recognized as libero" in stdout
    assert "control rate: 20 Hz" in stdout and "fps 10" in stdout
    assert "quality: 0 flagged episode(s)" in stdout and "diversity: strategies per task" in stdout
    assert json.loads(out.read_text())["semantics"]["control_hz"] == 20


def test_metrics_json_to_stdout_prints_only_json(toy_dataset, tmp_path, capsys):
    path = write_lerobot_v3(toy_dataset, tmp_path / "v3")
    code, stdout, _ = run_cli(["metrics", path, "--json", "-", "--control-hz", "10"], capsys)
    assert code == 0
    assert json.loads(stdout)["semantics"]["decided_by"]["control_hz"] == "declared"


@pytest.mark.parametrize("extra, fragments", [
    (["--eef-key", "observation.velocity"], ["--eef-key", "no feature", "observation.state"]),
    (["--eef-key", "observation.state[0:7]"], ["selects 7"]),
    (["--control-hz", "0"], ["--control-hz", "positive"]),
    (["--control-hz", "-5"], ["--control-hz", "positive"]),
    (["--gripper-index", "9"], ["--gripper-index", "[0, 6]"]),
    (["--format", "parquet-soup"], ["unknown dataset format", "lerobot"]),
])
def test_bad_semantics_are_one_line_errors(toy_dataset, tmp_path, capsys, extra, fragments):
    path = write_lerobot_v3(toy_dataset, tmp_path / "v3")
    out = tmp_path / "m.json"
    code, _, err = run_cli(["metrics", path, "--json", out, *extra], capsys)
    assert_one_line_error(code, err, *fragments)
    assert not out.exists()


def test_a_folder_of_no_known_format_names_the_formats_tried(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hello")
    code, _, err = run_cli(["metrics", tmp_path / "notes"], capsys)
    assert_one_line_error(code, err, "not a dataset of a known format",
                          "diffrl-eval", "lerobot", "robomimic", "lerobot-hub")


def test_hub_id_offline_and_not_cached_is_a_one_line_error(tmp_path):
    result = _cli(["metrics", "lerobot/libero"], {"HF_HUB_OFFLINE": "1",
                                                   "HF_HUB_CACHE": str(tmp_path / "cache")})
    assert_one_line_error(result.returncode, result.stderr, "lerobot/libero",
                          "not in the local cache", "HF_HUB_OFFLINE")


def test_hub_id_offline_reads_a_populated_cache(toy_dataset, tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "cache" / "datasets--lerobot--tiny_libero"
    snapshot = repo / "snapshots" / commit
    write_lerobot_v3(toy_dataset, tmp_path / "v3", fps=10)
    shutil.copytree(tmp_path / "v3", snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    result = _cli(["metrics", "lerobot/tiny_libero", "--json", "-"],
                  {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["semantics"]["format"].startswith("lerobot v3.0 (Hub: lerobot/tiny_libero")
    assert document["dataset"]["n_episodes"] == 6


def _thresholds(tmp_path, text='overall = ["success_rate >= 0.5"]\n'):
    path = tmp_path / "thresholds.toml"
    path.write_text(text)
    return path


def test_check_gates_a_lerobot_directory_and_writes_json_to_stdout(toy_dataset, tmp_path, capsys):
    path = write_lerobot_v3(toy_dataset, tmp_path / "v3")
    code, stdout, err = run_cli(["check", path, "--thresholds", _thresholds(tmp_path),
                                 "--json", "-"], capsys)
    assert code == 0, err
    outcome = json.loads(stdout)
    assert outcome["kind"] == "diffrl-eval/check" and outcome["passed"] is True
    assert outcome["findings"][0]["metric"] == "success_rate"
    assert "PASSED" in err


def test_check_fail_on_warn_fails_on_a_data_quality_warning(toy_dataset, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = write_lerobot_v3(toy_dataset, tmp_path / "v3", fps=10)
    file = path / "data/chunk-000/file-000.parquet"
    table = pq.read_table(file)
    stamps = table["timestamp"].to_numpy().copy()
    stamps[5:] += 1.0  # a one-second hole in episode 0: dropped frames
    pq.write_table(table.set_column(table.schema.get_field_index("timestamp"), "timestamp",
                                    pa.array(stamps)), file)
    thresholds = _thresholds(tmp_path)
    code, _, _ = run_cli(["check", path, "--thresholds", thresholds], capsys)
    assert code == 0
    out = tmp_path / "outcome.json"
    code, stdout, _ = run_cli(["check", path, "--thresholds", thresholds, "--fail-on", "warn",
                               "--json", out], capsys)
    assert code == 1
    outcome = json.loads(out.read_text())
    assert outcome["passed"] is False and any("dropped" in w for w in outcome["warnings"])


def test_check_refuses_an_unknown_fail_on_level(toy_dataset, tmp_path, capsys):
    code, _, err = run_cli(["check", toy_dataset, "--thresholds", _thresholds(tmp_path),
                            "--fail-on", "panic"], capsys)
    assert_one_line_error(code, err, "--fail-on", "error", "warn")


def test_version_prints_the_installed_version(capsys):
    from diffrl_eval import __version__

    code, stdout, _ = run_cli(["--version"], capsys)
    assert code == 0 and stdout.strip() == f"diffrl-eval {__version__}"


def test_installed_third_party_format_is_listed_and_read(third_party_plugin, tmp_path, capsys):
    rows = ["episode,step,x,y,z," + ",".join(f"a{i}" for i in range(7))]
    for episode in range(2):
        for step in range(12):
            x = 0.01 * step**2 * (episode + 1)
            rows.append(f"{episode},{step},{x},0,0," + ",".join(["0.1"] * 6 + ["1"]))
    csv = tmp_path / "run.acme.csv"
    csv.write_text("\n".join(rows) + "\n")
    code, stdout, _ = run_cli(["datasets", "formats"], capsys)
    assert code == 0 and "acme-csv" in stdout and "acme-datagen" in stdout.lower().replace("_", "-")
    code, stdout, err = run_cli(["metrics", csv, "--json", tmp_path / "m.json"], capsys)
    assert code == 0, err
    result = json.loads((tmp_path / "m.json").read_text())
    assert result["semantics"]["format"] == "acme-csv" and result["semantics"]["control_hz"] == 10
    # x = c t^2 has no jerk: third differences of a quadratic vanish
    assert result["overall"]["mean_squared_jerk"]["mean"] == pytest.approx(0.0, abs=1e-12)


def test_check_takes_the_same_semantics_options_as_metrics(toy_dataset, tmp_path, capsys):
    path = write_lerobot_v3(toy_dataset, tmp_path / "v3")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('control_hz = 10\neef_key = "observation.state[0:3]"\n')
    code, stdout, err = run_cli(["check", path, "--thresholds", _thresholds(tmp_path),
                                 "--mapping", mapping, "--control-hz", "5", "--json", "-"], capsys)
    assert code == 0, err
    code, stdout, err = run_cli(["metrics", path, "--mapping", mapping, "--control-hz", "5",
                                 "--json", "-"], capsys)
    semantics = json.loads(stdout)["semantics"]
    assert semantics["control_hz"] == 5  # the flag wins over the file
    assert semantics["decided_by"]["eef_key"] == "declared"


@pytest.mark.parametrize("text, fragment", [
    ("speed = 3\n", "unknown key(s) speed"),
    ("control_hz = 'fast'\n", "control_hz must be a number"),
    ("control_hz = [\n", "not valid TOML"),
    ('action_kind = "sideways"\n', "action kind 'sideways'"),
])
def test_bad_mapping_file_is_a_one_line_error(toy_dataset, tmp_path, capsys, text, fragment):
    path = write_lerobot_v3(toy_dataset, tmp_path / "v3")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(text)
    code, _, err = run_cli(["metrics", path, "--mapping", mapping], capsys)
    assert_one_line_error(code, err, fragment)


def test_report_reads_a_lerobot_directory_as_metrics(toy_dataset, tmp_path):
    from diffrl_eval.cli.reporting import load_result

    result = load_result(write_lerobot_v3(toy_dataset, tmp_path / "v3"))
    assert result["kind"] == "diffrl-eval/metrics"
    assert result["semantics"]["format"] == "lerobot v3.0"


def test_rlds_without_tensorflow_datasets_names_the_extra(tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("tensorflow_datasets") is not None:
        pytest.skip("tensorflow-datasets is installed here")
    builder = tmp_path / "my_rlds" / "1.0.0"
    builder.mkdir(parents=True)
    (builder / "dataset_info.json").write_text("{}")
    (builder / "features.json").write_text("{}")
    code, _, err = run_cli(["metrics", tmp_path / "my_rlds"], capsys)
    assert_one_line_error(code, err, "RLDS", "diffrl-eval[rlds]")
