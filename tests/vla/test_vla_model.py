"""tiny-vla end to end on tiny data: it reads the instruction, checkpoints round-trip
exactly, evaluation results follow their schema, and bad input is one line with exit 2.

The models here train for a few hundred steps on a handful of simulated-teleoperation
episodes: enough to tell whether the instruction reaches the actions, not to succeed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, make_episode, run_cli

from diffrl_eval.constants import OBS_EEF_POS, OBS_OBJECT_POSES
from diffrl_eval.datagen import generate_dataset
from diffrl_eval.dataset import load_dataset, write_dataset
from diffrl_eval.envs.base import get_backend
from diffrl_eval.envs.tabletop import INIT_STATE_OPTION
from diffrl_eval.errors import UserError
from diffrl_eval.metrics.success import wilson_interval
from diffrl_eval.vla import evaluation
from diffrl_eval.vla.checkpoint import checkpoint_hash, load_vla, read_info
from diffrl_eval.vla.evaluation import evaluate_checkpoint
from diffrl_eval.vla.training import train_vla
from generators.human import HumanGenerator
from vla.tiny_vla import TinyVLA
from vla.tiny_vla.hparams import hparams_hash, resolve_hparams

# one scene, two goals: only the instruction says which cube to move
RED, BLUE = "goal_red_cube_in_bowl", "goal_blue_cube_on_plate"
RED_SLOT, BLUE_SLOT = 0, 1  # the goal scene's object order: red cube, blue cube, ...
SPATIAL_TASK = "spatial_left_cube_on_plate"  # 4 objects
TINY = {"preset": "quick", "hidden_dim": 64, "trunk_blocks": 2, "train_steps": 800,
        "batch_size": 64, "chunk_size": 4, "executed_steps": 4}
DEMOS_PER_TASK = 12  # the demonstrations start from fixed initial states 0..11


def _generate(out: Path, task_ids: list[str], episodes: int) -> Path:
    backend = get_backend("tabletop")
    return generate_dataset(HumanGenerator(backend), [backend.task(t) for t in task_ids],
                            n_episodes=episodes, seed=0, out=out, suite=None,
                            show_progress=False)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("vla")


@pytest.fixture(scope="module")
def goal_data(workdir) -> Path:
    return _generate(workdir / "goal", [RED, BLUE], episodes=DEMOS_PER_TASK)


@pytest.fixture(scope="module")
def goal_ckpt(workdir, goal_data) -> Path:
    return train_vla([goal_data], workdir / "goal-ckpt", hparams=TINY, seed=0, progress=False)


@pytest.fixture(scope="module")
def no_language_ckpt(workdir, goal_data) -> Path:
    return train_vla([goal_data], workdir / "no-language-ckpt",
                     hparams={**TINY, "language": False, "train_steps": 50}, progress=False)


@pytest.fixture(scope="module")
def spatial_data(workdir) -> Path:
    return _generate(workdir / "spatial", [SPATIAL_TASK], episodes=2)


def _observations(task_id: str, states) -> list[dict]:
    """First observations of ``task_id`` from its fixed initial states ``states``."""
    env = get_backend("tabletop").make_env(task_id)
    try:
        return [env.reset(options={INIT_STATE_OPTION: i})[0] for i in states]
    finally:
        env.close()


def _alignment(displacement: np.ndarray, obs: dict, slot: int) -> float:
    """Cosine between the chunk's xy motion and the direction from gripper to object."""
    target = obs[OBS_OBJECT_POSES][7 * slot: 7 * slot + 2] - obs[OBS_EEF_POS][:2]
    return float(displacement @ target / (np.linalg.norm(displacement) * np.linalg.norm(target)))


