"""The diffusion policy: epsilon-prediction training and DDPM / DDIM sampling.

:class:`DiffusionModel` owns the observation encoder, the noise-prediction decoder (1-D
U-Net or MLP), the action normalizer and the noise schedule. Behaviour cloning minimizes
the epsilon-prediction loss under the DDPM training schedule; sampling runs either every
training step (DDPM) or a few DDIM steps. The RL layer on top of it
(:mod:`generators.policy.diffusion_likelihood`) adds chain recording and likelihoods.

Shape legend: B batch, To observation steps, Ta action horizon, Te executed steps,
Da action dim, K denoising steps, T training diffusion steps.
Observation dictionaries hold ``state`` (B, To, Dp) and, depending on the encoder, camera
images (B, To, H, W, 3) uint8 or low-dim state (B, To, *).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from diffrl_eval.diffusion.noise_schedule import cosine_schedule, denoising_step_distribution
from generators.policy.config import PolicyConfig
from generators.policy.device import random_integers, standard_normal
from generators.policy.encoders import ObservationEncoder
from generators.policy.mlp_decoder import MLPDecoder
from generators.policy.normalizer import (
    RangeNormalizer,
    chunk_to_action,
    executed_element_mask,
)
from generators.policy.unet1d import ConditionalUNet1D

Observation = dict[str, torch.Tensor]


class DiffusionModel(nn.Module):
    """Conditional diffusion over a normalized action chunk (B, Ta, Da)."""

    kind = "diffusion"

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ObservationEncoder(config)
        self.action_normalizer = RangeNormalizer(config.action_dim)
        decoder_cls = ConditionalUNet1D if config.decoder == "unet" else MLPDecoder
        self.decoder = decoder_cls(config, self.encoder.output_dim)
        schedule = cosine_schedule(config.train_denoising_steps)
        # derived from the config, so not part of the saved weights
        self.register_buffer("alphas_cumprod", schedule.alphas_cumprod, persistent=False)
        self.schedule = schedule

    # --- data --------------------------------------------------------------------------
    def fit_normalizers(self, obs: Observation, action_chunks: torch.Tensor) -> None:
        """Fit action and observation normalizers to demonstrations; chunks (N, Ta, Da)."""
        self.action_normalizer.fit(action_chunks)
        self.encoder.fit_normalizers(obs)

    def alpha_bar(self, timesteps: torch.Tensor) -> torch.Tensor:
        """abar_t for timesteps (...,) (negative = clean, abar = 1), shaped (..., 1, 1)."""
        clean = torch.ones((), dtype=self.alphas_cumprod.dtype, device=timesteps.device)
        values = torch.where(timesteps >= 0, self.alphas_cumprod[timesteps.clamp(min=0)], clean)
        return values[..., None, None]

    # --- behaviour cloning --------------------------------------------------------------
    def compute_loss(
        self,
        obs: Observation,
        action_chunks: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Epsilon-prediction loss: E_{t, eps} ||eps - eps_theta(x_t, t, obs)||^2.

        ``action_chunks`` (B, Ta, Da) in data units. Returns a scalar.
        """
        x0 = self.action_normalizer.normalize(action_chunks)
        batch = x0.shape[0]
        timesteps = random_integers(self.config.train_denoising_steps, (batch,), generator,
                                    x0.device)
        noise = standard_normal(x0.shape, generator, x0.device)
        alpha_bar = self.alpha_bar(timesteps)
        noisy = alpha_bar.sqrt() * x0 + (1.0 - alpha_bar).sqrt() * noise
        eps_hat = self.decoder(noisy, timesteps, self.encoder(obs))
        return F.mse_loss(eps_hat, noise)

    # --- sampling ------------------------------------------------------------------------
    def denoising_timesteps(self, sampler: str | None = None, denoising_steps: int | None = None):
        """Timesteps a sampler visits, noisiest first: (K,)."""
        return self.schedule.denoising_timesteps(
            sampler or self.config.sampler, denoising_steps or self.config.denoising_steps
        )

    def step_distribution(
        self,
        x_k: torch.Tensor,
        timesteps: torch.Tensor,
        prev_timesteps: torch.Tensor,
        cond: torch.Tensor,
        *,
        eta: float,
        min_std: float,
        decoder: nn.Module | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gaussian of x_{k-1} given x_k: mean (B, Ta, Da), std (B, 1, 1).

        ``timesteps``/``prev_timesteps`` (B,) (prev = -1 for the last step), ``cond`` (B, Dc);
        ``decoder`` the noise predictor to use (default: the trained one).
        """
        eps_hat = (decoder or self.decoder)(x_k, timesteps, cond)
        return denoising_step_distribution(
            x_k,
            eps_hat,
            self.alpha_bar(timesteps),
            self.alpha_bar(prev_timesteps),
            eta=eta,
            min_std=min_std,
            clip_denoised=self.config.clip_denoised,
        )

    @torch.no_grad()
    def sample(
        self,
        obs: Observation,
        *,
        sampler: str | None = None,
        denoising_steps: int | None = None,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Sample action chunks (B, Ta, Da) in data units.

        ``sampler="ddim"`` with ``eta=0`` is deterministic given the initial noise (used for
        evaluation and data generation). ``sampler="ddpm"`` runs all T steps with DDPM's
        posterior noise (DDIM with eta = 1 on consecutive steps); ``eta`` is then ignored.
        """
        sampler = sampler or self.config.sampler
        if sampler == "ddpm":
            eta = 1.0
        timesteps = self.denoising_timesteps(sampler, denoising_steps).to(
            self.alphas_cumprod.device
        )
        networks = self.step_networks(obs, len(timesteps))
        x = self.initial_noise(networks[0][0].shape[0], generator)
        for k, t in enumerate(timesteps):
            prev = (timesteps[k + 1] if k + 1 < len(timesteps)
                    else torch.tensor(-1, device=timesteps.device))
            cond, decoder = networks[k]
            mean, std = self.step_distribution(
                x, t.expand(x.shape[0]), prev.expand(x.shape[0]), cond, eta=eta, min_std=0.0,
                decoder=decoder,
            )
            x = mean + std * standard_normal(x.shape, generator, x.device)
        return self.to_action(x)

    def step_networks(self, obs: Observation, steps: int
                      ) -> list[tuple[torch.Tensor, nn.Module]]:
        """(conditioning (B, Dc), decoder) for each of ``steps`` denoising steps, noisiest
        first: here the trained encoder and decoder for all of them."""
        return [(self.encoder(obs), self.decoder)] * steps

    def initial_noise(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """x_K ~ N(0, I): (B, Ta, Da)."""
        shape = (batch, self.config.horizon, self.config.action_dim)
        return standard_normal(shape, generator, self.alphas_cumprod.device)

    def likelihood_mask(self) -> torch.Tensor:
        """(Ta, Da) bool: the elements PPO scores (executed steps, non-constant dims)."""
        return executed_element_mask(self.action_normalizer, self.config.horizon,
                                     self.config.action_steps)

    def to_action(self, x0: torch.Tensor) -> torch.Tensor:
        """Normalized chunk (B, Ta, Da) -> executable actions in data units."""
        return chunk_to_action(self.action_normalizer, x0,
                               binarize_gripper=self.config.binarize_gripper)

    def predict_action(
        self, obs: Observation, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Deterministic DDIM (eta = 0) chunk, executed part only: (B, Te, Da)."""
        chunk = self.sample(obs, sampler="ddim", eta=0.0, generator=generator)
        return chunk[:, : self.config.action_steps]
