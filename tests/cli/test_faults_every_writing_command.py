"""Fault injection for every command that writes: a full disk, kill -9, SIGINT/SIGTERM and a
second run into the same output.

For each command the promise is the same: a fault is one ``error:`` line with exit code 3,
nothing appears under the final name unless it is complete, the next run removes whatever
staging the fault left, and a rerun (``--resume`` for the resumable runs) ends with the same
content as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import error_line, run_cli
from fault_fixtures import (
    TINY_COMPARE_SETUP,
    TINY_HPARAMS,
    WarmProcess,
    fresh,
    generate_dataset,
    small_disk,
    use_tiny_compare_preset,
    visible,
)

from diffrl_eval.atomic import OutputClaim

TASK = "spatial_left_cube_on_plate"
EXPERT_FLAGS = [
    "--source", "gaussian-ppo", "--task", "goal_open_drawer", "--iterations", "3",
    "--bc-steps", "20", "--demos", "3", "--n-envs", "2", "--batch-size", "16",
    "--option", "ppo.n_steps=2", "--option", "ppo.critic_warmup_iterations=1",
    "--option", "policy.mlp_hidden=[16]", "--option", "policy.encoder_hidden=16",
    "--option", "policy.obs_feature_dim=8", "--option", "policy.horizon=8",
    "--option", "policy.action_steps=8",
]
COMPARE_HPARAMS = {"preset": "quick", "train_steps": 30, "batch_size": 32, "hidden_dim": 32,
                   "trunk_blocks": 1, "warmup_steps": 0}
KILL_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)


def tree_digest(path: Path, *, only: str | None = None, text_filter=None) -> str:
    """sha256 over the files under ``path`` (or the file itself), by relative name."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        name = file.relative_to(path).as_posix() if path.is_dir() else file.name
        if only is not None and not re.search(only, name):
            continue
        data = file.read_bytes()
        if text_filter is not None:
            data = text_filter(data)
        digest.update(name.encode() + b"\0" + data)
    return digest.hexdigest()


def _without_timings(data: bytes) -> bytes:
    document = json.loads(data)
    for key in ("wall_seconds", "seconds", "eval_seconds", "started", "finished"):
        document.pop(key, None)
    return json.dumps(document, sort_keys=True).encode()


@dataclass
class Command:
    """One writing command: its arguments for an output path, and how to compare outputs."""

    name: str
    argv: object  # (inputs, out) -> list
    out_name: str
    digest: object = tree_digest  # (out) -> str
    torch: bool = False
    resumable: bool = False  # a run directory that a rerun continues (--resume)
    # whether a run resumed after a kill promises the uninterrupted run's exact bytes: an
    # expert's PPO environments start fresh episodes on resume (generators/expert/run.py),
    # so its resumed weights are a faithful continuation, not the same bytes
    resume_identical: bool = True
    setup: str = ""
    extra: dict = field(default_factory=dict)


COMMANDS = [
    Command("generate", lambda i, out: ["generate", "--source", "human", "--task", TASK,
                                        "--episodes", "6", "--out", out], "ds",
            digest=lambda out: json.loads((out / "manifest.json").read_text())["content_hash"]),
    Command("import", lambda i, out: ["import", i["exported"], out], "ds",
            digest=lambda out: json.loads((out / "manifest.json").read_text())["content_hash"]),
    Command("export-lerobot", lambda i, out: ["export", i["dataset"], out], "exp"),
    Command("export-hdf5", lambda i, out: ["export", i["dataset"], out, "--format",
                                           "libero-hdf5"], "exp"),
    Command("metrics", lambda i, out: ["metrics", i["dataset"], "--json", out], "m.json"),
    Command("report", lambda i, out: ["report", i["metrics"], "--out", out], "r.html",
            # the page embeds more than its data (timestamp, chart ids): whole, not identical
            digest=lambda out: out.read_bytes().rstrip().endswith(b"</html>")),
    Command("render", lambda i, out: ["render", i["dataset"], "-o", out], "e.gif"),
    Command("vla-train", lambda i, out: ["vla", "train", "--data", i["dataset"], "--out", out,
                                         "--hparams", i["hparams"]], "ckpt", torch=True,
            digest=lambda out: tree_digest(out, only=r"safetensors$")),
    Command("vla-eval", lambda i, out: ["vla", "eval", "--ckpt", i["ckpt"], "--suite",
                                        "tabletop-spatial", "--task", TASK,
                                        "--episodes-per-task", i.get("eval_episodes", "3"),
                                        "--envs", "3", "--json",
                                        out], "e.json", torch=True,
            digest=lambda out: tree_digest(out, text_filter=_without_timings)),
    Command("train-expert", lambda i, out: ["train-expert", "--out", out, *EXPERT_FLAGS],
            "runs", torch=True, resumable=True, resume_identical=False,
            digest=lambda out: tree_digest(out, only=r"safetensors$")),
    Command("compare", lambda i, out: ["compare", "--sources", "human", "--seeds", "0",
                                       "--hparams", i["compare_hparams"], "--out", out],
            "run", torch=True, resumable=True, setup=TINY_COMPARE_SETUP,
            digest=lambda out: json.loads((out / "run.json").read_text())["results_hash"]),
]
BY_NAME = {command.name: command for command in COMMANDS}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, capsys_module=None) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("faults")
    dataset = generate_dataset(base / "human", tasks=(TASK,), episodes=2)
    found = {"dataset": dataset,
             "big": generate_dataset(base / "big", tasks=(TASK,), episodes=40)}
    from diffrl_eval.cli import main

    def call(argv) -> None:
        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in argv])
        assert exit_info.value.code == 0

    found["exported"] = base / "exported"
    call(["export", dataset, found["exported"], "--format", "libero-hdf5"])
    found["metrics"] = base / "metrics.json"
    call(["metrics", dataset, "--json", found["metrics"]])
    found["hparams"] = base / "tiny.json"
    found["hparams"].write_text(json.dumps(TINY_HPARAMS))
    found["compare_hparams"] = base / "compare.json"
    found["compare_hparams"].write_text(json.dumps(COMPARE_HPARAMS))
    found["ckpt"] = base / "ckpt"
    call(["vla", "train", "--data", dataset, "--out", found["ckpt"], "--hparams",
          found["hparams"]])
    return found


