"""The RL expert's configuration: typed sections, named presets, overrides from the
command line, and a serialized form that keeps finding the experts trained before."""

from __future__ import annotations

import json

import pytest
from conftest import assert_one_line_error, run_cli

from diffrl_eval.envs.tabletop import TabletopBackend
from diffrl_eval.errors import UserError
from generators.diffusion_ppo import DiffusionPPOGenerator
from generators.expert.settings import PolicySettings, PPOSettings
from generators.expert_commands import expert_overrides
from generators.gaussian_ppo import GaussianPPOGenerator
from generators.policy.config import PolicyConfig
from generators.ppo.config import PPOConfig

TASK = "goal_open_drawer"


def test_a_section_reads_the_value_in_force_given_or_default():
    config = DiffusionPPOGenerator.make_config({"ppo": {"n_envs": 7}})
    assert config.ppo.n_envs == 7  # the user's
    assert config.ppo.n_iterations == 60  # the preset's
    assert config.ppo.gamma == PPOConfig.gamma  # PPOConfig's default
    assert config.policy.decoder == "mlp"  # the preset's
    assert config.policy.n_obs_steps == PolicyConfig.n_obs_steps  # PolicyConfig's default
    assert config.ppo_config() == PPOConfig(**{**DiffusionPPOGenerator.recipe["ppo"],
                                               "n_envs": 7})
    with pytest.raises(AttributeError, match="no setting 'n_env'"):
        _ = config.ppo.n_env


def test_the_heads_start_from_their_named_recipe_preset():
    for cls in (DiffusionPPOGenerator, GaussianPPOGenerator):
        assert cls.make_config(preset="recipe") == cls.make_config()
        assert dict(cls.presets["recipe"].ppo) == dict(cls.recipe["ppo"])
        with pytest.raises(UserError, match="unknown .* preset 'fast'; valid choices: recipe"):
            cls.make_config(preset="fast")
    assert GaussianPPOGenerator.make_config().policy.max_std == 0.2
    assert DiffusionPPOGenerator.make_config().chunk_join == "warm-start"


def test_the_serialized_settings_keep_the_layout_the_expert_cache_is_keyed_by():
    """Only the values a preset or the user gave are recorded, in the layout the expert
    cache has always been keyed by: each expert's key is the digest of the values it was
    given (a changed layout would silently retrain every cached expert). The pins move only
    when a preset's values do (last: the diffusion recipe's whole chunk executed,
    ``horizon=8 action_steps=8``)."""
    backend = TabletopBackend()
    generator = DiffusionPPOGenerator(backend)
    settings = generator.config.training_settings()
    assert settings["ppo"] == {
        "actor_lr": 1e-4, "lr_schedule": "constant", "update_epochs": 10, "n_envs": 400,
        "n_steps": 28, "batch_size": 7500, "n_iterations": 60,
        "critic_warmup_iterations": 3, "clip_coef": 0.01, "clip_coef_base": 0.001,
        "reward_mode": "success_hold", "reward_scaling": True, "train_starts": "sampled",
        "update_threads": 2}
    assert settings["policy"] == {"decoder": "mlp", "rl_eta": 1.0, "min_std": 0.1,
                                  "horizon": 8, "action_steps": 8, "ft_denoising_steps": 4,
                                  "frozen_steps_deterministic": True,
                                  "obs_min_range": 0.05, "obs_clip": 5.0, "noise_clip": 3.0}
    assert json.loads(json.dumps(generator.config_dict()))["ppo"] == settings["ppo"]
    assert generator.expert_dir(backend.task(TASK), 0).name == "055d0fced9ddb0a1"
    quick = DiffusionPPOGenerator(
        backend, DiffusionPPOGenerator.make_config(DiffusionPPOGenerator.preset_options("quick")))
    assert quick.expert_dir(backend.task(TASK), 0).name == "32faaf05e4210e85"
    given = DiffusionPPOGenerator.make_config({"ppo": {"gamma": PPOConfig.gamma}})
    assert "gamma" in given.training_settings()["ppo"]  # given, even if equal to default


