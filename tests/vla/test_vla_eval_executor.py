"""`vla eval` on executors: the same result JSON locally and on Ray, per-episode noise that
does not depend on the other episodes, failed jobs named in one line with nothing written.

The Ray tests run a real local Ray runtime with two CPUs; they are skipped where the
``ray`` extra is not installed. The checkpoint is tiny-vla with a diffusion head (so the
sampling noise matters) trained for a few steps on four simulated-teleoperation episodes.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from diffrl_eval.datagen import generate_dataset
from diffrl_eval.envs.base import get_backend
from diffrl_eval.envs.tabletop import INIT_STATE_OPTION
from diffrl_eval.errors import UserError
from diffrl_eval.executor import RayExecutor
from diffrl_eval.vla import evaluation
from diffrl_eval.vla.checkpoint import checkpoint_hash, load_vla
from diffrl_eval.vla.evaluation import EvalJob, episode_jobs, evaluate_checkpoint, run_eval_job
from diffrl_eval.vla.interface import VLA
from diffrl_eval.vla.training import train_vla
from generators.human import HumanGenerator

TASKS = ["spatial_left_cube_on_plate", "spatial_right_cube_in_bowl"]  # 4 objects each
FIVE_OBJECTS = "goal_red_cube_in_bowl"  # more objects than the checkpoint has slots
TINY = {"preset": "quick", "hidden_dim": 32, "trunk_blocks": 1, "train_steps": 20,
        "batch_size": 32, "chunk_size": 4, "executed_steps": 4, "max_objects": 4,
        "head": "diffusion", "diffusion_train_steps": 20, "denoising_steps": 3}
TIMING = "wall_seconds"  # the one field that may differ between two identical runs


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("vla-eval-executor")
    backend = get_backend("tabletop")
    data = generate_dataset(HumanGenerator(backend), [backend.task(t) for t in TASKS],
                            n_episodes=2, seed=0, out=workdir / "data", suite=None,
                            show_progress=False)
    return train_vla([data], workdir / "ckpt", hparams=TINY, seed=0, progress=False)


@pytest.fixture(scope="module")
def ray_runtime():
    """One local Ray runtime with 2 CPUs for this module's Ray tests."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


def eval_args(ckpt: Path, out: Path, *tasks: str) -> list:
    args = ["vla", "eval", "--ckpt", ckpt, "--suite", "tabletop-spatial,tabletop-goal",
            "--episodes-per-task", "3", "--seed", "5", "--envs", "2", "--json", out]
    for task in tasks:
        args += ["--task", task]
    return args


def without_timing(result: dict) -> dict:
    return {key: value for key, value in result.items() if key != TIMING}


# --- with a local Ray runtime ----------------------------------------------------------------
def test_vla_eval_writes_the_same_json_on_ray_as_locally(ray_runtime, ckpt, tmp_path, capsys):
    results = {}
    for executor in ("local", "ray"):
        out = tmp_path / f"{executor}.json"
        # 3 episodes per task in jobs of 2: four jobs, two of them with one episode
        args = [*eval_args(ckpt, out, *TASKS), "--episodes-per-job", "2",
                "--executor", executor]
        if executor == "ray":
            args += ["--workers", "2"]
        code, stdout, err = run_cli(args, capsys)
        assert code == 0, err
        results[executor] = json.loads(out.read_text())
    local, remote = results["local"], results["ray"]
    assert without_timing(remote) == without_timing(local)
    assert list(local["per_task"]) == TASKS and local["overall"]["episodes"] == 6
    assert local["env_steps"] >= 6, "the episodes ran"
    hashes = [task["actions_sha256"] for task in local["per_task"].values()]
    assert len(set(hashes)) == 2, "each task's hash covers its own executed actions"