# --- language ------------------------------------------------------------------------------
def test_the_instruction_decides_which_cube_the_gripper_heads_for(goal_ckpt):
    # Scenes the model never saw, drawn like the training ones: the layout cannot say
    # which task it is, only the instruction can. Score how much more the chunk's xy
    # motion points at the red cube under the red instruction than under the blue one,
    # and the other way round; a model that ignores language scores exactly 0.
    model, _ = load_vla(goal_ckpt)
    red_text = get_backend("tabletop").task(RED).instruction
    blue_text = get_backend("tabletop").task(BLUE).instruction
    gains = []
    for task_id in (RED, BLUE):
        observations = _observations(task_id, range(30, 46))
        n = len(observations)
        under_red = model.predict_batch(observations, [red_text] * n)[:, :, :2].sum(1)
        under_blue = model.predict_batch(observations, [blue_text] * n)[:, :, :2].sum(1)
        for r, b, obs in zip(under_red, under_blue, observations):
            red_gain = _alignment(r, obs, RED_SLOT) - _alignment(b, obs, RED_SLOT)
            blue_gain = _alignment(b, obs, BLUE_SLOT) - _alignment(r, obs, BLUE_SLOT)
            gains.append((red_gain + blue_gain) / 2)
    assert np.mean(gains) > 0.1, gains


def test_the_no_language_baseline_acts_the_same_whatever_the_instruction(no_language_ckpt):
    model, info = load_vla(no_language_ckpt)
    assert info["hparams"]["language"] is False
    observations = _observations(RED, range(3))
    red = model.predict_batch(observations, ["put the red cube in the bowl"] * 3)
    other = model.predict_batch(observations, ["anything else entirely"] * 3)
    np.testing.assert_array_equal(red, other)


def test_instruction_embeddings_are_stored_in_the_checkpoint(goal_ckpt):
    config = json.loads((goal_ckpt / "config.json").read_text())
    instructions = sorted(get_backend("tabletop").task(t).instruction for t in (RED, BLUE))
    assert config["instructions"] == instructions
    assert config["tensors"]["instruction_embeddings"] == [2, 384]


# --- checkpoints ---------------------------------------------------------------------------
def test_save_and_load_give_identical_actions(goal_ckpt, workdir):
    model, _ = load_vla(goal_ckpt)
    copy = workdir / "copy"
    copy.mkdir()
    model.save(copy)
    reloaded = TinyVLA.load(copy)
    observations = _observations(BLUE, range(4))
    instructions = [get_backend("tabletop").task(BLUE).instruction] * 4
    np.testing.assert_array_equal(model.predict_batch(observations, instructions),
                                  reloaded.predict_batch(observations, instructions))
    assert model.predict(observations[0], instructions[0]).shape == (4, 7)


def test_the_diffusion_head_round_trips_and_its_samples_follow_the_seed(workdir, goal_data):
    ckpt = train_vla([goal_data], workdir / "diffusion-ckpt", progress=False,
                     hparams={**TINY, "head": "diffusion", "train_steps": 30,
                              "diffusion_train_steps": 20, "denoising_steps": 3})
    model, _ = load_vla(ckpt)
    reloaded = TinyVLA.load(ckpt)
    observations = _observations(RED, range(2))
    text = ["put the red cube in the bowl"] * 2
    first = model.predict_batch(observations, text, seed=3)
    np.testing.assert_array_equal(first, reloaded.predict_batch(observations, text, seed=3))
    assert not np.array_equal(first, model.predict_batch(observations, text, seed=4))
    assert np.abs(first).max() <= 1.0 + 1e-6


def test_the_checkpoint_records_hparams_hash_and_provenance(goal_ckpt, goal_data):
    info = read_info(goal_ckpt)
    assert info["hparams"] == resolve_hparams(TINY)
    assert info["hparams_hash"] == hparams_hash(resolve_hparams(TINY))
    assert info["backend"] == "tabletop"
    training = info["training"]
    assert training["seed"] == 0 and training["sources"] == ["human"]
    assert training["train_suites"] == ["tabletop-goal"]
    dataset = load_dataset(goal_data)
    assert training["datasets"] == [{
        "path": str(goal_data), "source": "human", "source_label": dataset.source_label,
        "suite": None, "content_hash": dataset.content_hash,
        "n_episodes": 2 * DEMOS_PER_TASK}]


