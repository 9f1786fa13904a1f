"""The PPO loss taken per denoising step.

Every denoising step of every decision is one sample of the clipped objective: its ratio
r = exp(log pi_new - log pi_old) is that step's alone, and its advantage is the decision's
GAE advantage discounted along the chain by gamma_denoise, so that the last, action-
producing step (k = 1 -> 0) gets the full advantage and earlier, noisier steps less.
The Gaussian policy is the special case K = 1.

Log-probabilities arrive element-wise (per action dimension) and are averaged over the
chunk's Ta x Da elements before the ratio is formed: the ratio is then a per-element
geometric mean, which stays in the range a clip coefficient is meant for instead of
compounding across ~100 dimensions.

Shape legend: B decisions in the minibatch, K denoising steps, Ta action horizon,
Da action dim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class PPOLossOutput:
    """The total loss (for backward) and its parts (detached, for logging and early stop)."""

    loss: torch.Tensor
    policy_loss: torch.Tensor
    value_loss: torch.Tensor
    entropy: torch.Tensor
    approx_kl: torch.Tensor
    clip_fraction: torch.Tensor


def denoising_discount(steps: int, gamma_denoise: float) -> torch.Tensor:
    """(K,) weights gamma_denoise^(K-1-k) for chain positions k = 0 (noisiest) .. K-1."""
    exponents = torch.arange(steps - 1, -1, -1, dtype=torch.float32)
    return gamma_denoise**exponents


def denoising_clip(steps: int, clip_coef: float, clip_coef_base: float | None,
                   rate: float) -> torch.Tensor:
    """(K,) ratio clip per chain position, k = 0 (noisiest) .. K-1 (the action).

    With ``clip_coef_base`` the clip grows from it at the noisiest step to ``clip_coef`` at
    the last, along (e^(rate t) - 1) / (e^rate - 1) with t = k / (K - 1). The noisy steps
    have wide Gaussians, so a loose ratio there still allows large shifts of their means,
    and those shifts carry through the rest of the chain into the action; a tight clip
    there keeps the chunk close to the cloned behaviour. Without a base every step gets
    ``clip_coef``.
    """
    if clip_coef_base is None or steps == 1:
        return torch.full((steps,), float(clip_coef))
    t = torch.arange(steps, dtype=torch.float32) / (steps - 1)
    ramp = torch.expm1(rate * t) / math.expm1(rate)
    return clip_coef_base + (clip_coef - clip_coef_base) * ramp


def ppo_loss(
    new_log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    new_values: torch.Tensor,
    returns: torch.Tensor,
    entropy: torch.Tensor,
    *,
    clip_coef: float | torch.Tensor,
    gamma_denoise: float,
    vf_coef: float,
    ent_coef: float,
    element_mask: torch.Tensor | None = None,
) -> PPOLossOutput:
    """Clipped surrogate over (decision, denoising step) pairs, plus value and entropy terms.

    ``new_log_prob``, ``old_log_prob`` (B, K, Ta, Da); ``advantages`` (B,) (already
    normalized if wanted); ``new_values``, ``returns`` (B,); ``entropy`` (B, K).

    loss = mean_{b,k} max(-A_bk r_bk, -A_bk clip(r_bk, 1 - c, 1 + c))
           + vf_coef * 0.5 * mean_b (V_b - R_b)^2 - ent_coef * mean entropy,
    with A_bk = A_b * gamma_denoise^(K-1-k).

    ``clip_coef`` a float, or (K,) one per chain position (see :func:`denoising_clip`).
    ``element_mask`` (Ta, Da) bool, optional: the chunk elements that reach the
    environment (executed steps, dimensions that are not constants); the log-ratio is
    averaged over those only, so that elements with no effect on the return add no noise.
    """
    steps = new_log_prob.shape[1]
    difference = new_log_prob - old_log_prob
    if element_mask is None:
        log_ratio = difference.mean((-2, -1))  # (B, K)
    else:
        weights = element_mask.to(difference.dtype)
        log_ratio = (difference * weights).sum((-2, -1)) / weights.sum()
    ratio = log_ratio.exp()
    weights = denoising_discount(steps, gamma_denoise).to(advantages.device)
    step_advantages = advantages[:, None] * weights[None, :]  # (B, K)
    unclipped = -step_advantages * ratio
    clip = torch.as_tensor(clip_coef, dtype=ratio.dtype).expand(steps)[None, :]  # (1, K)
    clipped = -step_advantages * torch.minimum(torch.maximum(ratio, 1.0 - clip), 1.0 + clip)
    policy_loss = torch.maximum(unclipped, clipped).mean()
    value_loss = 0.5 * (new_values - returns).pow(2).mean()
    mean_entropy = entropy.mean()
    loss = policy_loss + vf_coef * value_loss - ent_coef * mean_entropy
    with torch.no_grad():
        # the low-variance estimator E[(r - 1) - log r] of KL(old || new)
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip).float().mean()
    return PPOLossOutput(
        loss=loss,
        policy_loss=policy_loss.detach(),
        value_loss=value_loss.detach(),
        entropy=mean_entropy.detach(),
        approx_kl=approx_kl,
        clip_fraction=clip_fraction,
    )
