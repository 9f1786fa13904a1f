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

That average hides how far the policy moves: element log-ratios of either sign cancel in
it, so the KL estimated from the averaged ratio is 40-70x smaller than the KL of the
elements themselves. Both are reported (``approx_kl`` from the averaged ratio,
``element_kl`` from every element's own ratio); early stopping can use either.

Shape legend: B decisions in the minibatch, K denoising steps, Ta action horizon,
Da action dim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# DPPO's bounds on an element's log-density (``PPOConfig.clamp_log_prob``): with a noise
# floor of 0.1 a density never exceeds ~1.4 nats, and a sample 3 std from its mean sits
# near -3; anything beyond -5 is an outlier whose ratio would dominate a minibatch
LOG_PROB_MIN, LOG_PROB_MAX = -5.0, 2.0


@dataclass
class PPOLossOutput:
    """The total loss (for backward) and its parts (detached, for logging and early stop)."""

    loss: torch.Tensor
    policy_loss: torch.Tensor
    value_loss: torch.Tensor
    entropy: torch.Tensor
    approx_kl: torch.Tensor
    element_kl: torch.Tensor
    clip_fraction: torch.Tensor
    clip_fraction_per_step: torch.Tensor  # (K,)


def denoising_discount(steps: int, gamma_denoise: float,
                       device: torch.device | str = "cpu") -> torch.Tensor:
    """(K,) weights gamma_denoise^(K-1-k) for chain positions k = 0 (noisiest) .. K-1."""
    exponents = torch.arange(steps - 1, -1, -1, dtype=torch.float32, device=device)
    return gamma_denoise**exponents


def denoising_clip(steps: int, clip_coef: float, clip_coef_base: float | None,
                   rate: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """(K,) ratio clip per chain position, k = 0 (noisiest) .. K-1 (the action).

    With ``clip_coef_base`` the clip grows from it at the noisiest step to ``clip_coef`` at
    the last, along (e^(rate t) - 1) / (e^rate - 1) with t = k / (K - 1). The noisy steps
    have wide Gaussians, so a loose ratio there still allows large shifts of their means,
    and those shifts carry through the rest of the chain into the action; a tight clip
    there keeps the chunk close to the cloned behaviour. Without a base every step gets
    ``clip_coef``.
    """
    if clip_coef_base is None or steps == 1:
        return torch.full((steps,), float(clip_coef), device=device)
    t = torch.arange(steps, dtype=torch.float32, device=device) / (steps - 1)
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
    clamp_log_prob: bool = False,
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
    ``clamp_log_prob`` clamps both log-densities to [LOG_PROB_MIN, LOG_PROB_MAX] first.
    """
    steps = new_log_prob.shape[1]
    if clamp_log_prob:
        new_log_prob = new_log_prob.clamp(LOG_PROB_MIN, LOG_PROB_MAX)
        old_log_prob = old_log_prob.clamp(LOG_PROB_MIN, LOG_PROB_MAX)
    difference = new_log_prob - old_log_prob  # (B, K, Ta, Da)
    if element_mask is None:
        element_mask = torch.ones(difference.shape[-2:], dtype=torch.bool,
                                  device=difference.device)
    log_ratio = chunk_log_ratio(difference, element_mask)  # (B, K)
    ratio = log_ratio.exp()
    weights = denoising_discount(steps, gamma_denoise, advantages.device)
    step_advantages = advantages[:, None] * weights[None, :]  # (B, K)
    unclipped = -step_advantages * ratio
    clip = torch.as_tensor(clip_coef, dtype=ratio.dtype,
                           device=ratio.device).expand(steps)[None, :]  # (1, K)
    clipped = -step_advantages * torch.minimum(torch.maximum(ratio, 1.0 - clip), 1.0 + clip)
    policy_loss = torch.maximum(unclipped, clipped).mean()
    value_loss = 0.5 * (new_values - returns).pow(2).mean()
    mean_entropy = entropy.mean()
    loss = policy_loss + vf_coef * value_loss - ent_coef * mean_entropy
    with torch.no_grad():
        # the low-variance estimator E[(r - 1) - log r] of KL(old || new)
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        element_kl = element_kl_estimate(difference.detach(), element_mask)
        clipped_pairs = ((ratio - 1.0).abs() > clip).float()  # (B, K)
        clip_fraction = clipped_pairs.mean()
    return PPOLossOutput(
        loss=loss,
        policy_loss=policy_loss.detach(),
        value_loss=value_loss.detach(),
        entropy=mean_entropy.detach(),
        approx_kl=approx_kl,
        element_kl=element_kl,
        clip_fraction=clip_fraction,
        clip_fraction_per_step=clipped_pairs.mean(0),
    )


def chunk_log_ratio(difference: torch.Tensor, element_mask: torch.Tensor | None
                    ) -> torch.Tensor:
    """Element log-ratios (B, K, Ta, Da) -> the chunk's (B, K): their mean over the
    elements of ``element_mask`` (Ta, Da) (all when None)."""
    if element_mask is None:
        return difference.mean((-2, -1))
    weights = element_mask.to(difference.dtype)
    return (difference * weights).sum((-2, -1)) / weights.sum()


def element_kl_estimate(log_ratio: torch.Tensor, element_mask: torch.Tensor) -> torch.Tensor:
    """KL(old || new) per chunk element: mean of (r - 1) - log r over every scored element.

    ``log_ratio`` (B, K, Ta, Da) element-wise log pi_new - log pi_old; ``element_mask``
    (Ta, Da) the scored elements. Each element's ratio is its own, not the chunk's
    geometric mean, so movements of opposite sign do not cancel.
    """
    per_element = torch.expm1(log_ratio) - log_ratio  # expm1: small ratios stay exact
    weights = element_mask.to(log_ratio.dtype).expand_as(log_ratio)
    return (per_element * weights).sum() / weights.sum()