def test_one_model_trains_on_several_sources_and_records_each(workdir, goal_data):
    # the paper's Human+RL row: a second source's dataset beside the human one
    backend = get_backend("tabletop")
    episodes = HumanGenerator(backend).generate(backend.task(BLUE), 2, seed=5)
    other = write_dataset(workdir / "second-source", episodes, source="diffusion-ppo",
                          backend="tabletop", suite="tabletop-goal", seed=5)
    ckpt = train_vla([goal_data, other], workdir / "mixed-ckpt", progress=False,
                     hparams={**TINY, "train_steps": 10})
    training = read_info(ckpt)["training"]
    assert training["sources"] == ["diffusion-ppo", "human"]
    assert [d["source"] for d in training["datasets"]] == ["human", "diffusion-ppo"]
    assert [d["n_episodes"] for d in training["datasets"]] == [2 * DEMOS_PER_TASK, 2]


def test_corrupt_checkpoint_files_are_one_line_errors(goal_ckpt, workdir):
    broken = workdir / "broken"
    broken.mkdir()
    for name in ("checkpoint.json", "config.json"):
        (broken / name).write_bytes((goal_ckpt / name).read_bytes())
    (broken / "model.safetensors").write_bytes((goal_ckpt / "model.safetensors").read_bytes()[:100])
    with pytest.raises(UserError, match="corrupt checkpoint"):
        load_vla(broken)
    (broken / "model.safetensors").write_bytes((goal_ckpt / "model.safetensors").read_bytes())
    (broken / "config.json").write_text("{ not json")
    with pytest.raises(UserError, match="config.json changed since training"):
        load_vla(broken)  # the content hash covers every file of the VLA's, config included
    info = json.loads((broken / "checkpoint.json").read_text())
    del info["content_hash"]
    (broken / "checkpoint.json").write_text(json.dumps(info))
    with pytest.raises(UserError, match="corrupt checkpoint config"):
        load_vla(broken)  # without the hash, tiny-vla's own reading refuses it


def test_training_refuses_an_existing_checkpoint_and_leaves_it_alone(goal_ckpt, goal_data):
    before = checkpoint_hash(goal_ckpt, "tiny-vla")
    with pytest.raises(UserError, match="already exists"):
        train_vla([goal_data], goal_ckpt, hparams=TINY, progress=False)
    assert checkpoint_hash(goal_ckpt, "tiny-vla") == before
    assert not [p for p in goal_ckpt.parent.iterdir() if p.name.startswith(".goal-ckpt")]


# --- evaluation ----------------------------------------------------------------------------
SUCCESS_KEYS = {"successes", "episodes", "rate", "ci_low", "ci_high", "confidence"}


def _files_hash(directory, names):
    """sha256 of the named files, each as 'path NUL size NUL bytes' (the content hash)."""
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(names):
        data = (directory / name).read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode() + data)
    return "sha256:" + digest.hexdigest()