def test_a_failing_job_on_ray_is_named_in_one_line_and_no_json_lands(ray_runtime, ckpt,
                                                                     tmp_path, capsys):
    out = tmp_path / "eval.json"
    code, _, err = run_cli([*eval_args(ckpt, out, TASKS[0], FIVE_OBJECTS),
                            "--executor", "ray", "--workers", "2"], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    line = lines[0]
    assert line.startswith("error: vla eval ckpt: 1 of 2 items failed on ray"), line
    assert f"{FIVE_OBJECTS} (" in line and "5 objects" in line, line
    assert f"{TASKS[0]} (" not in line, "the other task finished and is not blamed"
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [], "no result and no staging file"


def test_one_episode_jobs_on_ray_are_put_back_in_episode_order(ray_runtime, ckpt):
    options = {"episodes_per_task": 3, "seed": 5, "tasks": TASKS, "progress": False,
               "n_envs": 2, "episodes_per_job": 1}
    remote = evaluate_checkpoint(ckpt, ["tabletop-spatial"], **options,
                                 executor=RayExecutor(workers=2))
    local = evaluate_checkpoint(ckpt, ["tabletop-spatial"], **options)
    assert without_timing(remote) == without_timing(local)
    assert [t["init_state_indices"] for t in remote["per_task"].values()] == [[0, 1, 2]] * 2


# --- without Ray -----------------------------------------------------------------------------
@pytest.mark.parametrize("extra, fragments", [
    (["--executor", "dask"], ["unknown executor 'dask'", "local, ray"]),
    (["--workers", "2"], ["--workers needs --executor ray"]),
    (["--ray-address", "auto"], ["--ray-address needs --executor ray"]),
    (["--episodes-per-job", "0"], ["--episodes-per-job must be a positive integer"]),
])
def test_bad_executor_options_are_one_line_errors(extra, fragments, ckpt, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code, _, err = run_cli([*eval_args(ckpt, out, TASKS[0]), *extra], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not out.exists()


def test_a_task_gets_the_same_episodes_whatever_else_is_evaluated(ckpt):
    both = evaluate_checkpoint(ckpt, ["tabletop-spatial"], episodes_per_task=3, seed=5,
                               tasks=TASKS, progress=False, n_envs=2)
    alone = evaluate_checkpoint(ckpt, ["tabletop-spatial"], episodes_per_task=3, seed=5,
                                tasks=[TASKS[1]], progress=False, n_envs=2)
    assert alone["per_task"][TASKS[1]] == both["per_task"][TASKS[1]]
    other_seed = evaluate_checkpoint(ckpt, ["tabletop-spatial"], episodes_per_task=3, seed=6,
                                     tasks=[TASKS[1]], progress=False, n_envs=2)
    for key in ("episode_seeds", "actions_sha256"):
        assert other_seed["per_task"][TASKS[1]][key] != alone["per_task"][TASKS[1]][key], key


def test_episode_seeds_depend_on_seed_task_and_index_only():
    backend = get_backend("tabletop")
    tasks = [backend.task(t) for t in TASKS]
    many = episode_jobs(backend, tasks, 5, seed=5)
    few = episode_jobs(backend, tasks[1:], 2, seed=5)
    second_task = [job for job in many if job.task.task_id == TASKS[1]]
    assert [(j.index, j.seed) for j in few] == [(j.index, j.seed) for j in second_task[:2]]
    noise = [dataclasses.replace(job, decisions=k).noise_seed()
             for job in few for k in range(3)]
    assert len(set(noise)) == 6, "every episode and decision has its own noise seed"
    assert few[0].noise_seed() == dataclasses.replace(few[0]).noise_seed()


def test_a_row_of_predict_rows_does_not_depend_on_the_other_rows(ckpt):
    model, _ = load_vla(ckpt)
    env = get_backend("tabletop").make_env(TASKS[0])
    try:
        observations = [env.reset(options={INIT_STATE_OPTION: i})[0] for i in range(3)]
    finally:
        env.close()
    text = [get_backend("tabletop").task(TASKS[0]).instruction] * 3
    rows = model.predict_rows(observations, text, [11, 12, 13])
    assert rows.shape == (3, 4, 7)
    # row b alone, with its seed, as the interface promises (up to rounding in the batch)
    for b, seed in enumerate((11, 12, 13)):
        np.testing.assert_allclose(rows[b], model.predict_batch([observations[b]], [text[b]],
                                                                seed=seed)[0], atol=1e-5)
    swapped = model.predict_rows(observations[::-1], text, [13, 12, 11])
    np.testing.assert_allclose(swapped[::-1], rows, atol=1e-5)
    assert not np.allclose(model.predict_rows(observations, text, [11, 12, 14])[2], rows[2]), \
        "the diffusion head's noise comes from the row's seed"
    # the interface's default (one row at a time) agrees with tiny-vla's batched override
    np.testing.assert_allclose(VLA.predict_rows(model, observations, text, [11, 12, 13]), rows,
                               atol=1e-5)


def test_a_job_refuses_a_checkpoint_whose_weights_changed(ckpt):
    backend = get_backend("tabletop")
    episodes = episode_jobs(backend, [backend.task(TASKS[0])], 1, seed=0)
    job = EvalJob(str(ckpt), "sha256:" + "0" * 64, "tabletop", tuple(episodes), 1, TASKS[0])
    with pytest.raises(UserError, match="every worker must read the same checkpoint") as error:
        run_eval_job(job)
    assert checkpoint_hash(ckpt, "tiny-vla") in str(error.value)
    assert not evaluation._loaded, "a refused checkpoint is not kept"


def test_local_failures_propagate_unchanged_and_are_not_wrapped(ckpt, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code, _, err = run_cli(eval_args(ckpt, out, TASKS[0], FIVE_OBJECTS), capsys)
    assert code == 2
    assert "observation space does not match" in err and "items failed" not in err
    assert not out.exists()
