"""The noise schedule and the denoising step against closed forms and diffusers' step."""

from __future__ import annotations

import math

import pytest
import torch
from diffusers import DDIMScheduler

from diffrl_eval.diffusion.noise_schedule import (
    BETA_SCHEDULE,
    cosine_schedule,
    ddim_sigma,
    denoising_step_distribution,
)

torch.set_num_threads(1)


def test_training_schedule_is_the_cosine_closed_form_with_betas_capped_at_0_999():
    steps, offset = 100, 0.008

    def f(t: float) -> float:
        return math.cos((t / steps + offset) / (1 + offset) * math.pi / 2) ** 2

    alpha_bar, expected = 1.0, []
    for t in range(steps):
        beta = min(1 - f(t + 1) / f(t), 0.999)
        alpha_bar *= 1 - beta
        expected.append(alpha_bar)
    got = cosine_schedule(steps).alphas_cumprod
    assert got.tolist() == pytest.approx(expected, rel=1e-4, abs=1e-9)


def test_ddim_visits_five_timesteps_starting_from_the_noisiest_and_ddpm_visits_all():
    schedule = cosine_schedule(100)
    assert schedule.denoising_timesteps("ddim", 5).tolist() == [99, 79, 59, 39, 19]
    assert schedule.denoising_timesteps("ddpm", 5).tolist() == list(range(99, -1, -1))


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_step_mean_equals_diffusers_ddim_step_without_noise(eta):
    generator = torch.Generator().manual_seed(0)
    x_k = torch.randn(3, 4, 2, generator=generator)
    eps_hat = torch.randn(3, 4, 2, generator=generator)
    schedule = cosine_schedule(100)
    reference = DDIMScheduler(
        num_train_timesteps=100,
        beta_schedule=BETA_SCHEDULE,
        timestep_spacing="trailing",
        clip_sample=True,
        clip_sample_range=1.0,
    )
    reference.set_timesteps(5)
    for t, prev in [(79, 59), (19, -1)]:
        expected = reference.step(
            eps_hat,
            t,
            x_k,
            eta=eta,
            use_clipped_model_output=True,
            variance_noise=torch.zeros_like(x_k),
        ).prev_sample
        mean, _ = denoising_step_distribution(
            x_k,
            eps_hat,
            schedule.alpha_bar(torch.tensor(t)),
            schedule.alpha_bar(torch.tensor(prev)),
            eta=eta,
            clip_denoised=1.0,
        )
        torch.testing.assert_close(mean, expected, atol=1e-5, rtol=1e-5)


def test_eta_one_on_consecutive_steps_is_the_ddpm_posterior():
    schedule = cosine_schedule(100)
    abar = schedule.alphas_cumprod.double()
    t = 40
    beta = 1 - abar[t] / abar[t - 1]
    x_k = torch.randn(2, 4, 3, dtype=torch.float64)
    eps_hat = torch.randn(2, 4, 3, dtype=torch.float64)
    x0 = (x_k - (1 - abar[t]).sqrt() * eps_hat) / abar[t].sqrt()
    # q(x_{t-1} | x_t, x_0): mean = c0 x0 + ct x_t, variance = (1 - abar_{t-1}) / (1 - abar_t) beta_t
    c0 = abar[t - 1].sqrt() * beta / (1 - abar[t])
    ct = (1 - beta).sqrt() * (1 - abar[t - 1]) / (1 - abar[t])
    variance = (1 - abar[t - 1]) / (1 - abar[t]) * beta
    mean, std = denoising_step_distribution(x_k, eps_hat, abar[t], abar[t - 1], eta=1.0)
    torch.testing.assert_close(mean, c0 * x0 + ct * x_k)
    assert std.item() == pytest.approx(variance.sqrt().item())


def test_min_std_floors_the_step_noise_and_eta_zero_has_none_without_it():
    abar_k, abar_prev = torch.tensor(0.3), torch.tensor(0.6)
    assert ddim_sigma(abar_k, abar_prev, 0.0).item() == 0.0
    x = torch.zeros(1, 2, 2)
    _, std = denoising_step_distribution(x, x, abar_k, abar_prev, eta=0.0, min_std=0.1)
    assert std.item() == pytest.approx(0.1)
    _, std = denoising_step_distribution(x, x, abar_k, abar_prev, eta=1.0, min_std=0.1)
    assert std.item() == pytest.approx(ddim_sigma(abar_k, abar_prev, 1.0).item()) and std > 0.1