def test_evaluation_result_follows_the_schema(goal_ckpt):
    result = evaluate_checkpoint(goal_ckpt, ["tabletop-goal"], episodes_per_task=2, seed=1,
                                 tasks=[RED, BLUE], progress=False)
    assert set(result) == {
        "kind", "schema_version", "vla", "checkpoint", "checkpoint_hash", "hparams_hash",
        "training", "backend", "protocol", "eval_seed", "episodes_per_task", "per_task",
        "per_suite", "overall", "env_steps", "device", "wall_seconds", "tool_version"}
    assert result["kind"] == "diffrl-eval/vla-eval" and result["schema_version"] == 1
    assert result["vla"] == "tiny-vla" and result["backend"] == "tabletop"
    assert result["checkpoint"] == str(goal_ckpt)
    assert result["checkpoint_hash"] == _files_hash(goal_ckpt, ["config.json", "model.safetensors"])
    assert result["checkpoint_hash"] == read_info(goal_ckpt)["content_hash"]
    assert result["device"] == "cpu"
    assert result["hparams_hash"] == read_info(goal_ckpt)["hparams_hash"]
    assert set(result["training"]) == {"seed", "datasets", "sources", "train_suites"}
    assert result["protocol"] == "in-distribution"
    assert result["eval_seed"] == 1 and result["episodes_per_task"] == 2
    assert list(result["per_task"]) == [RED, BLUE]
    for task in result["per_task"].values():
        assert set(task) == SUCCESS_KEYS | {"suite", "instruction", "init_state_indices",
                                            "episode_seeds", "actions_sha256", "episode_successes"}
        assert task["suite"] == "tabletop-goal" and task["episodes"] == 2
        assert task["init_state_indices"] == [0, 1] and len(task["episode_seeds"]) == 2
    assert set(result["per_suite"]) == {"tabletop-goal"}
    assert set(result["overall"]) == SUCCESS_KEYS and result["overall"]["episodes"] == 4
    assert 4 <= result["env_steps"] <= 4 * 300
    json.dumps(result)  # plain JSON types only


def test_evaluation_counts_successes_and_puts_wilson_intervals_on_them(goal_ckpt, monkeypatch):
    # hand count: an episode succeeds exactly when its init state index is even, so
    # 5 episodes per task give 3/5 per task and 6/10 overall
    def fake_run(model, backend, jobs, **_):
        for job in jobs:
            job.success = job.init_state_index % 2 == 0
            job.steps = 1
        return len(jobs)

    monkeypatch.setattr(evaluation, "run_episodes", fake_run)
    result = evaluate_checkpoint(goal_ckpt, ["tabletop-goal"], episodes_per_task=5,
                                 tasks=[RED, BLUE], progress=False)
    task = result["per_task"][RED]
    assert (task["successes"], task["episodes"], task["rate"]) == (3, 5, 0.6)
    assert task["ci_low"] == pytest.approx(0.2307, abs=1e-4)
    assert task["ci_high"] == pytest.approx(0.8824, abs=1e-4)
    overall = result["overall"]
    assert (overall["successes"], overall["episodes"]) == (6, 10)
    assert (overall["ci_low"], overall["ci_high"]) == pytest.approx((0.3127, 0.8318), abs=1e-4)
    assert (overall["ci_low"], overall["ci_high"]) == wilson_interval(6, 10)
    assert result["per_suite"]["tabletop-goal"] == overall


def test_episode_i_starts_from_fixed_init_state_i_mod_50(goal_ckpt, monkeypatch):
    seen = []

    def fake_run(model, backend, jobs, **_):
        seen.extend(job.init_state_index for job in jobs)
        return 0

    monkeypatch.setattr(evaluation, "run_episodes", fake_run)
    result = evaluate_checkpoint(goal_ckpt, ["tabletop-goal"], episodes_per_task=52,
                                 tasks=[RED], progress=False)
    assert seen == [*range(50), 0, 1]
    assert result["per_task"][RED]["init_state_indices"] == seen


def test_unseen_suites_make_the_protocol_ood_zero_shot(goal_ckpt):
    result = evaluate_checkpoint(goal_ckpt, ["tabletop-long"], episodes_per_task=1,
                                 tasks=["long_red_in_bowl_and_blue_on_plate"], progress=False)
    assert result["protocol"] == "ood-zero-shot"
    assert result["overall"]["episodes"] == 1


