"""Inputs a hostile but realistic user gives: each was once accepted or crashed; each is now
refused in one line with the exit code of its class (2 bad input, 3 environment fault) and
nothing half-written, and a check never passes on numbers that cannot be compared."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import error_line, run_cli
from fault_fixtures import (
    TINY_HPARAMS,
    edited_copy,
    fresh,
    generate_dataset,
    run_process,
    small_disk,
    visible,
)

from diffrl_eval import constants as C
from diffrl_eval.compare.stages import StageStore


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def dataset(work) -> Path:
    return generate_dataset(work / "human", tasks=("spatial_left_cube_on_plate",
                                                    "spatial_right_cube_in_bowl"), episodes=2)


@pytest.fixture(scope="module")
def metrics_json(work, dataset) -> Path:
    path = work / "metrics.json"
    with pytest.raises(SystemExit):
        from diffrl_eval.cli import main
        main(["metrics", str(dataset), "--json", str(path)])
    return path


@pytest.fixture(scope="module")
def hparams_file(work) -> Path:
    path = work / "tiny.json"
    path.write_text(json.dumps(TINY_HPARAMS))
    return path


# --- 1. a full disk under the HDF5 exporter ----------------------------------------------------
def test_export_to_hdf5_on_a_full_disk_is_one_line_exit_3_not_a_crash(work, dataset):
    with small_disk(work / "disk-hdf5", "12k") as disk:
        proc = run_process(["export", dataset, disk / "exp", "--format", "libero-hdf5"])
        assert proc.returncode == 3, proc.stderr[-2000:]
        line = error_line(proc.stderr)
        assert "no space left on device" in line and "exp" in line
        assert visible(disk) == []


# --- 2. a full disk under every other writer ---------------------------------------------------
@pytest.mark.parametrize("command", ["generate", "metrics", "import", "report"])
def test_a_full_disk_is_one_line_exit_3_and_nothing_is_left(command, work, dataset,
                                                             metrics_json, capsys):
    with small_disk(fresh(work, f"disk-{command}"), "16k") as disk:
        argv = {
            "generate": ["generate", "--source", "human", "--task", "spatial_left_cube_on_plate",
                         "--episodes", "3", "--out", disk / "out"],
            "metrics": ["metrics", dataset, "--json", disk / "out"],
            "report": ["report", metrics_json, "--out", disk / "out.html"],
        }.get(command)
        if command == "import":
            exported = work / "exported-for-import"
            if not exported.exists():
                assert run_cli(["export", dataset, exported, "--format", "libero-hdf5"],
                               capsys)[0] == 0
            argv = ["import", exported, disk / "out"]
        code, _, err = run_cli(argv, capsys)
        assert code == 3, err
        line = error_line(err)
        assert "no space left on device" in line and "out" in line
        assert visible(disk) == []


# --- 3. non-finite baselines and metrics files -------------------------------------------------
def _poisoned(metrics_json: Path, out: Path, edit) -> Path:
    text = metrics_json.read_text()
    document = json.loads(text)
    edit(document)
    out.write_text(json.dumps(document))  # Python writes NaN and Infinity; JSON has neither
    return out


@pytest.mark.parametrize("where, edit", [
    ("success rate NaN", lambda d: [s["success"].__setitem__("rate", float("nan"))
                                    for s in [d["overall"], *d["per_suite"].values(),
                                              *d["per_task"].values()]]),
    ("jerk inf", lambda d: d["overall"]["mean_squared_jerk"].__setitem__("mean", float("inf"))),
    ("jerk -inf", lambda d: d["overall"]["mean_squared_jerk"].__setitem__("mean", float("-inf"))),
])
def test_a_non_finite_baseline_is_refused_not_a_pass(where, edit, work, dataset, metrics_json,
                                                    capsys):
    baseline = _poisoned(metrics_json, fresh(work, "nan") / "baseline.json", edit)
    code, out, err = run_cli(["check", dataset, "--baseline", baseline], capsys)
    assert code == 2, out + err
    assert "PASSED" not in out
    assert "not valid JSON" in error_line(err) and "finite" in error_line(err)


def test_report_refuses_a_metrics_file_with_nan(work, metrics_json, capsys):
    poisoned = _poisoned(metrics_json, fresh(work, "nan") / "m.json",
                         lambda d: d["overall"]["success"].__setitem__("episodes", float("nan")))
    out = poisoned.parent / "report.html"
    code, _, err = run_cli(["report", poisoned, "--out", out], capsys)
    assert code == 2
    assert "finite" in error_line(err)
    assert not out.exists()


# --- 4. the manifest's control rate ------------------------------------------------------------
@pytest.mark.parametrize("value", ["fast", 0, -20, True, [20]])
def test_a_nonsense_control_rate_is_refused_for_metrics_and_check(value, work, dataset,
                                                                  metrics_json, capsys):
    broken = edited_copy(dataset, fresh(work, "hz") / "ds",
                         manifest=lambda m: m.__setitem__("control_hz", value))
    for argv in (["metrics", broken], ["check", broken, "--baseline", metrics_json]):
        code, _, err = run_cli(argv, capsys)
        assert code == 2, err  # never 1: check's 1 means "regression found"
        assert "control_hz must be a positive number" in error_line(err)


# --- 5. frames that disagree with the manifest (hash recomputed) --------------------------------
FRAME_EDITS = {
    "tasks as a string": dict(manifest=lambda m: m.__setitem__("tasks", "spatial_left_cube_on_plate"),
                              fragment="tasks must be a non-empty list"),
    "a negative episode index": dict(
        frames=lambda f: f.with_columns(pl.when(pl.col(C.COL_EPISODE) == 0).then(-5)
                                        .otherwise(pl.col(C.COL_EPISODE)).alias(C.COL_EPISODE)),
        fragment="episode index -5 is negative"),
    "a task missing from the manifest": dict(
        manifest=lambda m: m.__setitem__("tasks", m["tasks"][:1]),
        fragment="is in the frames but not in the manifest's tasks"),
    "no done flag": dict(frames=lambda f: f.with_columns(pl.lit(False).alias(C.COL_DONE)),
                         fragment="must end with done=True"),
}


@pytest.mark.parametrize("case", sorted(FRAME_EDITS))
def test_frames_that_disagree_with_the_manifest_are_refused_before_any_work(
        case, work, dataset, hparams_file, capsys):
    edit = dict(FRAME_EDITS[case])
    fragment = edit.pop("fragment")
    broken = edited_copy(dataset, fresh(work, "frames") / "ds", **edit)
    for argv in (["metrics", broken],
                 ["vla", "train", "--data", broken, "--out", broken.parent / "ckpt",
                  "--hparams", hparams_file]):
        code, _, err = run_cli(argv, capsys)
        assert code == 2, err
        assert fragment in error_line(err)
    assert not (broken.parent / "ckpt").exists()


# --- 6. an unknown suite on import --------------------------------------------------------------
def test_import_refuses_an_unknown_suite(work, capsys):
    from tests.export.libero_demo_files import random_demo, write_libero_file

    folder = fresh(work, "import")
    demo = write_libero_file(folder / "x_demo.hdf5", [random_demo(np.random.default_rng(0), 12)],
                             bddl="X.bddl")  # names no suite
    code, _, err = run_cli(["import", demo, folder / "out", "--suite", "libero_nope"], capsys)
    assert code == 2
    assert "unknown libero suite 'libero_nope'" in error_line(err)
    assert "libero_spatial" in error_line(err)
    assert not (folder / "out").exists()


# --- 7. non-finite models -----------------------------------------------------------------------
@pytest.mark.parametrize("value", ["Infinity", "NaN", "-Infinity"])
def test_an_hparams_file_with_a_non_finite_number_is_refused(value, work, dataset, capsys):
    hparams = fresh(work, "hp") / "h.json"
    hparams.write_text(f'{{"preset": "quick", "learning_rate": {value}}}')
    code, _, err = run_cli(["vla", "train", "--data", dataset, "--out", hparams.parent / "ckpt",
                            "--hparams", hparams], capsys)
    assert code == 2
    assert "finite" in error_line(err)
    assert visible(hparams.parent) == ["h.json"]


def test_training_that_diverges_writes_no_checkpoint(work, dataset, capsys):
    hparams = fresh(work, "hp") / "h.json"
    hparams.write_text(json.dumps({**TINY_HPARAMS, "learning_rate": 1e38, "train_steps": 4}))
    code, _, err = run_cli(["vla", "train", "--data", dataset, "--out", hparams.parent / "ckpt",
                            "--hparams", hparams], capsys)
    assert code == 2, err
    assert "training diverged" in error_line(err)
    assert visible(hparams.parent) == ["h.json"]


def test_evaluating_nan_weights_is_refused(work, dataset, hparams_file, capsys):
    import torch
    from safetensors.torch import load_file, save_file

    from diffrl_eval.vla.checkpoint import INFO_FILE, checkpoint_hash

    ckpt = fresh(work, "nanw") / "ckpt"
    assert run_cli(["vla", "train", "--data", dataset, "--out", ckpt, "--hparams", hparams_file],
                   capsys)[0] == 0
    tensors = load_file(str(ckpt / "model.safetensors"))
    save_file({k: torch.full_like(t, float("nan")) if t.is_floating_point() else t
               for k, t in tensors.items()}, str(ckpt / "model.safetensors"))
    info = json.loads((ckpt / INFO_FILE).read_text())
    info["content_hash"] = checkpoint_hash(ckpt, "tiny-vla")  # consistent hash: only the values are wrong
    (ckpt / INFO_FILE).write_text(json.dumps(info))
    code, _, err = run_cli(["vla", "eval", "--ckpt", ckpt, "--suite", "tabletop-spatial",
                            "--task", "spatial_left_cube_on_plate", "--episodes-per-task", "1"],
                           capsys)
    assert code == 2
    assert "NaN or inf" in error_line(err)


# --- 8. check does not invent regressions --------------------------------------------------------
def test_a_baseline_whose_suite_differs_from_its_overall_is_compared_suite_to_suite(
        work, dataset, metrics_json, capsys):
    baseline = json.loads(metrics_json.read_text())
    (suite,) = baseline["per_suite"]
    baseline["overall"]["trajectory_length"]["mean"] *= 1.01  # overall no longer == the suite
    path = fresh(work, "suite") / "baseline.json"
    path.write_text(json.dumps(baseline))
    code, out, err = run_cli(["check", dataset, "--baseline", path], capsys)
    assert code == 0, out + err
    assert "missing" not in out


# --- 9 and 10. option values by type --------------------------------------------------------------
@pytest.mark.parametrize("option, fragment", [
    ("pause_probability=abc", 'pause_probability must be a number, got "abc"'),
    ("pause_probability=nan", "pause_probability must be a number"),
    ("pause_probability=NaN", "pause_probability must be a number, got nan"),
    ("pause_probability=inf", "pause_probability must be a number"),
    ("pause_probability=Infinity", "pause_probability must be a number"),
    ("use_init_states=maybe", 'use_init_states must be true or false, got "maybe"'),
    ("use_init_states=1", "use_init_states must be true or false, got 1"),
])
def test_option_values_are_checked_by_type_with_the_key_named(option, fragment, work, capsys):
    out = fresh(work, "opt") / "ds"
    code, _, err = run_cli(["generate", "--source", "human", "--task",
                            "spatial_left_cube_on_plate", "--episodes", "1", "--out", out,
                            "--option", option], capsys)
    assert code == 2
    assert fragment in error_line(err)
    assert visible(out.parent) == []


def test_a_string_train_steps_names_the_key(work, dataset, capsys):
    hparams = fresh(work, "hp") / "h.json"
    hparams.write_text('{"train_steps": "many"}')
    code, _, err = run_cli(["vla", "train", "--data", dataset, "--out", hparams.parent / "ckpt",
                            "--hparams", hparams], capsys)
    assert code == 2
    assert 'train_steps must be an integer, got "many"' in error_line(err)


# --- minor: interruption, stale staging, damaged stages -------------------------------------------
@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_says_so_in_one_line_and_leaves_nothing(signal_number, work):
    folder = fresh(work, "signal")
    proc = subprocess.Popen(
        [sys.executable, "-m", "diffrl_eval", "generate", "--source", "human", "--suite",
         "tabletop-spatial", "--episodes", "400", "--out", str(folder / "ds")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not any(name.startswith(".ds.tmp-") for name in visible(folder)):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal_number)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    line = error_line(err)
    assert f"interrupted ({signal.Signals(signal_number).name})" in line and "ds" in line
    assert visible(folder) == []


def test_a_rerun_removes_the_staging_a_killed_run_left(work):
    folder = fresh(work, "stale")
    (folder / ".ds.tmp-0123456789ab").mkdir()
    (folder / ".ds.tmp-0123456789ab" / "frames.parquet").write_bytes(b"PAR1 half")
    (folder / ".ds.lock").write_text("99999")
    (folder / ".other.tmp-0123456789ab").mkdir()  # another output's: not ours to remove
    generate_dataset(folder / "ds", episodes=1)
    assert visible(folder) == [".other.tmp-0123456789ab", "ds"]


def test_a_finished_stage_whose_files_were_damaged_is_produced_again(tmp_path, capsys):
    store = StageStore(tmp_path)
    runs = []

    def produce(directory: Path) -> dict:
        runs.append(1)
        pl.DataFrame({"x": list(range(1000))}).write_parquet(directory / "data.parquet")
        return {"n": 1000}

    directory, _ = store.run("data", {"k": 1}, produce)
    assert StageStore(tmp_path).run("data", {"k": 1}, produce)[0] == directory
    assert len(runs) == 1  # reused while intact
    data = directory / "data.parquet"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])  # truncated
    again = StageStore(tmp_path)
    directory, record = again.run("data", {"k": 1}, produce)
    assert len(runs) == 2 and again.ran and not again.reused
    assert pl.read_parquet(directory / "data.parquet").height == 1000
    assert "damaged" in capsys.readouterr().err
