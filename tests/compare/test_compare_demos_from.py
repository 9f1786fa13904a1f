"""`compare --demos-from DS`: the human source's data taken from a given human dataset,
the RL experts cloning it, its content in the stage keys, and bad datasets refused.

On tabletop with the tiny plan of compare_fixtures (one in-distribution task, one OOD
training task, 3 episodes per task). The Gaussian experts get a budget that delivers
(1,000 BC steps on 4 demonstrations: their datasets reach VLA training); the diffusion
experts a tiny one (20 BC steps, one attempt per episode) that does not, so their stages
are recorded as failed: what is tested is where the data come from, not the experts'
skill. On libero (skipped without the extra) only the refusal and the cost estimate.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from compare_fixtures import tiny_plan
from conftest import run_cli

from diffrl_eval import constants as C
from diffrl_eval.cli import main
from diffrl_eval.compare import CompareRun, execute
from diffrl_eval.compare.cost import estimate_cost
from diffrl_eval.compare.producers import dataset_stage
from diffrl_eval.compare.stages import STAGE_FILE, STAGES_DIR
from diffrl_eval.dataset import load_dataset
from diffrl_eval.dataset.format import content_hash
from diffrl_eval.envs.tabletop import TabletopBackend
from diffrl_eval.errors import UserError

torch.set_num_threads(1)

RL_SOURCES = ["gaussian-ppo", "diffusion-ppo"]
N_RECORDED = 5  # episodes per task in the given dataset; the tiny plan takes 3
TINY_PPO = {"n_envs": 2, "n_steps": 2, "n_iterations": 1, "critic_warmup_iterations": 0,
            "batch_size": 20, "update_epochs": 1}
EXPERT_OPTIONS = {
    "gaussian-ppo": {"n_demonstrations": 4, "bc_gradient_steps": 1000, "ppo": TINY_PPO,
                     "max_attempts_factor": 10},
    "diffusion-ppo": {
        "n_demonstrations": 2, "bc_gradient_steps": 20, "bc_batch_size": 32,
        "policy": {"horizon": 8, "action_steps": 8, "decoder": "mlp", "encoder_hidden": 16,
                   "obs_feature_dim": 8, "step_embed_dim": 8, "mlp_hidden": [32]},
        "ppo": TINY_PPO, "max_attempts_factor": 1},
}


def plan_tasks() -> tuple[str, str]:
    """The tiny plan's tasks: its in-distribution task, its OOD training task."""
    backend = TabletopBackend()
    return (backend.tasks("tabletop-spatial")[0].task_id,
            backend.tasks("tabletop-90")[0].task_id)


def demos_plan(out: Path, demos: Path | None, sources=("human", *RL_SOURCES)) -> CompareRun:
    run = tiny_plan(out)
    run.sources = list(sources)
    run.preset = dataclasses.replace(
        run.preset, generator_options=EXPERT_OPTIONS)
    run.demos_from = demos
    return run


@pytest.fixture(scope="module")
def demos(tmp_path_factory) -> Path:
    """A human dataset of both plan tasks, written by `generate --source human`."""
    out = tmp_path_factory.mktemp("demos") / "human"
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--source", "human", *[a for t in plan_tasks() for a in ("--task", t)],
              "--episodes", str(N_RECORDED), "--out", str(out)])
    assert exit_info.value.code == 0
    episodes = (load_dataset(out).frames_df.group_by(C.COL_EPISODE)
                .agg(pl.col(C.COL_TASK).first(), pl.col(C.COL_SUCCESS).any()))
    needed = max(options["n_demonstrations"] for options in EXPERT_OPTIONS.values())
    for task in plan_tasks():  # the experts have enough to clone
        assert episodes.filter((pl.col(C.COL_TASK) == task)
                               & pl.col(C.COL_SUCCESS)).height >= needed
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory, demos):
    out = tmp_path_factory.mktemp("compare") / "run"
    summary = execute(demos_plan(out, demos), show_progress=False)
    return out, summary


def stage_records(out: Path, name: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in (out / STAGES_DIR).glob(f"{name}-*/{STAGE_FILE}")]


def human_datasets(out: Path) -> dict[str, Path]:
    """Suite -> the human source's dataset of the run."""
    return {record["key"]["suite"]: out / STAGES_DIR / directory.name / "dataset"
            for directory in (out / STAGES_DIR).glob("dataset-*")
            if (record := json.loads((directory / STAGE_FILE).read_text()))["key"]["source"]
            == "human"}


