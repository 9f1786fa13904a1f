"""The diffusion noise schedule and the denoising step as a Gaussian.

The schedule (cosine betas over the training steps, the DDIM timestep subsets) comes
from diffusers' schedulers. What diffusers does not expose is the step x_k -> x_{k-1}
as a distribution (its mean and standard deviation separately), which the RL phase needs
for a likelihood; :func:`denoising_step_distribution` writes that step out by hand.

Shape legend: B batch, Ta action horizon, Da action dimension, K denoising steps,
T training diffusion steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SAMPLERS = ("ddim", "ddpm")
BETA_SCHEDULE = "squaredcos_cap_v2"  # the cosine schedule of improved DDPM


@dataclass(frozen=True)
class NoiseSchedule:
    """Cumulative signal levels of the forward process.

    ``alphas_cumprod[t]`` (T,) is abar_t: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
    """

    alphas_cumprod: torch.Tensor

    @property
    def train_steps(self) -> int:
        return int(self.alphas_cumprod.shape[0])

    def alpha_bar(self, timesteps: torch.Tensor) -> torch.Tensor:
        """abar at integer ``timesteps``; a negative timestep means "clean" (abar = 1)."""
        clean = torch.ones((), dtype=self.alphas_cumprod.dtype)
        safe = timesteps.clamp(min=0)
        return torch.where(timesteps >= 0, self.alphas_cumprod[safe], clean)

    def denoising_timesteps(self, sampler: str, denoising_steps: int) -> torch.Tensor:
        """Timesteps visited by a sampler, noisiest first, shape (K,).

        ``ddpm`` visits every training step (T-1 ... 0). ``ddim`` visits ``denoising_steps``
        of them with "trailing" spacing, which starts at T-1 so that the pure-noise start
        of sampling matches the noise level the network was trained on.
        """
        if sampler == "ddpm":
            return torch.arange(self.train_steps - 1, -1, -1)
        if sampler != "ddim":
            raise ValueError(f"unknown sampler {sampler!r}; valid choices: {', '.join(SAMPLERS)}")
        from diffusers import DDIMScheduler  # deferred: importing diffusers costs ~1.5 s

        ddim = DDIMScheduler(
            num_train_timesteps=self.train_steps,
            beta_schedule=BETA_SCHEDULE,
            timestep_spacing="trailing",
        )
        ddim.set_timesteps(denoising_steps)
        return ddim.timesteps.to(torch.long)


def cosine_schedule(train_steps: int) -> NoiseSchedule:
    """The DDPM training schedule with cosine betas (diffusers' ``squaredcos_cap_v2``)."""
    from diffusers import DDPMScheduler  # deferred: importing diffusers costs ~1.5 s

    ddpm = DDPMScheduler(num_train_timesteps=train_steps, beta_schedule=BETA_SCHEDULE)
    return NoiseSchedule(alphas_cumprod=ddpm.alphas_cumprod.to(torch.float32).clone())


def predicted_clean_sample(
    x_k: torch.Tensor, eps_hat: torch.Tensor, alpha_bar_k: torch.Tensor
) -> torch.Tensor:
    """x0_hat from the noise prediction: (x_k - sqrt(1 - abar_k) eps_hat) / sqrt(abar_k).

    ``x_k``, ``eps_hat``: (B, Ta, Da); ``alpha_bar_k``: scalar or broadcastable to them.
    """
    return (x_k - (1.0 - alpha_bar_k).sqrt() * eps_hat) / alpha_bar_k.sqrt()


def ddim_sigma(alpha_bar_k: torch.Tensor, alpha_bar_prev: torch.Tensor, eta: float) -> torch.Tensor:
    """DDIM's noise level for the step k -> k-1 (zero when ``eta`` is 0).

    sigma = eta * sqrt((1 - abar_prev) / (1 - abar_k)) * sqrt(1 - abar_k / abar_prev).
    With ``eta`` = 1 over consecutive timesteps this is DDPM's posterior standard deviation.
    """
    ratio = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar_k)
    return eta * (ratio * (1.0 - alpha_bar_k / alpha_bar_prev)).clamp(min=0.0).sqrt()


def denoising_step_distribution(
    x_k: torch.Tensor,
    eps_hat: torch.Tensor,
    alpha_bar_k: torch.Tensor,
    alpha_bar_prev: torch.Tensor,
    *,
    eta: float,
    min_std: float = 0.0,
    clip_denoised: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of x_{k-1} given x_k, shapes (B, Ta, Da) and scalar.

    mean = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps_hat, where x0_hat is
    clipped to [-clip_denoised, clip_denoised] when given (actions live in [-1, 1] after
    normalization) and eps_hat is then re-derived from the clipped x0_hat so that the two
    stay consistent. The step's standard deviation is max(sigma, ``min_std``): the floor
    keeps the per-step likelihood finite and the policy exploring during RL.
    """
    x0_hat = predicted_clean_sample(x_k, eps_hat, alpha_bar_k)
    if clip_denoised is not None:
        x0_hat = x0_hat.clamp(-clip_denoised, clip_denoised)
        eps_hat = (x_k - alpha_bar_k.sqrt() * x0_hat) / (1.0 - alpha_bar_k).sqrt()
    sigma = ddim_sigma(alpha_bar_k, alpha_bar_prev, eta)
    direction = (1.0 - alpha_bar_prev - sigma**2).clamp(min=0.0).sqrt()
    mean = alpha_bar_prev.sqrt() * x0_hat + direction * eps_hat
    std = sigma.clamp(min=min_std)
    return mean, std
