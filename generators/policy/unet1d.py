"""A 1-D conditional U-Net over the action chunk, conditioned through FiLM.

Convolutions run along the chunk's time axis (Ta) with the action dimensions as channels.
Every residual block receives the conditioning vector (diffusion-step embedding,
observation features, proprioception) and turns it into a per-channel scale and bias
(FiLM) applied between its two convolutions.

Shape legend: B batch, Ta action horizon, Da action dim, C channels, Dc conditioning dim.
"""

from __future__ import annotations

import torch
from torch import nn

from diffrl_eval.diffusion.step_embedding import StepEmbedding
from generators.policy.config import PolicyConfig


class ConvNormMish(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, groups: int) -> None:
        super().__init__(
            nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
            nn.GroupNorm(groups, out_channels),
            nn.Mish(),
        )


class FiLMResidualBlock(nn.Module):
    """(B, C_in, L), (B, Dc) -> (B, C_out, L): conv, FiLM(cond), conv, plus a skip."""

    def __init__(
        self, in_channels: int, out_channels: int, cond_dim: int, kernel_size: int, groups: int
    ) -> None:
        super().__init__()
        self.first = ConvNormMish(in_channels, out_channels, kernel_size, groups)
        self.second = ConvNormMish(out_channels, out_channels, kernel_size, groups)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * out_channels))
        self.skip = (
            nn.Conv1d(in_channels, out_channels, 1)
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.first(x)
        scale, bias = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        h = self.second(scale * h + bias)
        return h + self.skip(x)


class ConditionalUNet1D(nn.Module):
    """Noise prediction eps_theta(x_k, k, cond) with a U-Net over the chunk."""

    def __init__(self, config: PolicyConfig, cond_dim: int) -> None:
        super().__init__()
        channels = config.unet_channels
        kernel, groups = config.unet_kernel_size, config.group_norm_groups
        self.step_embedding = StepEmbedding(config.step_embed_dim)
        film_dim = config.step_embed_dim + cond_dim

        def block(cin: int, cout: int) -> FiLMResidualBlock:
            return FiLMResidualBlock(cin, cout, film_dim, kernel, groups)

        self.down = nn.ModuleList()
        previous = config.action_dim
        for level, width in enumerate(channels):
            last = level == len(channels) - 1
            self.down.append(
                nn.ModuleList(
                    [
                        block(previous, width),
                        block(width, width),
                        nn.Identity() if last else nn.Conv1d(width, width, 3, stride=2, padding=1),
                    ]
                )
            )
            previous = width
        self.middle = nn.ModuleList([block(previous, previous), block(previous, previous)])
        # Up stages, deepest first: upsample to the next finer level, concatenate that level's
        # skip connection, then two FiLM blocks.
        self.up = nn.ModuleList()
        for level in range(len(channels) - 2, -1, -1):
            coarse, fine = channels[level + 1], channels[level]
            self.up.append(
                nn.ModuleList(
                    [
                        nn.ConvTranspose1d(coarse, coarse, 4, stride=2, padding=1),
                        block(coarse + fine, fine),
                        block(fine, fine),
                    ]
                )
            )
        self.head = nn.Sequential(
            ConvNormMish(channels[0], channels[0], kernel, groups),
            nn.Conv1d(channels[0], config.action_dim, 1),
        )

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``x`` (B, Ta, Da), ``timesteps`` (B,) int, ``cond`` (B, Dc) -> eps_hat (B, Ta, Da)."""
        film = torch.cat([self.step_embedding(timesteps), cond], -1)
        h = x.transpose(1, 2)  # (B, Da, Ta): actions as channels, time as length
        skips = []
        for first, second, downsample in self.down:
            h = second(first(h, film), film)
            skips.append(h)
            h = downsample(h)
        for layer in self.middle:
            h = layer(h, film)
        skips.pop()  # the deepest level's output is the middle's input, not a skip
        for upsample, first, second in self.up:
            h = torch.cat([upsample(h), skips.pop()], 1)
            h = second(first(h, film), film)
        return self.head(h).transpose(1, 2)
