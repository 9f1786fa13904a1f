"""RL experts on the real LIBERO backend, cloning a human dataset (``--demos-from``).

The demonstrations are real LIBERO episodes made here: a scripted push closes the open top
drawer of KITCHEN_SCENE10 (libero_90) from official initial states 0-2 (about 60 steps
each), plus one idle episode that fails. They are written as a dataset, exported as
LIBERO HDF5 files and imported back, the path LIBERO's own demonstrations take. Budgets
are tiny (20 BC steps, 2 envs, 3 PPO iterations of 3 decisions): what is tested is the
plumbing, not the expert's skill. Needs the ``libero`` extra; skipped without it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from conftest import run_cli

from diffrl_eval import constants as C
from diffrl_eval import registry
from diffrl_eval.cli import main
from diffrl_eval.dataset import Episode, load_dataset, write_dataset
from diffrl_eval.envs.base import get_backend
from diffrl_eval.envs.libero import DUMMY_ACTION, INIT_STATE_OPTION, runtime
from diffrl_eval.export.libero_hdf5 import export_libero_hdf5
from diffrl_eval.export.libero_import import import_libero_hdf5

pytestmark = pytest.mark.skipif(
    not runtime.ready(),
    reason="needs the libero extra: pip install -e '.[libero]' && diffrl-eval doctor --install-libero",
)

torch.set_num_threads(1)

TASK = "KITCHEN_SCENE10_close_the_top_drawer_of_the_cabinet"
OTHER_TASK = "KITCHEN_SCENE1_put_the_black_bowl_on_the_plate"
N_PUSHES = 3
TINY_FLAGS = [
    "--bc-steps", "20", "--demos", str(N_PUSHES), "--iterations", "3", "--n-envs", "2",
    "--batch-size", "10",
]
# what TINY_FLAGS set, as generator options (generate has no flags for them)
FLAG_OPTIONS = {
    "bc_gradient_steps": "20", "n_demonstrations": str(N_PUSHES), "ppo.n_iterations": "3",
    "ppo.n_envs": "2", "ppo.batch_size": "10",
}
SMALL_OPTIONS = {
    "ppo.n_steps": "3", "policy.mlp_hidden": "[16]", "policy.encoder_hidden": "16",
    "policy.obs_feature_dim": "8",
}


def options(values: dict[str, str]) -> list[str]:
    return [arg for key, value in values.items() for arg in ("--option", f"{key}={value}")]


# --- the demonstrations ------------------------------------------------------------------

def _record(env, instruction: str, init_state_index: int, seed: int, push: bool) -> Episode:
    """One episode from official initial state ``init_state_index``, as the generators
    start theirs (seeded reset, settle steps): the scripted push, or 20 idle steps."""
    obs, _ = env.reset(seed=seed, options={INIT_STATE_OPTION: init_state_index})
    x = env.libero_env.object_states_dict["wooden_cabinet_1_top_region"].get_geom_state()["pos"][0]
    # above the open drawer's front, down to its height, then push it shut (gripper closed)
    waypoints = [np.array([x, 0.06, 1.20]), np.array([x, 0.06, 1.06]), np.array([x, -0.25, 1.06])]
    target = 0
    states, eef_pos, actions, rewards, successes = [], [], [], [], []
    for _ in range(150 if push else 20):
        if push:
            error = waypoints[target] - obs[C.OBS_EEF_POS]
            if np.linalg.norm(error) < 0.01 and target < len(waypoints) - 1:
                target += 1
                error = waypoints[target] - obs[C.OBS_EEF_POS]
            action = np.zeros(7)
            action[:3] = np.clip(10 * error, -1, 1)
            action[6] = 1.0
        else:
            action = DUMMY_ACTION
        states.append(obs[C.OBS_STATE])
        eef_pos.append(obs[C.OBS_EEF_POS])
        actions.append(action)
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        successes.append(info["success"])
        if terminated or truncated:
            break
    return Episode(TASK, instruction, np.array(states), np.array(eef_pos), np.array(actions),
                   np.array(rewards), np.array(successes), seed=seed,
                   init_state_index=init_state_index)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The recorded episodes: N_PUSHES successful pushes, then one failed idle episode."""
    backend = get_backend("libero")
    env = backend.make_env(TASK)
    instruction = backend.task(TASK).instruction
    try:
        episodes = [_record(env, instruction, i, seed=100 + i, push=True)
                    for i in range(N_PUSHES)]
        episodes.append(_record(env, instruction, N_PUSHES, seed=100 + N_PUSHES, push=False))
    finally:
        env.close()
    assert [e.success for e in episodes] == [True] * N_PUSHES + [False]
    return episodes


