"""Fine-tuning only the last K' denoising steps (DPPO's ft_denoising_steps): the earlier
steps sample from a frozen copy of the cloned networks."""

from __future__ import annotations

import pytest
import torch
from policy_fixtures import state_obs, tiny_config

from diffrl_eval.errors import UserError
from generators.policy.checkpoint import load_checkpoint, save_checkpoint, with_sampling_settings
from generators.policy.diffusion_likelihood import DiffusionChainPolicy
from generators.policy.value import ValueNetwork
from generators.ppo.config import PPOConfig
from generators.ppo.update import RolloutBatch, ppo_update

torch.set_num_threads(1)
STEPS, FINE_TUNED = 5, 2


def chain(policy, obs, *, deterministic=False):
    return policy.act(obs, deterministic=deterministic,
                      generator=torch.Generator().manual_seed(7))


def updated_policy():
    torch.manual_seed(0)
    config = tiny_config(decoder="mlp", denoising_steps=STEPS, ft_denoising_steps=FINE_TUNED)
    policy = DiffusionChainPolicy(config)
    policy.start_fine_tuning()
    obs = state_obs(32, config, seed=1)
    before = chain(policy, obs)
    before_deterministic = chain(policy, obs, deterministic=True)
    value = ValueNetwork(config)
    ppo = PPOConfig(n_envs=1, n_steps=1, n_iterations=2, batch_size=64, update_epochs=3,
                    critic_warmup_iterations=0, target_kl=None, clip_coef=0.5,
                    actor_lr=1e-2)
    batch = RolloutBatch(obs, before.record, before.log_prob, torch.randn(32), torch.zeros(32))
    ppo_update(policy, value, batch, ppo,
               torch.optim.Adam(policy.trainable_parameters(), lr=ppo.actor_lr),
               torch.optim.Adam(value.parameters(), lr=ppo.critic_lr), iteration=0)
    return policy, obs, before, before_deterministic


def test_frozen_denoising_steps_give_bit_identical_outputs_after_an_update():
    policy, obs, before, before_deterministic = updated_policy()
    after = chain(policy, obs)
    frozen = STEPS - FINE_TUNED
    # x_K (the noise) and the outputs of the frozen steps are exactly the same ...
    assert torch.equal(before.record[:, : frozen + 1], after.record[:, : frozen + 1])
    # ... while the fine-tuned steps moved
    assert not torch.equal(before.record[:, frozen + 1 :], after.record[:, frozen + 1 :])
    # the same for the deterministic (eta = 0) chain that generates data
    after_deterministic = chain(policy, obs, deterministic=True)
    assert torch.equal(before_deterministic.record[:, : frozen + 1],
                       after_deterministic.record[:, : frozen + 1])


def test_only_the_fine_tuned_steps_have_log_probabilities_and_gradients():
    policy, obs, before, _ = updated_policy()
    assert before.log_prob.shape == (32, FINE_TUNED, 4, 7)
    log_prob, entropy = policy.log_prob_and_entropy(obs, before.record)
    assert log_prob.shape == (32, FINE_TUNED, 4, 7) and entropy.shape == (32, FINE_TUNED)
    frozen_ids = {id(p) for p in (*policy.base_encoder.parameters(),
                                  *policy.base_decoder.parameters())}
    assert frozen_ids and not frozen_ids & {id(p) for p in policy.trainable_parameters()}


def test_before_fine_tuning_starts_every_step_uses_the_trained_networks():
    torch.manual_seed(0)
    config = tiny_config(decoder="mlp", denoising_steps=STEPS, ft_denoising_steps=FINE_TUNED)
    policy = DiffusionChainPolicy(config)
    reference = DiffusionChainPolicy(tiny_config(decoder="mlp", denoising_steps=STEPS))
    reference.load_state_dict(policy.state_dict(), strict=False)
    obs = state_obs(8, config, seed=2)
    assert torch.equal(chain(policy, obs, deterministic=True).record,
                       chain(reference, obs, deterministic=True).record)


def test_the_frozen_copy_survives_a_checkpoint(tmp_path):
    policy, obs, _, _ = updated_policy()
    save_checkpoint(tmp_path / "p", policy)
    loaded = load_checkpoint(tmp_path / "p", kind="diffusion")
    assert loaded.frozen_steps == STEPS - FINE_TUNED
    assert torch.equal(chain(policy.eval(), obs).record, chain(loaded, obs).record)


@pytest.mark.parametrize("overrides", [
    {"ft_denoising_steps": 6, "denoising_steps": 5},
    {"ft_denoising_steps": 0},
])
def test_fine_tuned_steps_outside_the_chain_are_refused(overrides):
    with pytest.raises(UserError, match="ft_denoising_steps must be in"):
        tiny_config(**overrides)


def test_deterministic_frozen_steps_follow_the_eta_0_chain_and_the_rest_explores():
    torch.manual_seed(0)
    config = tiny_config(decoder="mlp", denoising_steps=STEPS, ft_denoising_steps=FINE_TUNED,
                         frozen_steps_deterministic=True)
    policy = DiffusionChainPolicy(config)
    policy.start_fine_tuning()
    obs = state_obs(16, config, seed=3)
    explored = chain(policy, obs)
    quiet = chain(policy, obs, deterministic=True)
    frozen = STEPS - FINE_TUNED
    # same initial noise, the frozen steps noiseless: the deterministic chain's states
    assert torch.equal(explored.record[:, : frozen + 1], quiet.record[:, : frozen + 1])
    # the fine-tuned steps still sample with the RL noise and are scored
    assert not torch.allclose(explored.record[:, frozen + 1 :], quiet.record[:, frozen + 1 :])
    assert explored.log_prob.shape == (16, FINE_TUNED, 4, 7)
    # without the switch the frozen steps are noisy
    noisy = DiffusionChainPolicy(tiny_config(decoder="mlp", denoising_steps=STEPS,
                                             ft_denoising_steps=FINE_TUNED))
    noisy.load_state_dict(policy.state_dict())
    assert not torch.equal(chain(noisy, obs).record[:, 1], quiet.record[:, 1])


def test_deterministic_frozen_steps_need_frozen_steps():
    with pytest.raises(UserError, match="frozen_steps_deterministic needs ft_denoising_steps"):
        tiny_config(frozen_steps_deterministic=True)


def test_a_cloned_policy_is_rebuilt_with_other_sampling_settings_only():
    torch.manual_seed(0)
    cloned = DiffusionChainPolicy(tiny_config(decoder="mlp", denoising_steps=STEPS))
    wanted = tiny_config(decoder="mlp", denoising_steps=STEPS, ft_denoising_steps=FINE_TUNED,
                         frozen_steps_deterministic=True, min_std=0.05)
    rebuilt = with_sampling_settings(cloned, wanted)
    assert rebuilt.config == wanted and rebuilt.frozen_steps == STEPS - FINE_TUNED
    obs = state_obs(4, wanted, seed=5)
    # the cloned weights, here and in the frozen copy: the same deterministic chunks
    assert torch.equal(chain(rebuilt, obs, deterministic=True).record,
                       chain(cloned, obs, deterministic=True).record)
    with pytest.raises(UserError, match="differs in more than sampling settings: horizon"):
        with_sampling_settings(cloned, tiny_config(decoder="mlp", denoising_steps=STEPS,
                                                   horizon=8))