def test_ppo_and_policy_flags_write_the_same_settings_as_option():
    by_flag = expert_overrides(None, ppo_options=["n_steps=3", "target_kl=null"],
                               policy_options=["mlp_hidden=[16]"])
    by_option = expert_overrides(["ppo.n_steps=3", "ppo.target_kl=null",
                                  "policy.mlp_hidden=[16]"])
    assert by_flag == by_option == {"ppo": {"n_steps": 3, "target_kl": None},
                                    "policy": {"mlp_hidden": [16]}}
    config = GaussianPPOGenerator.make_config(by_flag)
    assert config.ppo.target_kl is None and config.policy.mlp_hidden == [16]


def test_reward_and_generation_sections_read_and_write_the_fields_that_store_them():
    config = DiffusionPPOGenerator.make_config(
        {"reward": {"success_hold_steps": 8}, "generation": {"max_attempts_factor": 7}})
    assert config.reward.reward_mode == "success_hold"  # the recipe's, stored in ppo
    assert config.reward.success_hold_steps == 8 == config.ppo.success_hold_steps
    assert config.generation.max_attempts_factor == 7 == config.max_attempts_factor
    assert config.generation.chunk_join == "warm-start"
    by_option = expert_overrides(["reward.reward_scaling=false", "generation.chunk_join=none"])
    assert by_option == {"ppo": {"reward_scaling": False}, "chunk_join": "none"}
    # the sections are views: the serialized layout (and so the expert cache key) is unchanged
    plain = DiffusionPPOGenerator.make_config({"ppo": {"success_hold_steps": 8},
                                               "max_attempts_factor": 7})
    assert config.training_settings() == plain.training_settings()
    with pytest.raises(UserError, match="unknown reward option 'gamma'; valid options: "
                                        "reward_mode, success_hold_steps, reward_scaling"):
        DiffusionPPOGenerator.make_config({"reward": {"gamma": 0.9}})


def test_sections_refuse_unknown_keys_and_bad_types_naming_the_valid_ones():
    with pytest.raises(UserError, match="unknown PPO option.*n_env; valid options: n_envs"):
        PPOSettings(n_env=3)
    with pytest.raises(UserError, match="policy option: horizon must be an integer"):
        PolicySettings(horizon="long")
    with pytest.raises(UserError, match="ppo must be an object of PPO settings"):
        DiffusionPPOGenerator.make_config({"ppo": 5})


@pytest.mark.parametrize("flags, fragment", [
    (["--ppo", "n_env=3"], "unknown PPO option(s): n_env; valid options: n_envs"),
    (["--ppo", "reward_mode=dense"], "reward_mode must be one of success_once, success_hold"),
    (["--policy", "decoder=transformer"], "decoder must be one of unet, mlp"),
    (["--ppo", "n_iterations=many"], "n_iterations must be an integer"),
    (["--ppo", "n_steps"], "--ppo expects KEY=VALUE"),
    (["--policy", "ppo.n_steps=3"], "--policy expects KEY=VALUE"),
    (["--option", "ppo=5"], "ppo must be an object of PPO settings"),
    (["--option", "reward.mode=dense"], "unknown reward option 'mode'; valid options"),
    (["--option", "generation.workers=2"], "unknown generation option 'workers'"),
])
@pytest.mark.parametrize("command", ["train-expert", "ablate"])
def test_a_bad_section_flag_is_one_line_exit_2_and_writes_nothing(command, flags, fragment,
                                                                  tmp_path, capsys):
    code, _, err = run_cli([command, "--task", TASK, "--out", tmp_path / "out", *flags],
                           capsys)
    assert_one_line_error(code, err, fragment)
    assert list(tmp_path.iterdir()) == []