def test_the_human_source_is_each_tasks_first_recorded_episodes(finished, demos):
    out, summary = finished
    given = load_dataset(demos)
    datasets = human_datasets(out)
    assert sorted(datasets) == ["tabletop-90", "tabletop-spatial"]
    for (suite, task), first_index in zip([("tabletop-spatial", plan_tasks()[0]),
                                           ("tabletop-90", plan_tasks()[1])],
                                          [0, N_RECORDED]):
        taken = load_dataset(datasets[suite])
        indices = list(range(first_index, first_index + 3))
        expected = given.frames_df.filter(pl.col(C.COL_EPISODE).is_in(indices))
        frames = taken.frames_df
        assert frames[C.COL_TASK].unique().to_list() == [task]
        for column in (C.COL_STEP, C.COL_STATE, C.COL_EEF_POS, C.COL_ACTION, C.COL_SUCCESS):
            assert np.array_equal(frames[column].to_numpy(), expected[column].to_numpy()), column
        # renumbered 0..2, the same episodes: the hash of the given ones so numbered
        renumbered = expected.with_columns(pl.col(C.COL_EPISODE) - first_index)
        assert taken.content_hash == content_hash(renumbered)
        seeds = given.manifest["episode_seeds"][first_index:first_index + 3]
        assert taken.manifest["episode_seeds"] == seeds  # what replays them
        assert taken.manifest["demos_from"] == {
            "path": str(demos), "content_hash": given.content_hash, "episodes": indices}
        assert taken.source == "human" and taken.manifest["n_episodes"] == 3
    cost = json.loads((out / "results" / "generation_cost.json").read_text())
    assert cost["human"]["episodes"] == 6
    run = json.loads((out / "run.json").read_text())
    assert run["demos_from"] == {"path": str(demos), "content_hash": given.content_hash}
    assert given.content_hash in (out / "report.html").read_text()


def test_the_human_data_train_and_evaluate_the_vla(finished):
    out, summary = finished
    success = pl.read_parquet(out / "results" / "vla_success.parquet")
    human = success.filter(pl.col("train_sources") == "human")
    assert sorted(human["protocol"].to_list()) == ["in-distribution", "ood-zero-shot"]
    human_hashes = {r["result"]["content_hash"] for r in stage_records(out, "dataset")
                    if r["key"]["source"] == "human"}
    trained_on = {h for r in stage_records(out, "vla-train") for h in r["key"]["datasets"]}
    assert human_hashes <= trained_on


def test_the_rl_experts_clone_the_given_dataset(finished, demos):
    out, summary = finished
    fingerprint = load_dataset(demos).content_hash
    runs = sorted((out / "experts").glob("*/*/*/run.json"))
    assert sorted((p.parts[-4], p.parts[-3]) for p in runs) == sorted(
        (source, task) for source in RL_SOURCES for task in plan_tasks())
    for path in runs:
        settings = json.loads(path.read_text())["settings"]
        assert settings["demos_from"] == fingerprint
        assert settings["n_demonstrations"] == EXPERT_OPTIONS[path.parts[-4]]["n_demonstrations"]
        assert (path.parent / "expert.json").is_file()
    rl = [r for r in stage_records(out, "dataset") if r["key"]["source"] in RL_SOURCES]
    assert len(rl) == 4
    for record in rl:  # the stage key holds the content, not the path
        assert record["key"]["options"]["demos_from"] == fingerprint
    status = {(r["key"]["source"], r["key"]["suite"]): r["status"] for r in rl}
    assert status == {("gaussian-ppo", "tabletop-spatial"): "done",
                      ("gaussian-ppo", "tabletop-90"): "done",
                      ("diffusion-ppo", "tabletop-spatial"): "failed",
                      ("diffusion-ppo", "tabletop-90"): "failed"}
    # the Gaussian experts' data, cloned from the given dataset, train the VLA
    success = pl.read_parquet(out / "results" / "vla_success.parquet")
    assert sorted(success.filter(pl.col("train_sources") == "gaussian-ppo")["protocol"]
                  .to_list()) == ["in-distribution", "ood-zero-shot"]
    assert all("succeeded in 0 of" in f["error"] for f in summary["failures"])


def test_a_rerun_with_the_dataset_moved_reuses_every_stage(finished, demos, tmp_path):
    out, summary = finished
    moved = tmp_path / "elsewhere"
    shutil.copytree(demos, moved)
    again = execute(demos_plan(out, moved), show_progress=False)
    assert again["stages_run"] == 0
    assert again["stages_reused"] == summary["stages_run"]
    assert again["results_hash"] == summary["results_hash"]


