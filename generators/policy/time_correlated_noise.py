"""Exploration noise correlated along the action chunk's time axis.

With independent noise every element of an executed chunk is its own random draw, so one
sparse episode outcome is shared by thousands of draws (Te x Da per stochastic step and
decision) and PPO's gradient estimate is mostly noise. Noise that follows a stationary
AR(1) process along the chunk (coefficient ``rho``, unit marginal variance) perturbs whole
stretches of the trajectory instead: each element keeps its standard deviation, but the
chunk carries far fewer independent directions.

    n_0 = e_0,   n_t = rho * n_{t-1} + sqrt(1 - rho^2) * e_t,   e ~ N(0, I)

The density factorizes along time into Gaussian conditionals, which keeps the
element-wise log-probability layout PPO uses (and its masks): element t's conditional
given the earlier elements of the same chunk is

    x_t | x_<t ~ N(mean_t + rho * (x_{t-1} - mean_{t-1}), (std * sqrt(1 - rho^2))^2)

for t > 0 and N(mean_0, std^2) for t = 0, so summing the first Te elements gives the
exact log-density of the executed part. ``rho = 0`` is independent noise and takes the
plain Normal code path (bit-identical to it).

Shape legend: B batch, Ta action horizon (time, axis -2), Da action dim.
"""

from __future__ import annotations

import math

import torch


def gaussian_entropy(std: torch.Tensor) -> torch.Tensor:
    """Entropy of a 1-D Gaussian with standard deviation ``std`` (element-wise)."""
    return 0.5 * math.log(2 * math.pi * math.e) + std.log()


def correlate(noise: torch.Tensor, rho: float) -> torch.Tensor:
    """Standard-normal ``noise`` (..., Ta, Da) -> AR(1) noise along Ta with unit marginal
    variance and lag-1 correlation ``rho``."""
    if rho == 0.0:
        return noise
    innovation = math.sqrt(1.0 - rho * rho)
    steps = [noise[..., 0, :]]
    for t in range(1, noise.shape[-2]):
        steps.append(rho * steps[-1] + innovation * noise[..., t, :])
    return torch.stack(steps, -2)


def log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, rho: float
             ) -> torch.Tensor:
    """Element-wise conditional log-densities (..., Ta, Da) of ``x`` under mean
    (..., Ta, Da), ``std`` (broadcastable: a per-element scale) and AR(1) correlation
    ``rho`` along Ta; their sum over the first Te steps is the exact log-density of those
    steps."""
    if rho == 0.0:
        return torch.distributions.Normal(mean, std).log_prob(x)
    residual = (x - mean) / std  # (..., Ta, Da), marginally N(0, 1) per element
    innovation = math.sqrt(1.0 - rho * rho)
    first = residual[..., :1, :]
    rest = (residual[..., 1:, :] - rho * residual[..., :-1, :]) / innovation
    white = torch.cat([first, rest], -2)
    scale = torch.ones_like(white[..., :, :1]).expand_as(white).clone()
    scale[..., 1:, :] = innovation
    return (-0.5 * white.square() - 0.5 * math.log(2 * math.pi)
            - std.log().expand_as(white) - scale.log())


def entropy(std: torch.Tensor, shape: torch.Size, rho: float) -> torch.Tensor:
    """Element-wise conditional entropies (..., Ta, Da) for a per-element ``std``
    broadcast to ``shape``."""
    per_element = gaussian_entropy(std).expand(shape)
    if rho == 0.0:
        return per_element
    later = per_element[..., 1:, :] + 0.5 * math.log(1.0 - rho * rho)
    return torch.cat([per_element[..., :1, :], later], -2)
