"""Joining consecutive action chunks at generation time: each mode changes the executed
actions as documented, stays deterministic, and is recorded in the generator config."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error
from policy_fixtures import tiny_tabletop_config

from diffrl_eval.cli import main
from diffrl_eval.dataset import load_dataset
from diffrl_eval.dataset.writer import write_dataset
from diffrl_eval.envs.tabletop import TabletopBackend
from diffrl_eval.errors import UserError
from diffrl_eval.metrics import compute_metrics
from generators.diffusion_ppo import DiffusionPPOGenerator
from generators.expert import rollout_episodes
from generators.expert.chunk_joining import BLEND_STEPS, ChunkJoiner, check_chunk_join
from generators.gaussian_ppo import GaussianPPOGenerator
from generators.policy import DiffusionChainPolicy, GaussianPolicy
from reports.sources import Source
from reports.tables import dataset_table

torch.set_num_threads(1)

TASK = "spatial_left_cube_on_plate"


@pytest.fixture(scope="module")
def backend():
    return TabletopBackend()


@pytest.fixture(scope="module")
def policies(backend):
    config = tiny_tabletop_config(backend, TASK)
    torch.manual_seed(0)
    return {"diffusion": DiffusionChainPolicy(config).eval(),
            "gaussian": GaussianPolicy(config).eval()}


def _obs(policy, batch: int = 3, value: float = 0.1) -> dict[str, torch.Tensor]:
    config = policy.config
    return {"state": torch.full((batch, config.n_obs_steps, config.proprio_dim), value),
            "object_poses": torch.full((batch, config.n_obs_steps,
                                        config.lowdim_dim - config.proprio_dim), value)}


def _two_decisions(policy, mode: str, seed: int = 0):
    joiner = ChunkJoiner(policy, mode, 3)
    generator = torch.Generator().manual_seed(seed)
    envs = np.arange(3)
    return joiner, joiner.act(_obs(policy), envs, generator), joiner.act(
        _obs(policy, value=0.2), envs, generator)


@pytest.mark.parametrize("kind", ["diffusion", "gaussian"])
def test_none_executes_the_policys_first_steps_and_whole_chunk_all_of_them(policies, kind):
    policy = policies[kind]
    plan = policy.act(_obs(policy), deterministic=True,
                      generator=torch.Generator().manual_seed(0)).action_chunk
    _, first, _ = _two_decisions(policy, "none")
    np.testing.assert_array_equal(first, plan[:, :4].numpy())
    _, first, _ = _two_decisions(policy, "whole-chunk")
    np.testing.assert_array_equal(first, plan.numpy())


@pytest.mark.parametrize("kind", ["diffusion", "gaussian"])
def test_blend_mixes_the_first_steps_with_the_previous_plan_and_keeps_the_gripper(
        policies, kind):
    policy = policies[kind]
    _, first_none, second_none = _two_decisions(policy, "none")
    _, first, second = _two_decisions(policy, "blend")
    np.testing.assert_array_equal(first, first_none)  # nothing to blend with yet
    # recompute the blend by hand from the first plan's tail and the unblended chunk
    plan = policy.act(_obs(policy), deterministic=True,
                      generator=torch.Generator().manual_seed(0)).action_chunk.numpy()
    overlap = min(BLEND_STEPS, 4)
    weight = np.arange(1, overlap + 1) / (overlap + 1)
    expected = second_none.copy()
    tail = plan[:, 4 : 4 + overlap]
    expected[:, :overlap, :6] = (weight[None, :, None] * second_none[:, :overlap, :6]
                                 + (1 - weight[None, :, None]) * tail[..., :6])
    np.testing.assert_allclose(second, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(second[..., 6], second_none[..., 6])


def test_warm_start_changes_only_later_chunks_and_forgets_the_plan_at_a_new_episode(policies):
    policy = policies["diffusion"]
    _, first_none, second_none = _two_decisions(policy, "none")
    joiner, first, second = _two_decisions(policy, "warm-start")
    np.testing.assert_array_equal(first, first_none)
    assert not np.allclose(second, second_none)
    _, _, second_again = _two_decisions(policy, "warm-start")
    np.testing.assert_array_equal(second, second_again)  # deterministic in the seed
    # an env that starts a new episode acts from pure noise again
    joiner.start(1)
    generator = torch.Generator().manual_seed(5)
    joined = joiner.act(_obs(policy), np.arange(3), generator)
    cold = policy.act(_obs(policy), deterministic=True,
                      generator=torch.Generator().manual_seed(5)).action_chunk[:, :4]
    np.testing.assert_allclose(joined[1], cold[1].numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(joined[0], cold[0].numpy())  # env 0 still starts from its plan


@pytest.mark.parametrize("mode", ["warm-start", "blend"])
def test_a_policy_that_executes_its_whole_plan_still_joins(backend, mode):
    config = tiny_tabletop_config(backend, TASK)
    torch.manual_seed(0)
    policy = DiffusionChainPolicy(type(config)(**{**config.to_dict(), "action_steps": 8}))
    _, first, second = _two_decisions(policy.eval(), mode)
    assert first.shape == second.shape == (3, 8, 7)
    assert np.isfinite(second).all()


def test_warm_start_without_a_tail_starts_from_the_last_planned_action(backend):
    """The recipe executes its whole 8-action plan: the next chunk's guess is the last
    planned (normalized) action repeated over the horizon, and the warm-started chunk
    differs from a cold one drawn with the same noise."""
    config = tiny_tabletop_config(backend, TASK)
    torch.manual_seed(0)
    policy = DiffusionChainPolicy(
        type(config)(**{**config.to_dict(), "action_steps": 8})).eval()
    joiner, _, warm = _two_decisions(policy, "warm-start")
    plan = joiner._plan.clone()
    guess = joiner._tail_guess(np.arange(3))
    assert guess.shape == (3, 8, config.action_dim)
    torch.testing.assert_close(guess, plan[:, -1:].expand(-1, 8, -1))
    cold_joiner, _, cold = _two_decisions(policy, "none")
    assert not np.allclose(warm, cold)


def test_episodes_differ_by_join_mode_and_repeat_with_the_seed(backend, policies):
    policy = policies["diffusion"]
    task = backend.task(TASK)
    runs = {mode: rollout_episodes(policy, backend, task, [0, 1], seed=3, n_envs=2,
                                   chunk_join=mode)
            for mode in ("none", "warm-start")}
    again = rollout_episodes(policy, backend, task, [0, 1], seed=3, n_envs=2,
                             chunk_join="warm-start")
    for episode, repeat in zip(runs["warm-start"], again):
        np.testing.assert_array_equal(episode.actions, repeat.actions)
    none, warm = runs["none"][0].actions, runs["warm-start"][0].actions
    np.testing.assert_array_equal(none[:4], warm[:4])  # the first chunk is the policy's
    assert not np.allclose(none[4:8], warm[4:8])


def test_join_mode_is_checked_and_recorded_in_the_generator_config(backend):
    generator = DiffusionPPOGenerator(backend)
    assert generator.config.chunk_join == "warm-start"  # the recipe's measured choice
    recorded = generator.config_dict()
    assert recorded["chunk_join"] == "warm-start"
    assert recorded["generation"] == {"chunk_join": "warm-start", "executed_chunk_steps": 8}
    whole = DiffusionPPOGenerator(backend, DiffusionPPOGenerator.make_config(
        {"chunk_join": "whole-chunk"}))
    # the diffusion recipe plans 8 actions and executes them all; the Gaussian one plans 16
    assert whole.config_dict()["generation"]["executed_chunk_steps"] == 8
    gaussian_whole = GaussianPPOGenerator(backend, GaussianPPOGenerator.make_config(
        {"chunk_join": "whole-chunk"}))
    assert gaussian_whole.config_dict()["generation"]["executed_chunk_steps"] == 16
    assert GaussianPPOGenerator(backend).config_dict()["generation"]["executed_chunk_steps"] == 8
    # not part of the expert: the same cached expert serves every join mode
    assert whole.expert_dir(backend.task(TASK), 0) == generator.expert_dir(backend.task(TASK), 0)
    assert GaussianPPOGenerator(backend).config.chunk_join == "none"
    with pytest.raises(UserError, match="unknown chunk_join 'smooth'; valid choices: none"):
        DiffusionPPOGenerator.make_config({"chunk_join": "smooth"})
    with pytest.raises(UserError, match="gaussian policies have no chunk_join 'warm-start'"):
        GaussianPPOGenerator(backend, GaussianPPOGenerator.make_config(
            {"chunk_join": "warm-start"}))
    with pytest.raises(UserError):
        check_chunk_join("blend ")


def _cli(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in argv])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.mark.parametrize("argv, fragment", [
    (["generate", "--source", "diffusion-ppo", "--task", TASK, "-n", "1",
      "--option", "chunk_join=smooth"], "unknown chunk_join 'smooth'; valid choices: none"),
    (["generate", "--source", "gaussian-ppo", "--task", TASK, "-n", "1",
      "--option", "chunk_join=warm-start"], "valid choices: none, blend, whole-chunk"),
    (["train-expert", "--task", TASK, "--option", "env_workers=0"],
     "env_workers must be a whole number >= 1"),
    (["train-expert", "--task", TASK, "--option", "env_workers=-3"],
     "env_workers must be a whole number >= 1"),
])
def test_bad_join_mode_or_worker_count_is_one_line_exit_2_and_writes_nothing(
        tmp_path, capsys, argv, fragment):
    out = tmp_path / "out"
    code, _, err = _cli([*argv, "--out", out], capsys)
    assert_one_line_error(code, err, fragment)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_metrics_shows_roughness_by_chunk_position_and_refuses_a_bad_chunk_length(
        toy_dataset, tmp_path, capsys):
    out = tmp_path / "m.json"
    code, text, _ = _cli(["metrics", toy_dataset, "--chunk-steps", "4", "--json", out], capsys)
    assert code in (0, None)
    assert "roughness by position in the executed chunk (Te = 4" in text
    block = json.loads(out.read_text())["chunk_position"]
    assert block["chunk_steps"] == 4
    assert [row["position"] for row in block["rows"]] == [0, 1, 2, 3]
    code, _, err = _cli(["metrics", toy_dataset, "--chunk-steps", "0", "--json",
                         tmp_path / "bad.json"], capsys)
    assert_one_line_error(code, err, "--chunk-steps must be a positive integer")
    assert not (tmp_path / "bad.json").exists()


def test_the_manifest_s_generation_block_reaches_the_metrics_and_the_report(
        backend, tmp_path, episode_factory):
    generator = DiffusionPPOGenerator(backend)
    rng = np.random.default_rng(0)
    path = write_dataset(tmp_path / "data", [episode_factory(rng, 12) for _ in range(2)],
                         source=generator.name, backend=backend.name, suite=None,
                         generator_config=generator.config_dict())
    result = compute_metrics(load_dataset(path))
    assert result["dataset"]["generation"] == {"chunk_join": "warm-start",
                                               "executed_chunk_steps": 8}
    table = dataset_table([Source(name="diffusion-ppo", result=result)])
    column = table.columns.index("generation")
    assert table.rows[0][column].text == "chunk join warm-start, executed chunk steps 8"
