"""Per-denoising-step likelihoods of the diffusion policy, and the Gaussian head's."""

from __future__ import annotations

import math

import pytest
import torch
from policy_fixtures import state_obs, tiny_config

from generators.policy.diffusion_likelihood import DiffusionChainPolicy
from generators.policy.gaussian_head import GaussianPolicy

torch.set_num_threads(1)


def closed_form_log_density(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)


def test_ddim_step_log_prob_matches_the_closed_form_gaussian():
    torch.manual_seed(0)
    policy = DiffusionChainPolicy(tiny_config(rl_eta=0.5, min_std=0.05))
    obs = state_obs(3, policy.config)
    step = policy.act(obs, generator=torch.Generator().manual_seed(1))
    cond = policy.encoder(obs)
    abar = policy.alphas_cumprod
    timesteps = [99, 79, 59, 39, 19]
    with torch.no_grad():
        for k, t in enumerate(timesteps):
            x_k, x_prev = step.record[:, k], step.record[:, k + 1]
            abar_k = abar[t]
            abar_prev = abar[timesteps[k + 1]] if k + 1 < len(timesteps) else torch.tensor(1.0)
            eps = policy.decoder(x_k, torch.full((3,), t), cond)
            x0 = ((x_k - (1 - abar_k).sqrt() * eps) / abar_k.sqrt()).clamp(-1, 1)
            eps = (x_k - abar_k.sqrt() * x0) / (1 - abar_k).sqrt()
            sigma = 0.5 * math.sqrt((1 - abar_prev) / (1 - abar_k) * (1 - abar_k / abar_prev))
            mean = abar_prev.sqrt() * x0 + (1 - abar_prev - sigma**2).sqrt() * eps
            std = max(sigma, 0.05)
            expected = closed_form_log_density(x_prev, mean, std)
            torch.testing.assert_close(step.log_prob[:, k], expected, atol=1e-4, rtol=1e-4)


def test_rescoring_a_recorded_chain_reproduces_its_sampling_log_probs_with_gradients():
    torch.manual_seed(0)
    policy = DiffusionChainPolicy(tiny_config())
    obs = state_obs(4, policy.config)
    step = policy.act(obs, generator=torch.Generator().manual_seed(2))
    log_prob, entropy = policy.log_prob_and_entropy(obs, step.record)
    assert step.record.shape == (4, 6, 4, 7) and log_prob.shape == (4, 5, 4, 7)
    torch.testing.assert_close(log_prob, step.log_prob, atol=1e-4, rtol=1e-4)
    assert entropy.shape == (4, 5)
    log_prob.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.decoder.parameters())


def test_last_denoising_step_has_exactly_the_min_std_floor_as_its_noise():
    policy = DiffusionChainPolicy(tiny_config(min_std=0.1))
    obs = state_obs(2, policy.config)
    step = policy.act(obs, generator=torch.Generator().manual_seed(0))
    # DDIM's sigma for the step to the clean sample is 0, so only the floor remains: the
    # entropy is that of N(., 0.1^2)
    _, entropy = policy.log_prob_and_entropy(obs, step.record)
    expected = 0.5 * math.log(2 * math.pi * math.e) + math.log(0.1)
    assert entropy[:, -1].tolist() == pytest.approx([expected, expected], abs=1e-5)


def test_eta_zero_sampling_is_deterministic():
    torch.manual_seed(0)
    policy = DiffusionChainPolicy(tiny_config())
    obs = state_obs(3, policy.config)
    first = policy.act(obs, deterministic=True, generator=torch.Generator().manual_seed(5))
    second = policy.act(obs, deterministic=True, generator=torch.Generator().manual_seed(5))
    assert first.log_prob is None
    assert torch.equal(first.action_chunk, second.action_chunk)
    # each recorded step is exactly the step's mean: no noise after the initial x_K
    cond = policy.encoder(obs)
    timesteps, prev = policy.chain_timesteps()
    with torch.no_grad():
        for k in range(len(timesteps)):
            mean, _ = policy.step_distribution(
                first.record[:, k],
                timesteps[k].expand(3),
                prev[k].expand(3),
                cond,
                eta=0.0,
                min_std=0.0,
            )
            torch.testing.assert_close(first.record[:, k + 1], mean)
    sampled = policy.sample(obs, eta=0.0, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(sampled, first.action_chunk)


def test_stochastic_sampling_differs_between_draws():
    policy = DiffusionChainPolicy(tiny_config())
    obs = state_obs(3, policy.config)
    first = policy.act(obs, generator=torch.Generator().manual_seed(5))
    second = policy.act(obs, generator=torch.Generator().manual_seed(6))
    assert not torch.allclose(first.action_chunk, second.action_chunk)


def test_ddpm_sampler_makes_every_training_step_a_decision():
    policy = DiffusionChainPolicy(tiny_config(sampler="ddpm"))
    obs = state_obs(2, policy.config)
    step = policy.act(obs, generator=torch.Generator().manual_seed(0))
    assert step.record.shape[1] == 101 and step.log_prob.shape[1] == 100
    torch.testing.assert_close(
        policy.log_prob_and_entropy(obs, step.record)[0], step.log_prob, atol=1e-4, rtol=1e-4
    )


def test_gaussian_head_log_prob_is_normal_with_its_std_clamped_to_the_configured_range():
    policy = GaussianPolicy(tiny_config(min_std=0.1, max_std=1.0, init_std=0.5))
    obs = state_obs(3, policy.config)
    step = policy.act(obs, generator=torch.Generator().manual_seed(0))
    dist = policy.distribution(obs)
    expected = closed_form_log_density(step.record, dist.mean, 0.5)
    torch.testing.assert_close(step.log_prob[:, 0], expected, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        policy.log_std.fill_(math.log(1e-3))
    assert policy.std().tolist() == pytest.approx([0.1] * 7)
    with torch.no_grad():
        policy.log_std.fill_(math.log(10.0))
    assert policy.std().tolist() == pytest.approx([1.0] * 7)


def test_executed_actions_are_the_first_te_steps_of_the_chunk_within_the_action_range():
    policy = DiffusionChainPolicy(tiny_config())
    obs = state_obs(2, policy.config)
    actions = policy.predict_action(obs, generator=torch.Generator().manual_seed(0))
    assert actions.shape == (2, 2, 7)
    assert actions.abs().max() <= 1.0  # unfitted normalizer: identity on [-1, 1]
