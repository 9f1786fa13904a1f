"""Small policy configurations and observations shared by the policy and PPO tests."""

from __future__ import annotations

import torch

from diffrl_eval.constants import OBS_STATE
from generators.policy.config import PolicyConfig


def tiny_config(**overrides) -> PolicyConfig:
    """A small state-only policy: To=2, Ta=4, Te=2, Da=7, thin U-Net."""
    values = {
        "horizon": 4,
        "action_steps": 2,
        "n_obs_steps": 2,
        "unet_channels": (16, 32),
        "encoder_hidden": 32,
        "obs_feature_dim": 16,
        "step_embed_dim": 16,
        "mlp_hidden": (32, 32),
    }
    values.update(overrides)
    return PolicyConfig(**values)


def state_obs(batch: int, config: PolicyConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """Proprioception-only observations (B, To, Dp)."""
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, config.n_obs_steps, config.proprio_dim)
    return {OBS_STATE: torch.randn(shape, generator=generator)}


def tiny_tabletop_config(backend, task_id: str) -> PolicyConfig:
    """A small state-only policy for a tabletop task's observations: Ta=8, Te=4, MLP
    decoder."""
    from generators.expert.observation import state_policy_config

    obs, _ = backend.make_env(task_id).reset(seed=0)
    return state_policy_config(obs, horizon=8, action_steps=4, decoder="mlp",
                               encoder_hidden=32, obs_feature_dim=16, step_embed_dim=16,
                               mlp_hidden=(32, 32))
