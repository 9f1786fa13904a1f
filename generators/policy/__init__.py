"""The policies the RL generators train: a diffusion policy over action chunks (with a
per-denoising-step likelihood for PPO), a Gaussian-head baseline, the value network, and
their checkpoints (safetensors weights + JSON config, normalizers included)."""

from generators.policy.checkpoint import load_checkpoint, save_checkpoint
from generators.policy.config import PolicyConfig
from generators.policy.diffusion import DiffusionModel
from generators.policy.diffusion_likelihood import DiffusionChainPolicy, PolicyStep
from generators.policy.ema import ExponentialMovingAverage
from generators.policy.gaussian_head import GaussianPolicy
from generators.policy.value import ValueNetwork

__all__ = [
    "DiffusionChainPolicy",
    "DiffusionModel",
    "ExponentialMovingAverage",
    "GaussianPolicy",
    "PolicyConfig",
    "PolicyStep",
    "ValueNetwork",
    "load_checkpoint",
    "save_checkpoint",
]
