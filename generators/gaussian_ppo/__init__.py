"""``gaussian-ppo``: the same encoder, trunk and training procedure as ``diffusion-ppo``
with a Gaussian action head; data from its mean actions."""

from typing import Any, ClassVar

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
    # the same budget as diffusion-ppo; the smallest steps measured (larger ones lowered
    # the success on tabletop, README)
    recipe: ClassVar[dict[str, Any]] = {
        "ppo": {"actor_lr": 3e-5, "clip_coef": 0.01, "update_epochs": 2, "n_envs": 50,
                "n_steps": 20, "n_iterations": 80},
    }


__all__ = ["GaussianPPOGenerator"]
