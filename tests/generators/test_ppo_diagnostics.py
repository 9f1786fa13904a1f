"""PPO diagnostics: the KL per chunk element, clip fraction per denoising step, the
critic's explained variance and the gradient agreement of two half-batches."""

from __future__ import annotations

import math

import pytest
import torch
from policy_fixtures import state_obs, tiny_config

from generators.policy.diffusion_likelihood import DiffusionChainPolicy
from generators.ppo.config import PPOConfig
from generators.ppo.loss import ppo_loss
from generators.ppo.trainer import explained_variance
from generators.ppo.update import RolloutBatch, policy_gradient

torch.set_num_threads(1)


def loss_for(new, old, *, clip_coef=0.2, mask=None):
    batch, steps = new.shape[:2]
    return ppo_loss(new, old, torch.ones(batch), torch.zeros(batch), torch.zeros(batch),
                    torch.zeros(batch, steps), clip_coef=clip_coef, gamma_denoise=1.0,
                    vf_coef=0.5, ent_coef=0.0, element_mask=mask)


def test_element_kl_is_the_mean_of_each_elements_own_kl_estimate():
    # two elements moved by +0.1 and -0.1 nats: the chunk's mean log-ratio is 0, so the
    # chunk-level estimate sees no change at all, while each element moved
    old = torch.zeros(1, 1, 1, 2)
    new = torch.tensor([0.1, -0.1]).reshape(1, 1, 1, 2)
    out = loss_for(new, old)
    # (e^0.1 - 1 - 0.1 + e^-0.1 - 1 + 0.1) / 2, worked by hand
    assert float(out.element_kl) == pytest.approx(0.0050041681, abs=1e-8)
    assert float(out.approx_kl) == pytest.approx(0.0, abs=1e-9)


def test_element_kl_counts_only_the_scored_elements():
    old = torch.zeros(1, 1, 2, 1)
    new = torch.tensor([0.2, 5.0]).reshape(1, 1, 2, 1)
    mask = torch.tensor([[True], [False]])  # the second step is not executed
    out = loss_for(new, old, mask=mask)
    assert float(out.element_kl) == pytest.approx(math.exp(0.2) - 1.2, abs=1e-7)


def test_clip_fraction_is_reported_per_denoising_step():
    # K = 2, B = 2: step 0 ratios e^0 and e^0.5 (one outside 0.2), step 1 both outside
    old = torch.zeros(2, 2, 1, 1)
    new = torch.tensor([[0.0, 0.5], [0.5, -0.5]]).reshape(2, 2, 1, 1)
    out = loss_for(new, old)
    assert out.clip_fraction_per_step.tolist() == [0.5, 1.0]
    assert float(out.clip_fraction) == 0.75


def test_explained_variance_is_one_for_a_perfect_critic_and_zero_for_the_mean():
    returns = torch.tensor([1.0, 2.0, 4.0, 7.0])
    assert explained_variance(returns.clone(), returns) == pytest.approx(1.0)
    assert explained_variance(torch.full_like(returns, float(returns.mean())),
                              returns) == pytest.approx(0.0)


def test_half_batch_policy_gradient_is_the_surrogates_gradient_at_the_rollout_policy():
    torch.manual_seed(0)
    config = tiny_config(decoder="mlp")
    policy = DiffusionChainPolicy(config)
    obs = state_obs(12, config, seed=3)
    step = policy.act(obs, generator=torch.Generator().manual_seed(1))
    advantages = torch.linspace(-1.0, 1.0, 12)
    batch = RolloutBatch(obs, step.record, step.log_prob, advantages, torch.zeros(12))
    ppo = PPOConfig(batch_size=25, gamma_denoise=0.9)  # minibatches of 5 decisions
    parameters = policy.trainable_parameters()
    accumulated = policy_gradient(policy, batch, ppo, parameters)
    # independent: autograd of the clipped surrogate over the whole batch at once
    new_log_prob, entropy = policy.log_prob_and_entropy(obs, step.record)
    out = ppo_loss(new_log_prob, step.log_prob, advantages, torch.zeros(12),
                   torch.zeros(12), entropy, clip_coef=0.01, gamma_denoise=0.9,
                   vf_coef=0.0, ent_coef=0.0, element_mask=policy.likelihood_mask())
    # with vf_coef = ent_coef = 0 the total loss is the clipped surrogate alone
    grads = torch.autograd.grad(out.loss, parameters, allow_unused=True)
    direct = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                        for g, p in zip(grads, parameters)])
    assert torch.allclose(accumulated, direct, atol=1e-6), (accumulated - direct).abs().max()
    assert accumulated.abs().sum() > 0

