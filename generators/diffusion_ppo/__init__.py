"""``diffusion-ppo``: BC warm start then PPO over the DDIM denoising chain of a diffusion
policy; data from its deterministic (eta = 0) rollouts."""

from typing import Any, ClassVar

from generators.diffusion_ppo.presets import PRESETS
from generators.expert.generator import ExpertGenerator
from generators.expert.settings import ExpertPreset
from generators.policy.diffusion_likelihood import DiffusionChainPolicy


class DiffusionPPOGenerator(ExpertGenerator):
    """Diffusion-policy expert trained by PPO, each denoising step a decision."""

    name: ClassVar[str] = "diffusion-ppo"
    description: ClassVar[str] = (
        "diffusion policy: BC on human demonstrations, then PPO over the DDIM denoising "
        "chain; successful deterministic rollouts"
    )
    policy_cls: ClassVar[type] = DiffusionChainPolicy
    presets: ClassVar[dict[str, ExpertPreset]] = PRESETS  # see presets.py for the why
    recipe: ClassVar[dict[str, Any]] = PRESETS["recipe"].overrides()


__all__ = ["DiffusionPPOGenerator"]
