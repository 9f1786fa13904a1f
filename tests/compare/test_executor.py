"""Executors: results in item order, the same dataset whichever executor ran the tasks,
retries of dead workers, and failed items reported in one line with nothing written.

The Ray tests run a real local Ray runtime with two CPUs; they are skipped where the
``ray`` extra is not installed.
"""

from __future__ import annotations

import json
import os
import sys
import time

import polars as pl
import pytest
from conftest import run_cli

from diffrl_eval.compare import CompareRun, Preset
from diffrl_eval.compare.producers import dataset_stage
from diffrl_eval.datagen import generate_dataset
from diffrl_eval.dataset import load_dataset
from diffrl_eval.envs.base import get_backend
from diffrl_eval.errors import UserError
from diffrl_eval.executor import LocalExecutor, RayExecutor, TasksFailedError, make_executor
from generators.human import HumanGenerator

TASKS = ["spatial_left_cube_on_plate", "spatial_right_cube_in_bowl"]
FAILING_TASK = TASKS[1]


class FailingHumanGenerator(HumanGenerator):
    """Simulated teleoperation that cannot do one of the tasks."""

    def generate(self, task, n_episodes, seed):
        if task.task_id == FAILING_TASK:
            raise RuntimeError(f"no strategy for {task.task_id}")
        yield from super().generate(task, n_episodes, seed)


class DyingHumanGenerator(HumanGenerator):
    """Simulated teleoperation whose worker process dies whenever it generates."""

    def generate(self, task, n_episodes, seed):
        os._exit(1)
        yield from ()


@pytest.fixture(scope="module")
def ray_runtime():
    """One local Ray runtime with 2 CPUs for this module's Ray tests."""
    ray = pytest.importorskip("ray")
    # the workers cannot import this test module by name: send its functions by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


# --- without Ray -----------------------------------------------------------------------------
def test_local_executor_runs_in_this_process_and_keeps_item_order():
    pids = LocalExecutor().map(lambda item: (item, os.getpid()), [3, 1, 2], desc="order")
    assert pids == [(3, os.getpid()), (1, os.getpid()), (2, os.getpid())]


def test_local_executor_lets_the_first_exception_through_unchanged():
    seen = []

    def work(item):
        seen.append(item)
        if item == 1:
            raise KeyError("boom")
        return item

    with pytest.raises(KeyError):
        LocalExecutor().map(work, [0, 1, 2], desc="fail fast")
    assert seen == [0, 1], "local stops at the first failure, as a plain loop does"


def test_unknown_executor_is_a_one_line_error_naming_the_choices_and_the_extra():
    with pytest.raises(UserError) as error:
        make_executor("dask")
    message = str(error.value)
    assert "'dask'" in message and "local, ray" in message
    assert 'pip install "diffrl-eval[ray]"' in message


def test_ray_options_without_the_ray_executor_are_refused():
    with pytest.raises(UserError, match="--ray-address needs --executor ray"):
        make_executor("local", address="auto")
    with pytest.raises(UserError, match="--workers needs --executor ray"):
        make_executor("local", workers=4)


