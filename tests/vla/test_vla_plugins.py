"""Any VLA plugs in through the registry: evaluation-only ones need no fit and no weights
file, trainable ones run through `vla train`, `vla eval` and `compare` like tiny-vla, and
bad names or devices are one-line errors that write nothing."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from conftest import error_line, run_cli

from diffrl_eval import registry
from diffrl_eval.envs.tabletop import TabletopBackend
from tests.cli.fault_fixtures import generate_dataset
from tests.compare.compare_fixtures import tiny_plan
from tests.vla.vla_plugin_fixtures import POLICY_FILE, MeanActionVLA, ScriptedVLA, WrongShapeVLA

TASK = "spatial_left_cube_on_plate"
SUITE = "tabletop-spatial"
ACTION = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0]  # hold still, gripper open: never succeeds


@pytest.fixture
def plugins():
    for name, cls in (("scripted", ScriptedVLA), ("mean-action", MeanActionVLA),
                      ("wrong-shape", WrongShapeVLA)):
        registry.vlas.register(name)(cls)
    yield
    for name in ("scripted", "mean-action", "wrong-shape"):
        registry.vlas.unregister(name)


@pytest.fixture
def scripted_dir(tmp_path):
    directory = tmp_path / "scripted-policy"
    directory.mkdir()
    (directory / POLICY_FILE).write_text(json.dumps({"action": ACTION, "executed_steps": 4}))
    return directory


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("plugin-data") / "human", episodes=2)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_an_evaluation_only_vla_evaluates_the_directory_its_load_reads(plugins, scripted_dir,
                                                                        tmp_path, capsys):
    out = tmp_path / "eval.json"
    before = sorted(p.name for p in scripted_dir.iterdir())
    code, _, err = run_cli(["vla", "eval", "--vla", "scripted", "--ckpt", scripted_dir,
                            "--suite", SUITE, "--task", TASK, "--episodes-per-task", "2",
                            "--envs", "2", "--json", out], capsys)
    assert code == 0, err
    result = json.loads(out.read_text())
    assert result["vla"] == "scripted" and result["device"] == "cpu"
    assert result["protocol"] == "in-distribution"  # a model trained elsewhere, by default
    assert result["training"]["sources"] == [] and result["training"]["datasets"] == []
    # the content hash is the VLA's hash of its own directory: here, policy.json alone
    body = (scripted_dir / POLICY_FILE).read_bytes()
    assert result["checkpoint_hash"] == "sha256:" + _sha256(
        f"{POLICY_FILE}\0{len(body)}\0".encode() + body)
    # the episodes ran the scripted action at every step, to the task's step limit
    max_steps = TabletopBackend().task(TASK).max_steps
    action_bytes = np.asarray(ACTION, dtype=np.float64).tobytes()
    episode_digest = _sha256(action_bytes * max_steps)
    task = result["per_task"][TASK]
    assert task["episode_successes"] == [False, False]
    assert task["actions_sha256"] == _sha256((episode_digest * 2).encode())
    assert sorted(p.name for p in scripted_dir.iterdir()) == before, "nothing written there"


def test_an_evaluation_only_vla_cannot_be_trained_and_nothing_is_written(plugins, dataset,
                                                                          tmp_path, capsys):
    out = tmp_path / "ckpt"
    code, _, err = run_cli(["vla", "train", "--vla", "scripted", "--data", dataset,
                            "--out", out], capsys)
    assert code == 2
    assert "evaluation-only" in error_line(err)
    assert not out.exists()


@pytest.mark.parametrize("command", [
    ["vla", "train", "--data", "{data}", "--out", "{out}"],
    ["vla", "eval", "--ckpt", "{data}", "--suite", SUITE, "--json", "{out}"],
    ["compare", "--out", "{out}"],
])
def test_an_unknown_vla_is_a_one_line_error_naming_the_valid_ones(command, dataset, tmp_path,
                                                                  capsys):
    out = tmp_path / "out"
    argv = [part.format(data=dataset, out=out) for part in command] + ["--vla", "no-such-vla"]
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    line = error_line(err)
    assert "no-such-vla" in line and "tiny-vla" in line and "valid choices" in line
    assert not out.exists()


@pytest.mark.parametrize("command", [
    ["vla", "train", "--data", "{data}", "--out", "{out}"],
    ["vla", "eval", "--ckpt", "{data}", "--suite", SUITE, "--json", "{out}"],
    ["compare", "--out", "{out}"],
])
def test_a_device_this_machine_lacks_is_a_one_line_error(command, dataset, tmp_path, capsys):
    out = tmp_path / "out"
    base = [part.format(data=dataset, out=out) for part in command]
    code, _, err = run_cli([*base, "--device", "tpu"], capsys)
    assert code == 2 and "valid choices: auto, cpu, cuda, mps" in error_line(err)
    if not torch.cuda.is_available():
        code, _, err = run_cli([*base, "--device", "cuda"], capsys)
        assert code == 2 and "--device cuda" in error_line(err)
    assert not out.exists()


def test_auto_device_takes_the_best_one_this_machine_has():
    from diffrl_eval.device import resolve_device

    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"


def test_a_trainable_plug_in_vla_trains_and_evaluates_through_the_registry(
        plugins, dataset, tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    code, out, err = run_cli(["vla", "train", "--vla", "mean-action", "--data", dataset,
                              "--out", ckpt, "--device", "auto"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in ckpt.iterdir()) == ["checkpoint.json", "means.json"]
    info = json.loads((ckpt / "checkpoint.json").read_text())
    assert info["vla"] == "mean-action" and info["hparams"] == {"shrink": 1.0}
    from diffrl_eval.device import resolve_device

    assert info["device"] == resolve_device("auto")
    assert json.loads((ckpt / "means.json").read_text())["device"] == info["device"], \
        "the device reached the plug-in's fit"
    assert "model.safetensors" not in out
    result = tmp_path / "eval.json"
    code, _, err = run_cli(["vla", "eval", "--ckpt", ckpt, "--suite", SUITE, "--task", TASK,
                            "--episodes-per-task", "1", "--json", result], capsys)
    assert code == 0, err
    evaluation = json.loads(result.read_text())
    assert evaluation["vla"] == "mean-action"
    assert evaluation["checkpoint_hash"] == info["content_hash"]
    # the plug-in's own files are what the hash protects
    (ckpt / "means.json").write_text((ckpt / "means.json").read_text().replace("1", "2", 1))
    code, _, err = run_cli(["vla", "eval", "--ckpt", ckpt, "--suite", SUITE, "--task", TASK,
                            "--episodes-per-task", "1"], capsys)
    assert code == 2 and "changed since training" in error_line(err)


def test_a_preset_the_plug_in_does_not_declare_is_refused(plugins, dataset, tmp_path, capsys):
    out = tmp_path / "ckpt"
    code, _, err = run_cli(["vla", "train", "--vla", "mean-action", "--data", dataset,
                            "--out", out, "--preset", "full"], capsys)
    assert code == 2
    assert "'full'" in error_line(err) and "quick" in error_line(err)
    assert not out.exists()


def test_actions_of_the_wrong_shape_are_a_one_line_error_naming_the_vla(plugins, scripted_dir,
                                                                        tmp_path, capsys):
    out = tmp_path / "eval.json"
    code, _, err = run_cli(["vla", "eval", "--vla", "wrong-shape", "--ckpt", scripted_dir,
                            "--suite", SUITE, "--task", TASK, "--episodes-per-task", "1",
                            "--json", out], capsys)
    assert code == 2
    line = error_line(err)
    assert "'wrong-shape'" in line and "(1, 4, 3)" in line and "(1, Ta, 7)" in line
    assert not out.exists()


def test_compare_trains_and_evaluates_a_plug_in_vla(plugins, tmp_path):
    from diffrl_eval.compare import execute
    from diffrl_eval.compare.plan import plan_compare

    run = tiny_plan(tmp_path / "run")
    run.vla, run.hparams = "mean-action", MeanActionVLA.resolve_hparams({})
    summary = execute(run, show_progress=False)
    assert summary["failures"] == []
    evaluations = json.loads((run.out / "results" / "vla_evaluations.json").read_text())
    assert {e["vla"] for e in evaluations} == {"mean-action"}
    assert {e["protocol"] for e in evaluations} == {"in-distribution", "ood-zero-shot"}
    # the compare presets give a plug-in its own defaults, not tiny-vla's keys
    planned = plan_compare(["human"], "tabletop", "quick", None, tmp_path / "plan",
                           vla="mean-action")
    assert planned.vla == "mean-action" and planned.hparams == {"shrink": 1.0}
    tiny = plan_compare(["human"], "tabletop", "quick", None, tmp_path / "plan2")
    assert tiny.vla == "tiny-vla" and tiny.hparams["train_steps"] == 6000
