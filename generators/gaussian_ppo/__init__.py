"""``gaussian-ppo``: the same encoder, trunk and training procedure as ``diffusion-ppo``
with a Gaussian action head; data from its mean actions."""

from typing import ClassVar

from generators.expert.generator import ExpertGenerator
from generators.policy.gaussian_head import GaussianPolicy


class GaussianPPOGenerator(ExpertGenerator):
    """Gaussian-head expert: BC warm start then PPO."""

    name: ClassVar[str] = "gaussian-ppo"
    description: ClassVar[str] = (
        "Gaussian policy baseline: BC on human demonstrations, then PPO; successful "
        "rollouts of the mean action"
    )
    policy_cls: ClassVar[type] = GaussianPolicy


__all__ = ["GaussianPPOGenerator"]
