"""``diffusion-ppo``: BC warm start then PPO over the DDIM denoising chain of a diffusion
policy; data from its deterministic (eta = 0) rollouts."""

from typing import ClassVar

from generators.expert.generator import ExpertGenerator
from generators.policy.diffusion_likelihood import DiffusionChainPolicy


class DiffusionPPOGenerator(ExpertGenerator):
    """Diffusion-policy expert trained by PPO, each denoising step a decision."""

    name: ClassVar[str] = "diffusion-ppo"
    description: ClassVar[str] = (
        "diffusion policy: BC on human demonstrations, then PPO over the DDIM denoising "
        "chain; successful deterministic rollouts"
    )
    policy_cls: ClassVar[type] = DiffusionChainPolicy


__all__ = ["DiffusionPPOGenerator"]
