"""A small ResNet-style image encoder with GroupNorm, one per camera.

GroupNorm instead of BatchNorm: behaviour-cloning batches are small and correlated (many
frames of one episode), and batch statistics would differ between training and
evaluation. The final feature map is flattened rather than pooled, so the encoder keeps
where things are in the image, which a manipulation policy needs.

Shape legend: B batch, S image size, C channels, F feature width.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with GroupNorm and a (strided) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, groups: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.norm1 = nn.GroupNorm(groups, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.shortcut = (
            nn.Identity() if stride == 1 and in_channels == out_channels
            else nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                               nn.GroupNorm(groups, out_channels))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetEncoder(nn.Module):
    """(B, S, S, 3) uint8 images -> (B, F) features.

    A stride-2 stem, then one residual block per entry of ``channels``, each halving the
    resolution; the last map (channels[-1] x S/2^(k+1) squared) is flattened and projected.
    """

    def __init__(self, image_size: int, channels: Sequence[int], groups: int,
                 feature_dim: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels[0], 3, 2, 1, bias=False), nn.GroupNorm(groups, channels[0]),
            nn.ReLU(),
        )
        blocks, width = [], channels[0]
        for out_channels in channels:
            blocks.append(ResidualBlock(width, out_channels, 2, groups))
            width = out_channels
        self.blocks = nn.Sequential(*blocks)
        with torch.no_grad():
            flat = self.blocks(self.stem(torch.zeros(1, 3, image_size, image_size))).numel()
        self.project = nn.Sequential(nn.Flatten(), nn.Linear(flat, feature_dim),
                                     nn.LayerNorm(feature_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float() / 127.5 - 1.0
        return self.project(self.blocks(self.stem(x)))


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image (B, S, S, 3) by up to ``pad`` pixels (edge-padded), a standard
    augmentation against overfitting the exact pixel positions of few demonstrations."""
    if pad <= 0:
        return images
    batch, size = images.shape[0], images.shape[1]
    padded = F.pad(images.permute(0, 3, 1, 2).float(), (pad, pad, pad, pad), mode="replicate")
    offsets = torch.randint(0, 2 * pad + 1, (batch, 2), generator=generator)
    rows = offsets[:, 0, None] + torch.arange(size)[None, :]  # (B, S)
    cols = offsets[:, 1, None] + torch.arange(size)[None, :]
    index = torch.arange(batch)[:, None, None]
    shifted = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]
    return shifted.to(images.dtype)