def test_executor_ray_without_ray_installed_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    out = tmp_path / "data"
    cli_run = run_cli(["generate", "--source", "human", "--task", TASKS[0], "-n", "1",
                       "--out", str(out), "--executor", "ray"], capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 2
    assert text.strip().splitlines() == [
        'error: --executor ray needs Ray, which is not installed; install it with '
        'pip install "diffrl-eval[ray]"']
    assert not out.exists()


def test_a_failing_task_under_the_local_executor_leaves_no_dataset(tmp_path):
    generator = FailingHumanGenerator(get_backend("tabletop"))
    out = tmp_path / "data"
    with pytest.raises(RuntimeError, match=FAILING_TASK):
        generate_dataset(generator, [generator.backend.task(t) for t in TASKS], n_episodes=1,
                         seed=0, out=out, suite=None, show_progress=False)
    assert list(tmp_path.iterdir()) == []


# --- with a local Ray runtime ----------------------------------------------------------------
def test_generate_writes_the_same_dataset_on_ray_as_locally(ray_runtime, tmp_path, capsys):
    hashes = {}
    for executor in ("local", "ray"):
        out = tmp_path / executor
        args = ["generate", "--source", "human", "-n", "2", "--seed", "3", "--out", str(out),
                "--executor", executor]
        for task in TASKS:
            args += ["--task", task]
        if executor == "ray":
            args += ["--workers", "2"]
        cli_run = run_cli(args, capsys)
        code, text = cli_run.code, cli_run.text
        assert code == 0, text
        dataset = load_dataset(out)
        hashes[executor] = dataset.content_hash
        assert dataset.frames_df["task_id"].unique(maintain_order=True).to_list() == TASKS
    assert hashes["ray"] == hashes["local"]
    manifests = [json.loads((tmp_path / e / "manifest.json").read_text()) for e in hashes]
    assert manifests[0]["content_hash"] == manifests[1]["content_hash"]


def test_train_expert_on_ray_trains_the_same_expert_as_locally(ray_runtime, tmp_path, capsys):
    tiny = ["--source", "gaussian-ppo", "--task", "goal_open_drawer", "--iterations", "2",
            "--bc-steps", "20", "--demos", "3", "--n-envs", "2", "--batch-size", "16",
            "--option", "ppo.n_steps=2", "--option", "ppo.critic_warmup_iterations=1",
            "--option", "policy.mlp_hidden=[16]", "--option", "policy.encoder_hidden=16",
            "--option", "policy.obs_feature_dim=8", "--option", "policy.horizon=8",
            "--option", "policy.action_steps=8"]
    for executor in ("local", "ray"):
        cli_run = run_cli(["train-expert", *tiny, "--out", str(tmp_path / executor),
                           "--executor", executor], capsys)
        code, text = cli_run.code, cli_run.text
        assert code == 0, text
    local, remote = (tmp_path / e / "goal_open_drawer" for e in ("local", "ray"))
    for part in ("bc", "policy", "value"):
        assert ((local / part / "weights.safetensors").read_bytes()
                == (remote / part / "weights.safetensors").read_bytes()), part
    timing = ("rollout_seconds", "update_seconds", "eval_seconds", "env_steps_per_second")
    curves = [pl.read_parquet(run / "curves.parquet").drop(timing, strict=False)
              for run in (local, remote)]
    assert curves[0].equals(curves[1])


def test_compare_dataset_stage_on_ray_gives_the_local_dataset(ray_runtime, tmp_path):
    from vla.tiny_vla.hparams import default_hparams

    preset = Preset(
        name="tiny", in_distribution={"tabletop-spatial": 2}, ood_train=("tabletop-90", 1),
        ood_eval={"tabletop-goal": 1}, episodes_per_task=2, eval_episodes_per_task=1,
        vla_hparams_preset="quick", note="dataset stage only",
    )
    records = {}
    for name, executor in (("local", None), ("ray", RayExecutor(workers=2))):
        run = CompareRun(["human"], get_backend("tabletop"), preset, [0], tmp_path / name,
                         default_hparams("quick"), executor=executor)
        (suite, tasks), = run.in_distribution.items()
        records[name] = dataset_stage(run, "human", suite, tasks)
    assert records["ray"]["status"] == "done", records["ray"]["error"]
    results = {name: record["result"] for name, record in records.items()}
    assert results["ray"]["content_hash"] == results["local"]["content_hash"]
    assert results["ray"]["episodes"] == 4


def test_compare_records_no_dataset_stage_when_ray_workers_are_lost(ray_runtime, tmp_path,
                                                                   monkeypatch):
    from diffrl_eval import registry
    from vla.tiny_vla.hparams import default_hparams

    monkeypatch.setattr(registry.generators, "load", lambda name: DyingHumanGenerator)
    preset = Preset(
        name="tiny", in_distribution={"tabletop-spatial": 1}, ood_train=("tabletop-90", 1),
        ood_eval={"tabletop-goal": 1}, episodes_per_task=1, eval_episodes_per_task=1,
        vla_hparams_preset="quick", note="dataset stage only",
    )
    executor = RayExecutor(workers=1, max_retries=0)
    run = CompareRun(["human"], get_backend("tabletop"), preset, [0], tmp_path / "run",
                     default_hparams("quick"), executor=executor)
    (suite, tasks), = run.in_distribution.items()
    with pytest.raises(TasksFailedError) as error:
        dataset_stage(run, "human", suite, tasks)
    assert error.value.lost_workers
    assert list((tmp_path / "run" / "stages").iterdir()) == [], \
        "a rerun tries again instead of reusing a failure recorded as final"


def test_ray_results_come_back_in_item_order_when_later_items_finish_first(ray_runtime,
                                                                           tmp_path):
    finished = []

    def last_to_finish_is_item_0(item):
        if item == 0:  # holds one worker until every other item is done on the other
            deadline = time.monotonic() + 120  # a guard against a hang, not a speed check
            while len(list(tmp_path.iterdir())) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        else:
            (tmp_path / f"done-{item}").touch()
        return item * 10, os.getpid()

    results = RayExecutor(workers=2).map(last_to_finish_is_item_0, [0, 1, 2, 3],
                                         desc="order", on_done=finished.append)
    assert [value for value, _ in results] == [0, 10, 20, 30]
    assert finished[-1] == 0, "item 0 finished last, yet came back first"
    assert os.getpid() not in {pid for _, pid in results}, "the work ran on Ray workers"


def test_a_worker_that_dies_mid_task_is_retried_and_the_run_completes(ray_runtime, tmp_path):
    def dies_on_first_attempt(item):
        marker = tmp_path / f"attempted-{item}"
        if not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies, as on a kill or a crash
        return item + 100

    results = RayExecutor(workers=2).map(dies_on_first_attempt, [0, 1], desc="crash")
    assert results == [100, 101]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attempted-0", "attempted-1"]


def test_a_worker_that_always_dies_is_reported_after_bounded_retries(ray_runtime, tmp_path):
    def always_dies_on_item_1(item):
        if item == 1:
            with open(tmp_path / "attempts", "a") as attempts:
                attempts.write("x")
            os._exit(1)
        (tmp_path / f"done-{item}").touch()
        return item

    executor = RayExecutor(workers=2, max_retries=1)
    with pytest.raises(UserError) as error:
        executor.map(always_dies_on_item_1, [0, 1, 2], desc="crash", labels=["a", "b", "c"])
    message = str(error.value)
    assert "\n" not in message
    assert "1 of 3 items failed" in message and "b (WorkerCrashedError" in message
    assert (tmp_path / "attempts").read_text() == "xx", "one try plus one retry"
    assert (tmp_path / "done-0").exists() and (tmp_path / "done-2").exists(), \
        "the other items ran to the end before the failure was reported"


def test_a_task_that_always_fails_is_named_in_one_line_and_no_dataset_lands(ray_runtime,
                                                                          tmp_path):
    generator = FailingHumanGenerator(get_backend("tabletop"))
    out = tmp_path / "data"
    with pytest.raises(UserError) as error:
        generate_dataset(generator, [generator.backend.task(t) for t in TASKS], n_episodes=1,
                         seed=0, out=out, suite=None, show_progress=False,
                         executor=RayExecutor(workers=2))
    message = str(error.value)
    assert "\n" not in message
    assert "1 of 2 items failed on ray" in message
    assert f"{FAILING_TASK} (RuntimeError: no strategy for {FAILING_TASK})" in message
    assert TASKS[0] not in message
    assert list(tmp_path.iterdir()) == [], "no dataset, finished or staged"


def test_ray_joins_the_runtime_this_process_already_has(ray_runtime):
    executor = RayExecutor(address=None, workers=1)
    assert executor.map(lambda item: item, ["x"], desc="join") == ["x"]
    executor.close()
    assert ray_runtime.is_initialized(), "a runtime it did not start is left running"
