"""Observation encoders: a ResNet-style conv net for camera images, an MLP for state.

:class:`ObservationEncoder` turns an observation dictionary into the conditioning vector
of the decoder: encoded features plus the normalized proprioception (which the decoder
feeds into every FiLM layer). The normalizers of the proprioception and low-dimensional
state are part of it.

Shape legend: B batch, To observation steps, Dp proprioception dim, Dl low-dim state dim,
H, W image height and width, C channels, F feature dim, Dc conditioning dim.
"""

from __future__ import annotations

import torch
from torch import nn

from diffrl_eval.constants import OBS_STATE
from generators.policy.config import PolicyConfig
from generators.policy.normalizer import RangeNormalizer


class ResidualConvBlock(nn.Module):
    """Two 3x3 convs with GroupNorm (batch-size independent, unlike BatchNorm) and a skip."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, groups: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.GroupNorm(groups, out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.GroupNorm(groups, out_channels),
        )
        self.skip = (
            nn.Identity()
            if stride == 1 and in_channels == out_channels
            else nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.GroupNorm(groups, out_channels),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class ResNetEncoder(nn.Module):
    """A small ResNet over one camera: (N, H, W, 3) uint8 -> (N, F).

    A stride-2 stem, one residual stage per entry of ``channels`` (each halving the
    resolution), global average pooling and a linear projection.
    """

    def __init__(self, channels: tuple[int, ...], feature_dim: int, groups: int) -> None:
        super().__init__()
        stem = channels[0]
        layers: list[nn.Module] = [
            nn.Conv2d(3, stem, 3, stride=2, padding=1, bias=False),
            nn.GroupNorm(groups, stem),
            nn.ReLU(),
        ]
        previous = stem
        for width in channels:
            layers.append(ResidualConvBlock(previous, width, stride=2, groups=groups))
            layers.append(ResidualConvBlock(width, width, stride=1, groups=groups))
            previous = width
        self.trunk = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.project = nn.Linear(previous, feature_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` (N, H, W, 3) uint8 (as environments return them) -> (N, F)."""
        x = images.permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0
        return self.project(self.trunk(x))


class MLPEncoder(nn.Module):
    """Low-dimensional state over To steps: (B, To, Dl) -> (B, F)."""

    def __init__(self, input_dim: int, hidden: int, feature_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden),
            nn.Mish(),
            nn.Linear(hidden, hidden),
            nn.Mish(),
            nn.Linear(hidden, feature_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


class ObservationEncoder(nn.Module):
    """Observation dictionary -> conditioning vector (B, Dc).

    Reads ``obs[OBS_STATE]`` (B, To, Dp) as proprioception, and either the cameras
    ``obs[key]`` (B, To, H, W, 3) uint8 for ``encoder="resnet"`` or the low-dim keys
    (B, To, *) concatenated to (B, To, Dl) for ``encoder="mlp"``. With ``encoder="mlp"`` and
    no low-dim keys the MLP encodes the proprioception itself.
    Dc = F + To * Dp (features, then flattened normalized proprioception).
    """

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.config = config
        self.proprio_normalizer = RangeNormalizer(config.proprio_dim)
        self.lowdim_normalizer = RangeNormalizer(max(config.lowdim_dim, 1))
        to = config.n_obs_steps
        if config.encoder == "resnet":
            self.cameras = nn.ModuleDict(
                {
                    key: ResNetEncoder(
                        config.encoder_channels, config.obs_feature_dim, config.group_norm_groups
                    )
                    for key in config.image_keys
                }
            )
            camera_features = len(config.image_keys) * to * config.obs_feature_dim
            self.fuse = nn.Linear(camera_features, config.obs_feature_dim)
        else:
            width = config.lowdim_dim if config.lowdim_keys else config.proprio_dim
            self.lowdim = MLPEncoder(to * width, config.encoder_hidden, config.obs_feature_dim)
        self.output_dim = config.obs_feature_dim + to * config.proprio_dim

    def fit_normalizers(self, obs: dict[str, torch.Tensor]) -> None:
        """Fit the proprioception (and low-dim state) normalizers to demonstration data."""
        floor = self.config.obs_min_range
        self.proprio_normalizer.fit(obs[OBS_STATE], floor)
        if self.config.encoder == "mlp" and self.config.lowdim_keys:
            self.lowdim_normalizer.fit(self._lowdim(obs), floor)

    def _normalize(self, normalizer: RangeNormalizer, x: torch.Tensor) -> torch.Tensor:
        """Normalized input, clipped to +-``obs_clip`` when set: states the demonstrations
        never reached must not become inputs far outside what the networks were fitted on."""
        y = normalizer.normalize(x)
        clip = self.config.obs_clip
        return y if clip is None else y.clamp(-clip, clip)

    def _lowdim(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([obs[key].to(torch.float32) for key in self.config.lowdim_keys], -1)

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        proprio = self._normalize(self.proprio_normalizer, obs[OBS_STATE].to(torch.float32))
        batch = proprio.shape[0]
        if self.config.encoder == "resnet":
            per_camera = []
            for key, net in self.cameras.items():
                frames = obs[key]  # (B, To, H, W, 3)
                per_camera.append(net(frames.flatten(0, 1)).reshape(batch, -1))
            features = self.fuse(torch.cat(per_camera, -1))
        elif self.config.lowdim_keys:
            features = self.lowdim(self._normalize(self.lowdim_normalizer, self._lowdim(obs)))
        else:
            features = self.lowdim(proprio)
        return torch.cat([features, proprio.flatten(1)], -1)