# --- command line --------------------------------------------------------------------------
def test_train_and_eval_commands_with_several_seeds_aggregate_mean_and_std(
        workdir, spatial_data, capsys):
    hparams = workdir / "hparams.json"
    hparams.write_text(json.dumps({**TINY, "train_steps": 20, "max_objects": 4}))
    out = workdir / "seeds"
    code, stdout, _ = run_cli(["vla", "train", "--data", spatial_data, "--out", out,
                               "--seeds", "0,1", "--hparams", hparams], capsys)
    assert code == 0, stdout
    assert sorted(p.name for p in out.iterdir()) == ["seed-0", "seed-1"]
    report = workdir / "seeds.json"
    code, stdout, _ = run_cli(["vla", "eval", "--ckpt", out, "--suite", "tabletop-spatial",
                               "--task", SPATIAL_TASK, "--episodes-per-task", "1",
                               "--json", report], capsys)
    assert code == 0
    assert "mean ± std" in stdout
    aggregate = json.loads(report.read_text())
    assert aggregate["kind"] == "diffrl-eval/vla-eval-seeds" and aggregate["seeds"] == [0, 1]
    assert aggregate["hparams_hash"] == read_info(out / "seed-0")["hparams_hash"]
    assert [run["training"]["seed"] for run in aggregate["runs"]] == [0, 1]


def test_a_checkpoint_with_fewer_object_slots_than_the_task_has_objects_is_refused(
        workdir, capsys):
    # the spatial checkpoints above hold 4 object slots; goal tasks have 5 objects
    code, _, err = run_cli(["vla", "eval", "--ckpt", workdir / "seeds" / "seed-0",
                            "--suite", "tabletop-goal", "--episodes-per-task", "1"], capsys)
    assert_one_line_error(code, err, "observation space does not match", "5 objects")


def test_eval_refuses_checkpoints_trained_with_different_hparams(
        goal_ckpt, no_language_ckpt, capsys):
    code, _, err = run_cli(["vla", "eval", "--ckpt", goal_ckpt, "--ckpt", no_language_ckpt,
                            "--suite", "tabletop-goal", "--episodes-per-task", "1"], capsys)
    assert_one_line_error(code, err, read_info(goal_ckpt)["hparams_hash"],
                          read_info(no_language_ckpt)["hparams_hash"])


def test_unknown_suite_lists_the_valid_ones(goal_ckpt, capsys):
    code, _, err = run_cli(["vla", "eval", "--ckpt", goal_ckpt, "--suite", "tabletop-nope"],
                           capsys)
    assert_one_line_error(code, err, "unknown tabletop suite 'tabletop-nope'", "tabletop-goal")


def test_training_on_datasets_of_different_backends_is_refused(goal_data, workdir, capsys):
    rng = np.random.default_rng(0)
    other = write_dataset(workdir / "other-backend", [make_episode(rng, 10, seed=0)],
                          source="human", backend="acme-line", suite=None, seed=0)
    code, _, err = run_cli(["vla", "train", "--data", goal_data, "--data", other,
                            "--out", workdir / "never"], capsys)
    assert_one_line_error(code, err, "different backends", "acme-line", "tabletop")
    assert not (workdir / "never").exists()


@pytest.mark.parametrize("argv", [
    ["vla", "train", "--data", "{data}", "--out", "{ckpt}"],
    ["vla", "eval", "--ckpt", "{missing}", "--suite", "tabletop-goal"],
    ["vla", "eval", "--ckpt", "{ckpt}", "--suite", "tabletop-goal", "--episodes-per-task", "0"],
    ["vla", "train", "--data", "{data}", "--out", "{new}", "--seeds", "0,0"],
    ["vla", "train", "--data", "{data}", "--out", "{new}", "--preset", "huge"],
])
def test_bad_vla_arguments_are_one_line_errors(argv, goal_ckpt, goal_data, workdir, capsys):
    paths = {"data": goal_data, "ckpt": goal_ckpt, "missing": workdir / "missing",
             "new": workdir / "new"}
    code, _, err = run_cli([a.format(**paths) for a in argv], capsys)
    assert_one_line_error(code, err)
    assert not (workdir / "new").exists()