def test_other_demonstrations_give_other_human_stages(finished, demos, tmp_path):
    out, summary = finished
    other = tmp_path / "other"
    shutil.copytree(demos, other)
    frames = pl.read_parquet(other / "frames.parquet")
    frames = frames.with_columns(pl.col(C.COL_REWARD) + 1.0)  # other values, same episodes
    frames.write_parquet(other / "frames.parquet")
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["content_hash"] = content_hash(load_dataset(other, verify_hash=False).frames_df)
    (other / "manifest.json").write_text(json.dumps(manifest))
    run = demos_plan(out, other, sources=["human"])
    before = set(human_datasets(out).values())
    for suite, tasks in run.data_suites().items():
        record = dataset_stage(run, "human", suite, tasks)
        assert record["status"] == "done"
        assert Path(record["path"]) not in before
        assert record["key"]["demos_from"] == manifest["content_hash"]
    assert len(run.store.ran) == 2 and not run.store.reused


def test_the_cost_estimate_counts_no_env_steps_for_recorded_human_data(tmp_path, demos):
    generated = estimate_cost(demos_plan(tmp_path / "a", None))
    recorded = estimate_cost(demos_plan(tmp_path / "b", demos))
    backend = TabletopBackend()
    limits = sum(backend.task(task).max_steps for task in plan_tasks())
    assert generated["env_steps"] - recorded["env_steps"] == 3 * limits
    # the experts' demonstrations are counted either way: replayed, or generated
    experts_only = estimate_cost(demos_plan(tmp_path / "c", demos, sources=RL_SOURCES))
    assert recorded["env_steps"] > experts_only["env_steps"]
    assert experts_only["gradient_steps"] > 0


def _edited(demos: Path, where: Path, **manifest) -> Path:
    copy = where / "edited"
    shutil.copytree(demos, copy)
    path = copy / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **manifest}))
    return copy


def test_datasets_that_cannot_serve_the_run_are_refused_before_any_work(demos, tmp_path):
    cases = [
        (demos_plan(tmp_path / "few", demos), {"episodes_per_task": N_RECORDED + 1},
         f"{N_RECORDED} episode(s) of task {plan_tasks()[0]!r}, fewer than the preset's "
         f"{N_RECORDED + 1} per task"),
        (demos_plan(tmp_path / "demos", demos),
         {"generator_options": {**EXPERT_OPTIONS, "gaussian-ppo": {
             **EXPERT_OPTIONS["gaussian-ppo"], "n_demonstrations": 99}}},
         "fewer than the 99 demonstrations gaussian-ppo clones"),
    ]
    for run, preset_changes, message in cases:
        run.preset = dataclasses.replace(run.preset, **preset_changes)
        with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
            execute(run, show_progress=False)
        assert not run.out.exists()
    # without a human source, the episode count does not matter; the tasks still do
    run = demos_plan(tmp_path / "rl", demos, sources=RL_SOURCES)
    run.preset = dataclasses.replace(run.preset, episodes_per_task=N_RECORDED + 1)
    run.check_demonstrations()


def test_compare_bad_demos_from_is_a_one_line_error(demos, tmp_path, capsys):
    cases = [
        (tmp_path / "nowhere", "--demos-from: dataset not found"),
        (_edited(demos, tmp_path / "a", source="diffusion-ppo"), "a 'diffusion-ppo' dataset"),
        (_edited(demos, tmp_path / "b", backend="libero"), "recorded on backend 'libero'"),
        # the quick preset generates two tasks of each suite; the dataset has one of each
        (demos, "no episode of 2 of the run's 4 tasks: spatial_right_cube_in_bowl"),
    ]
    for given, message in cases:
        code, out, err = run_cli(["compare", "--out", tmp_path / "run", "--demos-from", given],
                                 capsys)
        assert code == 2, err
        assert message in err, err
        assert len(err.strip().splitlines()) == 1
        assert "estimated cost" in out
    assert not (tmp_path / "run").exists()


def test_compare_on_libero_without_demonstrations_prints_its_cost_then_names_demos_from(
        tmp_path, capsys):
    from diffrl_eval.envs.libero import runtime

    if not runtime.ready():
        pytest.skip("needs the libero extra")
    code, out, err = run_cli(["compare", "--backend", "libero", "--out", tmp_path / "run"],
                             capsys)
    assert code == 2
    assert "estimated cost" in out and "env steps" in out
    assert "diffrl-eval import" in err and "pass --demos-from OUT to compare" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_compare_on_libero_refuses_a_tabletop_dataset(demos, tmp_path, capsys):
    from diffrl_eval.envs.libero import runtime

    if not runtime.ready():
        pytest.skip("needs the libero extra")
    code, out, err = run_cli(["compare", "--backend", "libero", "--demos-from", demos,
                              "--out", tmp_path / "run"], capsys)
    assert code == 2
    assert "recorded on backend 'tabletop', not 'libero'" in err
    assert not (tmp_path / "run").exists()
