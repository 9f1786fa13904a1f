"""The ``diffusion-ppo`` and ``gaussian-ppo`` generators: cached experts, successful-only
output, and a clear error when the expert cannot deliver."""

from __future__ import annotations

import json

import pytest
import torch

import generators.expert.run as expert_run
from diffrl_eval.envs.tabletop import TabletopBackend
from diffrl_eval.errors import UserError
from generators.diffusion_ppo import DiffusionPPOGenerator
from generators.expert.run import SUMMARY_FILE
from generators.gaussian_ppo import GaussianPPOGenerator

torch.set_num_threads(1)

TASK = "goal_open_drawer"
TINY = {
    "n_demonstrations": 4,
    "bc_gradient_steps": 20,
    "bc_batch_size": 32,
    "policy": {"horizon": 8, "action_steps": 8, "decoder": "mlp", "encoder_hidden": 16,
               "obs_feature_dim": 8, "step_embed_dim": 8, "mlp_hidden": [32]},
    "ppo": {"n_envs": 2, "n_steps": 2, "n_iterations": 1, "critic_warmup_iterations": 0,
            "batch_size": 20, "update_epochs": 1},
    "max_attempts_factor": 1,
}


@pytest.mark.parametrize("generator_cls", [DiffusionPPOGenerator, GaussianPPOGenerator])
def test_a_second_fit_with_the_same_settings_loads_the_cached_expert(generator_cls, tmp_path,
                                                                   monkeypatch):
    backend = TabletopBackend()
    task = backend.task(TASK)
    first = generator_cls(backend, generator_cls.make_config(TINY), workdir=tmp_path)
    first.fit(task, seed=0)
    directory = first.expert_dir(task, 0)
    assert (directory / SUMMARY_FILE).is_file()
    assert len(first.training_history[TASK]) == 1
    second = generator_cls(backend, generator_cls.make_config(TINY), workdir=tmp_path)

    def no_training(*args, **kwargs):
        raise AssertionError("a cached expert must be loaded, not trained again")

    monkeypatch.setattr(expert_run, "train_bc", no_training)
    monkeypatch.setattr(expert_run, "PPOTrainer", no_training)
    second.fit(task, seed=123)  # the data seed does not choose the expert
    # NaN (no episode ended) compares unequal to itself; JSON text compares the values
    assert json.dumps(second.training_history[TASK]) == json.dumps(first.training_history[TASK])
    for a, b in zip(first.experts[TASK].state_dict().values(),
                    second.experts[TASK].state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert first.expert_dir(task, 1) != directory  # another expert seed, another expert


def test_generate_refuses_when_the_expert_cannot_reach_the_goal(tmp_path):
    backend = TabletopBackend()
    task = backend.task(TASK)
    generator = GaussianPPOGenerator(backend, GaussianPPOGenerator.make_config(TINY),
                                     workdir=tmp_path)
    generator.fit(task, seed=0)
    still = generator.experts[TASK]
    with torch.no_grad():  # a policy that never moves: the drawer stays shut
        still.mean_head.weight.zero_()
        still.mean_head.bias.copy_(-still.action_normalizer.offset.repeat(8)
                                   * still.action_normalizer.scale.repeat(8))
    with pytest.raises(UserError, match="succeeded in 0 of 2 attempts"):
        list(generator.generate(task, 2, seed=0))


def test_unknown_ppo_or_policy_options_are_one_line_errors():
    with pytest.raises(UserError, match="unknown PPO option"):
        DiffusionPPOGenerator.make_config({"ppo": {"n_env": 3}})
    with pytest.raises(UserError, match="unknown policy option"):
        DiffusionPPOGenerator.make_config({"policy": {"horizn": 3}})


def test_a_run_shorter_than_the_recipe_warm_up_falls_back_to_the_default_warm_up():
    from generators.diffusion_ppo import DiffusionPPOGenerator
    from generators.ppo.config import PPOConfig

    recipe_warmup = DiffusionPPOGenerator.recipe["ppo"]["critic_warmup_iterations"]
    assert recipe_warmup > PPOConfig.critic_warmup_iterations
    short = DiffusionPPOGenerator.make_config({"ppo": {"n_iterations": recipe_warmup}})
    assert short.ppo_config().critic_warmup_iterations == PPOConfig.critic_warmup_iterations
    long = DiffusionPPOGenerator.make_config({"ppo": {"n_iterations": recipe_warmup + 1}})
    assert long.ppo_config().critic_warmup_iterations == recipe_warmup
    asked = DiffusionPPOGenerator.make_config(
        {"ppo": {"n_iterations": recipe_warmup, "critic_warmup_iterations": 1}})
    assert asked.ppo_config().critic_warmup_iterations == 1
