"""The per-denoising-step PPO loss against a batch worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from generators.ppo.loss import denoising_discount, ppo_loss


def test_denoising_discount_gives_the_last_step_full_weight():
    assert denoising_discount(3, 0.5).tolist() == [0.25, 0.5, 1.0]


def test_ppo_loss_equals_the_hand_computed_value_on_a_tiny_batch():
    # B = 2 decisions, K = 2 denoising steps, Ta = 1, Da = 2. Old log-probs are 0, so the
    # new log-probs are the element-wise log-ratios; the ratio uses their mean per step.
    new_log_prob = torch.tensor(
        [
            [[[0.1, 0.3]], [[0.0, 0.0]]],  # decision 0: step log-ratios 0.2 and 0
            [[[-0.5, -0.5]], [[0.1, 0.1]]],  # decision 1: step log-ratios -0.5 and 0.1
        ]
    )
    old_log_prob = torch.zeros_like(new_log_prob)
    advantages = torch.tensor([1.0, -2.0])
    out = ppo_loss(
        new_log_prob,
        old_log_prob,
        advantages,
        new_values=torch.tensor([1.0, 0.0]),
        returns=torch.tensor([2.0, 0.5]),
        entropy=torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
        clip_coef=0.2,
        gamma_denoise=0.5,
        vf_coef=0.5,
        ent_coef=0.01,
    )
    # chain weights gamma_denoise^(K-1-k) = [0.5, 1]  ->  A_bk = [[0.5, 1], [-1, -2]]
    # ratios r = [[e^0.2, 1], [e^-0.5, e^0.1]] = [[1.221403, 1], [0.606531, 1.105171]]
    # max(-A r, -A clip(r, 0.8, 1.2)):
    #   (0,0): max(-0.610701, -0.6)     = -0.6
    #   (0,1): max(-1, -1)              = -1
    #   (1,0): max(0.606531, 0.8)       =  0.8
    #   (1,1): max(2.210342, 2.210342)  =  2.210342
    # policy loss = (-0.6 - 1 + 0.8 + 2.210342) / 4 = 0.352585
    # value loss = 0.5 * mean((1-2)^2, (0-0.5)^2) = 0.5 * 0.625 = 0.3125
    # loss = 0.352585 + 0.5 * 0.3125 - 0.01 * mean(1, 2, 3, 4) = 0.352585 + 0.15625 - 0.025
    assert out.policy_loss.item() == pytest.approx(0.3525855, abs=1e-6)
    assert out.value_loss.item() == pytest.approx(0.3125)
    assert out.entropy.item() == pytest.approx(2.5)
    assert out.loss.item() == pytest.approx(0.4838355, abs=1e-6)
    # KL estimate mean((r - 1) - log r) = (0.021403 + 0 + 0.106531 + 0.005171) / 4
    assert out.approx_kl.item() == pytest.approx(0.0332763, abs=1e-6)
    # |r - 1| > 0.2 for (0,0) and (1,0)
    assert out.clip_fraction.item() == pytest.approx(0.5)


def test_ppo_loss_matches_an_independent_per_sample_loop():
    generator = torch.Generator().manual_seed(3)
    batch, steps, horizon, dims = 5, 4, 3, 2
    new = torch.randn(batch, steps, horizon, dims, generator=generator) * 0.1
    old = torch.randn(batch, steps, horizon, dims, generator=generator) * 0.1
    advantages = torch.randn(batch, generator=generator)
    values, returns = (
        torch.randn(batch, generator=generator),
        torch.randn(batch, generator=generator),
    )
    entropy = torch.rand(batch, steps, generator=generator)
    out = ppo_loss(
        new,
        old,
        advantages,
        values,
        returns,
        entropy,
        clip_coef=0.1,
        gamma_denoise=0.9,
        vf_coef=0.7,
        ent_coef=0.05,
    )
    total = 0.0
    for b in range(batch):
        for k in range(steps):
            ratio = math.exp(float((new[b, k] - old[b, k]).mean()))
            advantage = float(advantages[b]) * 0.9 ** (steps - 1 - k)
            clipped = min(max(ratio, 0.9), 1.1)
            total += max(-advantage * ratio, -advantage * clipped)
    expected_policy = total / (batch * steps)
    expected_value = 0.5 * float(((values - returns) ** 2).mean())
    expected = expected_policy + 0.7 * expected_value - 0.05 * float(entropy.mean())
    assert out.policy_loss.item() == pytest.approx(expected_policy, abs=1e-5)
    assert out.loss.item() == pytest.approx(expected, abs=1e-5)


def test_policy_gradient_is_zero_for_steps_clipped_in_the_advantage_direction():
    # ratio e^0.5 > 1.2 with a positive advantage: the clipped branch wins, no gradient
    new = torch.full((1, 1, 1, 1), 0.5, requires_grad=True)
    out = ppo_loss(
        new,
        torch.zeros(1, 1, 1, 1),
        torch.tensor([1.0]),
        torch.zeros(1),
        torch.zeros(1),
        torch.zeros(1, 1),
        clip_coef=0.2,
        gamma_denoise=1.0,
        vf_coef=0.0,
        ent_coef=0.0,
    )
    out.loss.backward()
    assert new.grad.abs().item() == 0.0


def test_masked_elements_do_not_move_the_ratio():
    torch.manual_seed(0)
    old = torch.randn(3, 2, 4, 2)
    new = old + 0.1 * torch.randn(3, 2, 4, 2)
    mask = torch.zeros(4, 2, dtype=torch.bool)
    mask[:2, 0] = True  # two executed steps of the first dimension
    changed = new.clone()
    changed[:, :, 2:, :] += 5.0  # unexecuted steps
    changed[:, :, :, 1] -= 3.0  # a constant dimension
    kwargs = dict(advantages=torch.tensor([1.0, -0.5, 0.2]), new_values=torch.zeros(3),
                  returns=torch.zeros(3), entropy=torch.zeros(3, 2), clip_coef=0.2,
                  gamma_denoise=0.9, vf_coef=0.5, ent_coef=0.0, element_mask=mask)
    first = ppo_loss(new, old, **kwargs)
    second = ppo_loss(changed, old, **kwargs)
    torch.testing.assert_close(first.loss, second.loss)
    # and the masked mean is the mean over the two kept elements, by hand
    expected_log_ratio = (new - old)[:, :, :2, 0].mean(-1)  # (B, K)
    ratio = expected_log_ratio.exp()
    weights = torch.tensor([0.9, 1.0])
    step_advantages = kwargs["advantages"][:, None] * weights
    by_hand = torch.maximum(-step_advantages * ratio,
                            -step_advantages * ratio.clamp(0.8, 1.2)).mean()
    torch.testing.assert_close(first.policy_loss, by_hand)


def test_denoising_clip_grows_from_the_base_at_the_noisiest_step_to_the_clip_at_the_last():
    from generators.ppo.loss import denoising_clip

    # K = 3, base 0.001, clip 0.01, rate 3: t = 0, 0.5, 1;
    # (e^(3t) - 1) / (e^3 - 1) = 0, 3.481689 / 19.085537 = 0.182426, 1
    clip = denoising_clip(3, 0.01, 0.001, 3.0)
    assert clip.tolist() == pytest.approx([0.001, 0.001 + 0.009 * 0.182426, 0.01], abs=1e-7)
    assert denoising_clip(3, 0.01, None, 3.0).tolist() == pytest.approx([0.01] * 3)
    assert denoising_clip(1, 0.01, 0.001, 3.0).tolist() == pytest.approx([0.01])


def test_a_per_step_clip_bounds_each_step_by_its_own_coefficient():
    # B = 1, K = 2, Ta = Da = 1: both steps have log-ratio 0.1 (r = 1.105171), A = 1,
    # gamma_denoise = 1. Clip 0.05 at step 0 and 0.2 at step 1:
    # step 0: max(-1.105171, -1.05) = -1.05 (clipped); step 1: -1.105171 (inside)
    new_log_prob = torch.full((1, 2, 1, 1), 0.1)
    out = ppo_loss(new_log_prob, torch.zeros_like(new_log_prob), torch.tensor([1.0]),
                   new_values=torch.zeros(1), returns=torch.zeros(1),
                   entropy=torch.zeros(1, 2), clip_coef=torch.tensor([0.05, 0.2]),
                   gamma_denoise=1.0, vf_coef=0.5, ent_coef=0.0)
    assert out.policy_loss.item() == pytest.approx((-1.05 - 1.1051709) / 2, abs=1e-6)
    assert out.clip_fraction.item() == pytest.approx(0.5)
