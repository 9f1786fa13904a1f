"""Behaviour cloning on a two-mode toy task: diffusion keeps both modes, a Gaussian averages.

This is the paper's reason for a diffusion policy: demonstrations of one task come from
several strategies, and a unimodal Gaussian fitted to them acts in between.
"""

from __future__ import annotations

import torch

from diffrl_eval.constants import OBS_STATE
from generators.policy.config import PolicyConfig
from generators.policy.diffusion_likelihood import DiffusionChainPolicy
from generators.policy.gaussian_head import GaussianPolicy

torch.set_num_threads(1)

SLOPE, MODE_OFFSET = 0.3, 0.6  # action = SLOPE * obs +/- MODE_OFFSET, half the data each
QUERY_OBS = 0.5
UPPER_MODE = SLOPE * QUERY_OBS + MODE_OFFSET  # 0.75
LOWER_MODE = SLOPE * QUERY_OBS - MODE_OFFSET  # -0.45
MIDPOINT = SLOPE * QUERY_OBS  # 0.15


def two_mode_demonstrations(n: int = 512):
    """obs (N, To=1, 1) uniform in [-1, 1]; action chunks (N, Ta=4, Da=1)."""
    generator = torch.Generator().manual_seed(0)
    obs = torch.rand(n, 1, 1, generator=generator) * 2 - 1
    mode = torch.randint(0, 2, (n, 1, 1), generator=generator) * 2 - 1
    chunks = (SLOPE * obs + MODE_OFFSET * mode).expand(n, 4, 1)
    chunks = chunks + 0.02 * torch.randn(n, 4, 1, generator=generator)
    return {OBS_STATE: obs}, chunks


def toy_config() -> PolicyConfig:
    return PolicyConfig(
        action_dim=1,
        binarize_gripper=False,
        proprio_dim=1,
        n_obs_steps=1,
        horizon=4,
        action_steps=2,
        unet_channels=(16, 32),
        encoder_hidden=64,
        obs_feature_dim=32,
        step_embed_dim=32,
        mlp_hidden=(64, 64),
    )


def behaviour_clone(policy, obs, chunks, iterations: int, lr: float):
    policy.fit_normalizers(obs, chunks)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(1)
    for _ in range(iterations):
        index = torch.randint(0, chunks.shape[0], (64,), generator=generator)
        loss = policy.compute_loss({OBS_STATE: obs[OBS_STATE][index]}, chunks[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return policy.eval()


def first_actions(policy, n: int = 200) -> torch.Tensor:
    query = {OBS_STATE: torch.full((n, 1, 1), QUERY_OBS)}
    step = policy.act(query, deterministic=True, generator=torch.Generator().manual_seed(2))
    return step.action_chunk[:, 0, 0]


def test_diffusion_bc_lands_samples_near_both_modes_and_gaussian_bc_averages_them():
    obs, chunks = two_mode_demonstrations()
    torch.manual_seed(0)
    diffusion = behaviour_clone(DiffusionChainPolicy(toy_config()), obs, chunks, 400, 1e-3)
    actions = first_actions(diffusion)
    near_upper = ((actions - UPPER_MODE).abs() < 0.15).float().mean()
    near_lower = ((actions - LOWER_MODE).abs() < 0.15).float().mean()
    in_between = ((actions - MIDPOINT).abs() < 0.2).float().mean()
    assert near_upper > 0.15 and near_lower > 0.15, (near_upper, near_lower)
    assert in_between < 0.1

    torch.manual_seed(0)
    gaussian = behaviour_clone(GaussianPolicy(toy_config()), obs, chunks, 300, 3e-3)
    mean_actions = first_actions(gaussian)
    assert ((mean_actions - MIDPOINT).abs() < 0.15).all()
    assert ((mean_actions - UPPER_MODE).abs() > 0.4).all()
    assert ((mean_actions - LOWER_MODE).abs() > 0.4).all()