@pytest.fixture(scope="module")
def demos(tmp_path_factory, recorded) -> Path:
    """The recorded episodes as a human dataset, through LIBERO HDF5 export and import."""
    root = tmp_path_factory.mktemp("demos")
    written = write_dataset(root / "recorded", recorded, source="human", backend="libero",
                            suite="libero_90")
    export_libero_hdf5(written, root / "hdf5")
    return import_libero_hdf5([root / "hdf5"], root / "human", show_progress=False).path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demos):
    """A diffusion-ppo expert trained by `train-expert` into an expert cache:
    (cache directory, the run's directory)."""
    cache = tmp_path_factory.mktemp("experts")
    with pytest.raises(SystemExit) as exit_info:
        main(["train-expert", "--backend", "libero", "--task", TASK, "--demos-from", str(demos),
              *TINY_FLAGS, *options({**SMALL_OPTIONS, "cache_dir": str(cache)})])
    assert exit_info.value.code == 0
    (summary,) = cache.glob(f"diffusion-ppo/{TASK}/*/expert.json")
    return cache, summary.parent


def _edited_copy(demos: Path, where: Path, *, manifest: dict | None = None,
                 frames=None) -> Path:
    copy = where / "edited"
    shutil.copytree(demos, copy)
    if manifest:
        path = copy / "manifest.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **manifest}))
    if frames is not None:
        frames(pl.read_parquet(copy / "frames.parquet")).write_parquet(copy / "frames.parquet")
    return copy


# --- training and generation --------------------------------------------------------------

def test_the_imported_dataset_keeps_what_replay_needs(demos, recorded):
    dataset = load_dataset(demos)
    assert dataset.source == "human" and dataset.backend == "libero"
    assert dataset.manifest["episode_init_states"] == [e.init_state_index for e in recorded]
    assert dataset.manifest["episode_seeds"] == [e.seed for e in recorded]


def test_train_expert_on_libero_clones_the_successful_imported_demonstrations(trained, demos):
    _, run = trained
    for name in ("run.json", "bc/bc.json", "curves.parquet", "policy/config.json",
                 "policy/weights.safetensors", "value/weights.safetensors", "expert.json"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "expert.json").read_text())
    assert summary["backend"] == "libero" and summary["task"] == TASK
    # the demonstrations enter the key by content, the failed idle episode is not cloned
    assert summary["settings"]["demos_from"] == load_dataset(demos).content_hash
    assert summary["bc"]["episodes"] == N_PUSHES
    assert summary["iterations"] == 3
    curves = pl.read_parquet(run / "curves.parquet")
    assert curves["iteration"].to_list() == [0, 1, 2]
    # 2 envs x 3 decisions x at most 8 executed actions per iteration
    assert 0 < summary["env_steps"] <= 3 * 2 * 3 * 8


def test_generate_reuses_the_trained_expert_and_keeps_only_successes(trained, demos, tmp_path,
                                                                     capsys):
    cache, run = trained
    finished = (run / "expert.json").stat().st_mtime_ns
    out = tmp_path / "generated"
    cli_run = run_cli(
     ["generate", "--source", "diffusion-ppo", "--backend", "libero", "--task", TASK,
      "--demos-from", demos, "-n", "1", "--out", out,
      *options({**FLAG_OPTIONS, **SMALL_OPTIONS, "cache_dir": str(cache),
                "max_attempts_factor": "1"})],
     capsys)
    code, text = cli_run.code, cli_run.text
    # the flags' settings given as options, the same demonstrations: the cached expert
    assert (run / "expert.json").stat().st_mtime_ns == finished
    assert len(list(cache.glob(f"diffusion-ppo/{TASK}/*"))) == 1
    if code == 0:
        dataset = load_dataset(out)
        assert dataset.backend == "libero" and dataset.manifest["n_episodes"] == 1
        assert dataset.frames_df[C.COL_SUCCESS].any()
    else:  # 20 BC steps may well not be enough to close the drawer
        assert code == 2, text
        assert "succeeded in 0 of 1 attempts" in text
        assert not out.exists()


