"""Per-dimension normalization that lives inside the policy and is saved with it.

Actions and low-dimensional observations are mapped linearly from their data range to
[-1, 1] (the range the diffusion's clipping and the executed-action clip assume). The
statistics are buffers of the policy module, so a checkpoint carries them and loading a
policy needs nothing else.

Shape legend: ... any leading dimensions, D the normalized field's width.
"""

from __future__ import annotations

import torch
from torch import nn

from diffrl_eval.constants import GRIPPER_ACTION_INDEX

# A dimension whose data never varies (e.g. a rotation no demonstration uses) would otherwise
# get an infinite scale; below this range it is only centred, and mapping back returns the
# constant itself: a generative model's leftover noise in such a dimension (which it can
# never see contradicted by data) must not reach the robot.
MIN_RANGE = 1e-4


class RangeNormalizer(nn.Module):
    """x -> (x - offset) * scale, fitted so the data's [min, max] maps to [-1, 1]."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(dim))
        self.register_buffer("offset", torch.zeros(dim))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self.register_buffer("varies", torch.ones(dim, dtype=torch.bool))

    @torch.no_grad()
    def fit(self, data: torch.Tensor, min_range: float = 0.0) -> None:
        """Fit to ``data`` (..., D).

        ``min_range`` floors the range (max - min) of every dimension that varies, so that
        its gain is at most 2 / ``min_range``.
        """
        flat = data.reshape(-1, data.shape[-1]).to(self.scale.dtype)
        low, high = flat.min(0).values, flat.max(0).values
        half_range = (high - low) / 2
        self.offset.copy_((high + low) / 2)
        self.varies.copy_(half_range > MIN_RANGE)
        half_range = half_range.clamp(min=min_range / 2)
        self.scale.copy_(torch.where(self.varies, 1.0 / half_range, torch.ones_like(half_range)))
        self.fitted.fill_(True)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) data units -> (..., D) normalized."""
        return (x - self.offset) * self.scale

    def unnormalize(self, y: torch.Tensor) -> torch.Tensor:
        """(..., D) normalized -> (..., D) data units (constant dimensions: the constant)."""
        return torch.where(self.varies, y / self.scale + self.offset, self.offset)


def chunk_to_action(normalizer: RangeNormalizer, sample: torch.Tensor, *,
                    binarize_gripper: bool) -> torch.Tensor:
    """A normalized chunk (..., Ta, Da) -> executable actions in data units.

    Clipped to the normalized range first. With ``binarize_gripper`` the gripper command
    becomes -1 (open) or +1 (close) by its sign, as LIBERO's demonstrations and VLAs use
    it: a half-closed command grips weakly and lets objects slip.
    """
    action = normalizer.unnormalize(sample.clamp(-1.0, 1.0))
    if binarize_gripper:
        gripper = action[..., GRIPPER_ACTION_INDEX]
        action = action.clone()
        action[..., GRIPPER_ACTION_INDEX] = torch.where(gripper >= 0, 1.0, -1.0)
    return action


def executed_element_mask(normalizer: RangeNormalizer, horizon: int, action_steps: int
                          ) -> torch.Tensor:
    """(Ta, Da) bool: the chunk elements that reach the environment.

    The first Te steps are executed; dimensions constant in the data are replaced by
    their constant on the way out (:meth:`RangeNormalizer.unnormalize`), so whatever the
    policy samples there has no effect.
    """
    executed = torch.arange(horizon, device=normalizer.varies.device) < action_steps
    return executed[:, None] & normalizer.varies[None, :]
