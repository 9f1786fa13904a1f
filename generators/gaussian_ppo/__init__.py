"""``gaussian-ppo``: the same encoder, trunk and training procedure as ``diffusion-ppo``
with a Gaussian action head; data from its mean actions."""

from typing import Any, ClassVar

from generators.expert.generator import ExpertGenerator
from generators.expert.settings import ExpertPreset
from generators.gaussian_ppo.presets import PRESETS
from generators.policy.gaussian_head import GaussianPolicy


class GaussianPPOGenerator(ExpertGenerator):
    """Gaussian-head expert: BC warm start then PPO."""

    name: ClassVar[str] = "gaussian-ppo"
    description: ClassVar[str] = (
        "Gaussian policy baseline: BC on human demonstrations, then PPO; successful "
        "rollouts of the mean action"
    )
    policy_cls: ClassVar[type] = GaussianPolicy
    presets: ClassVar[dict[str, ExpertPreset]] = PRESETS  # see presets.py for the why
    recipe: ClassVar[dict[str, Any]] = PRESETS["recipe"].overrides()


__all__ = ["GaussianPPOGenerator"]