def warm(command: Command, folder: Path, label: str) -> WarmProcess:
    return WarmProcess(torch=command.torch, setup=command.setup,
                       stderr_path=folder.parent / f"{folder.name}.{label}.err")


def argv_for(command: Command, inputs, out: Path, *, rerun: bool = False) -> list:
    argv = command.argv(inputs, out)
    if rerun and command.name == "train-expert":
        argv = [*argv, "--resume"]
    return argv


def _file_names(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


def staging_left(folder: Path) -> list[str]:
    """Staging places and lock files anywhere under ``folder``."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if re.search(r"\.(tmp|old)-[0-9a-f]{12}$|\.lock$", p.name))


# --- kill -9 at five points, then a rerun: the same content ---------------------------------
def _kill_chain(command: Command, inputs, base: Path) -> dict:
    folder = fresh(base, command.name)
    reference_out = fresh(base, f"{command.name}-ref") / command.out_name
    started = time.monotonic()
    code, err = warm(command, reference_out.parent, "ref").start(
        argv_for(command, inputs, reference_out)).finish()
    duration = time.monotonic() - started
    assert code == 0, err
    reference = command.digest(reference_out)
    out = folder / command.out_name
    outcomes = []
    for index, fraction in enumerate(KILL_FRACTIONS):
        process = warm(command, folder, f"kill{index}")
        process.start(argv_for(command, inputs, out, rerun=index > 0))
        time.sleep(duration * fraction)
        process.proc.send_signal(signal.SIGKILL)
        code, _ = process.finish()
        outcomes.append(code)
        if out.exists() and not command.resumable:  # only ever complete under its name
            assert command.digest(out) == reference, f"{command.name}: kill {index}"
            if out.is_dir():
                import shutil
                shutil.rmtree(out)
            else:
                out.unlink()
    code, err = warm(command, folder, "rerun").start(
        argv_for(command, inputs, out, rerun=True)).finish()
    assert code == 0, err
    if command.resume_identical:
        assert command.digest(out) == reference, command.name
    else:  # complete: the same files as the uninterrupted run, each finished
        assert _file_names(out) == _file_names(reference_out), command.name
    assert staging_left(folder) == [], command.name
    assert visible(folder) == [command.out_name] + sorted(
        p.name for p in folder.iterdir() if p.name.endswith(".err"))
    return {"command": command.name, "killed": outcomes.count(-signal.SIGKILL)}


def test_kill_9_at_five_points_leaves_nothing_half_written_and_a_rerun_matches(inputs,
                                                                             tmp_path):
    """Each command, five times: killed at 10, 30, 50, 70 and 90% of its uninterrupted
    duration, into the same output; then run once more. Run two commands at a time."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda c: _kill_chain(c, inputs, tmp_path), COMMANDS))
    killed = {r["command"]: r["killed"] for r in results}
    # a kill that lands after the command finished is not a kill. A rerun continues from
    # what the killed run left, so later kills often land after the end: every command must
    # have been killed mid-run at least once, and at least two in five kills must have landed
    assert min(killed.values()) >= 1, killed
    assert sum(killed.values()) >= 2 * len(COMMANDS), killed


# --- a full disk -----------------------------------------------------------------------------
def _fill(disk: Path, leave: int) -> Path:
    stats = os.statvfs(disk)
    filler = disk / "filler"
    filler.write_bytes(b"\0" * max(stats.f_bavail * stats.f_frsize - leave, 0))
    return filler


@pytest.mark.parametrize("name", [c.name for c in COMMANDS])
def test_a_full_disk_is_one_line_exit_3_and_the_next_run_leaves_no_staging(name, inputs,
                                                                          tmp_path, capsys,
                                                                          monkeypatch):
    command = BY_NAME[name]
    if command.setup:
        use_tiny_compare_preset(monkeypatch)
    with small_disk(tmp_path / "disk", "16m") as disk:
        filler = _fill(disk, leave=2048)
        out = disk / command.out_name
        code, _, err = run_cli(argv_for(command, inputs, out), capsys)
        assert code == 3, err
        line = error_line(err)
        assert "no space left on device" in line, line
        if not command.resumable:
            assert not out.exists()
        filler.unlink()
        code, _, err = run_cli(argv_for(command, inputs, out, rerun=True), capsys)
        assert code == 0, err
        assert visible(disk) == [command.out_name]
        assert staging_left(disk) == []


# --- SIGINT and SIGTERM -----------------------------------------------------------------------
@pytest.mark.parametrize("name, signal_number", [
    ("generate", signal.SIGINT), ("generate", signal.SIGTERM), ("import", signal.SIGTERM),
    ("export-lerobot", signal.SIGINT), ("export-hdf5", signal.SIGTERM),
    ("vla-train", signal.SIGINT), ("vla-eval", signal.SIGTERM),
    ("train-expert", signal.SIGINT), ("compare", signal.SIGTERM),
])
def test_a_signal_is_one_line_exit_3_and_removes_the_staging(name, signal_number, inputs,
                                                             tmp_path):
    command = BY_NAME[name]
    folder = fresh(tmp_path, name)
    out = folder / command.out_name
    heavy = {**inputs, "dataset": inputs["big"], "eval_episodes": "40"}
    process = warm(command, folder, "signal").start(argv_for(command, heavy, out))
    process.wait_until_handling_signals()
    started = time.monotonic()
    # until it has claimed its output (it is then writing), or is well into its work
    while not any(p.name.endswith(".lock") for p in folder.iterdir()) \
            and time.monotonic() < started + 1.0:
        assert process.proc.poll() is None, process.stderr_path.read_text()
        time.sleep(0.02)
    process.proc.send_signal(signal_number)
    code, err = process.finish()
    if code in (0, -signal_number) and out.exists() and not command.resumable:
        pytest.skip(f"{name} finished before the signal arrived")
    assert code == 3, err
    assert f"interrupted ({signal.Signals(signal_number).name})" in error_line(err)
    assert staging_left(folder) == []
    if not command.resumable:
        assert not out.exists()


# --- two runs into one output ------------------------------------------------------------------
@pytest.mark.parametrize("name", [c.name for c in COMMANDS])
def test_a_second_run_into_an_output_being_written_refuses_in_one_line(name, inputs, tmp_path,
                                                                      capsys, monkeypatch):
    command = BY_NAME[name]
    if command.setup:
        use_tiny_compare_preset(monkeypatch)
    out = tmp_path / command.out_name
    with OutputClaim(out):  # another run is writing it
        code, _, err = run_cli(argv_for(command, inputs, out), capsys)
    assert code == 3, err
    assert "another diffrl-eval run" in error_line(err) and str(out) in error_line(err)
    assert not out.exists()


def test_two_real_processes_into_one_dataset_the_second_refuses_and_the_first_completes(
        inputs, tmp_path):
    command = BY_NAME["generate"]
    out = tmp_path / "ds"
    first = warm(command, tmp_path, "first").start(
        ["generate", "--source", "human", "--suite", "tabletop-spatial", "--episodes", "4",
         "--out", out])
    deadline = time.monotonic() + 60
    while not (tmp_path / ".ds.lock").exists():
        assert first.proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    second_code, second_err = warm(command, tmp_path, "second").start(
        ["generate", "--source", "human", "--suite", "tabletop-spatial", "--episodes", "4",
         "--out", out]).finish()
    first_code, first_err = first.finish()
    assert first_code == 0, first_err
    if second_code == 2:  # the first had finished: refused as an existing output
        assert "already exists" in error_line(second_err)
    else:
        assert second_code == 3
        assert "another diffrl-eval run" in error_line(second_err)
    from diffrl_eval.dataset import load_dataset
    assert load_dataset(out).manifest["n_episodes"] == 24