def test_the_expert_cache_key_follows_the_demonstrations_content(demos, tmp_path, recorded):
    backend = get_backend("libero")
    task = backend.task(TASK)
    generator_cls = registry.generators.load("diffusion-ppo")

    def expert_dir(demos_from):
        config = generator_cls.make_config({"demos_from": demos_from, "cache_dir": str(tmp_path)})
        return generator_cls(backend, config).expert_dir(task, 0)

    moved = tmp_path / "moved"
    shutil.copytree(demos, moved)
    fewer = write_dataset(tmp_path / "fewer", recorded[:2], source="human", backend="libero",
                          suite="libero_90")
    assert expert_dir(str(demos)) == expert_dir(str(moved))
    assert expert_dir(str(demos)) != expert_dir(str(fewer))
    assert expert_dir(str(demos)) != expert_dir(None)


# --- bad input ------------------------------------------------------------------------------

def _refused(args, capsys, *fragments):
    cli_run = run_cli(args, capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 2, text
    assert len(text.strip().splitlines()) == 1, text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_libero_experts_without_demonstrations_say_to_import_them(tmp_path, capsys):
    out = tmp_path / "runs"
    _refused(["train-expert", "--backend", "libero", "--task", TASK, "--iterations", "3",
              "--out", out], capsys, "diffrl-eval import", "--demos-from")
    _refused(["generate", "--source", "gaussian-ppo", "--backend", "libero", "--task", TASK,
              "--out", tmp_path / "data", "--option", f"cache_dir={tmp_path / 'cache'}"],
             capsys, "diffrl-eval import", "--demos-from")
    _refused(["generate", "--source", "human", "--backend", "libero", "--task", TASK,
              "--out", tmp_path / "data"], capsys, "not generated", "diffrl-eval import")
    assert list(tmp_path.iterdir()) == [], "nothing is written for bad input"


def test_bad_demonstration_datasets_are_one_line_errors(demos, tmp_path, capsys):
    out = tmp_path / "runs"
    base = ["train-expert", "--backend", "libero", "--out", out, *TINY_FLAGS]
    _refused([*base, "--task", OTHER_TASK, "--demos-from", demos], capsys,
             f"no episode of task {OTHER_TASK!r}", TASK)
    _refused([*base, "--task", TASK, "--demos", str(N_PUSHES + 1), "--demos-from", demos],
             capsys, f"{N_PUSHES} successful episode(s)", f"fewer than the {N_PUSHES + 1}")
    _refused([*base, "--task", TASK, "--demos-from", tmp_path / "nowhere"], capsys,
             "no such dataset directory")
    (tmp_path / "other").mkdir()
    six_d = _edited_copy(demos, tmp_path / "other", frames=lambda f: f.with_columns(
        pl.Series(C.COL_ACTION, f[C.COL_ACTION].to_numpy()[:, :6])))
    _refused([*base, "--task", TASK, "--demos-from", six_d], capsys, "'action' must be 7-D")
    no_starts = {"episode_seeds": [None] * 4, "episode_init_states": [None] * 4}
    for manifest, fragment in (({"source": "gaussian-ppo"}, "a 'gaussian-ppo' dataset"),
                               ({"backend": "tabletop"}, "recorded on backend 'tabletop'"),
                               (no_starts, "episode 0 (" + TASK + ") records neither its seed")):
        where = tmp_path / next(iter(manifest))
        where.mkdir()
        edited = _edited_copy(demos, where, manifest=manifest)
        _refused([*base, "--task", TASK, "--demos-from", edited], capsys, fragment)
    _refused(["generate", "--source", "human", "--task", "goal_open_drawer", "--demos-from",
              demos, "--out", tmp_path / "data"], capsys, "--demos-from is for the sources")
    assert not out.exists() and not (tmp_path / "data").exists()


def test_too_few_iterations_name_the_flag(demos, tmp_path, capsys):
    _refused(["train-expert", "--backend", "libero", "--task", TASK, "--demos-from", demos,
              "--iterations", "1", "--out", tmp_path / "runs"], capsys,
             "--iterations must be greater than the 2 critic warm-up iterations")
    assert not (tmp_path / "runs").exists()


def test_compare_on_libero_prints_its_cost_then_stops_for_the_missing_demonstrations(
        tmp_path, capsys):
    cli_run = run_cli(["compare", "--backend", "libero", "--preset", "full",
                       "--out", tmp_path / "run"], capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 2
    assert "env steps" in text and "h on a" in text
    assert "error: compare generates every source's data" in text
    assert "diffrl-eval import" in text
    assert not (tmp_path / "run").exists()
