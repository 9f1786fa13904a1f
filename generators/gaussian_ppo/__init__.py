"""``gaussian-ppo``: the same encoder, trunk and training procedure as ``diffusion-ppo``
with a Gaussian action head; data from its mean actions."""

from typing import Any, ClassVar

from generators.expert.generator import ExpertGenerator
from generators.expert.recipe import BC_GRADIENT_STEPS, BOUNDED_INPUTS, PPO_RECIPE
from generators.policy.gaussian_head import GaussianPolicy


class GaussianPPOGenerator(ExpertGenerator):
    """Gaussian-head expert: BC warm start then PPO."""

    name: ClassVar[str] = "gaussian-ppo"
    description: ClassVar[str] = (
        "Gaussian policy baseline: BC on human demonstrations, then PPO; successful "
        "rollouts of the mean action"
    )
    policy_cls: ClassVar[type] = GaussianPolicy
    # DPPO's Gaussian baseline: std learnable within [0.01, 0.2], PPO starting from 0.1
    # (an NLL fit on whole chunks leaves it near 0.3, a much noisier policy than its mean);
    # everything else is the shared recipe, the diffusion head's loop, batch and budget
    recipe: ClassVar[dict[str, Any]] = {
        "bc_gradient_steps": BC_GRADIENT_STEPS,
        "policy": {"min_std": 0.01, "max_std": 0.2, "init_std": 0.1, "rl_init_std": 0.1,
                   **BOUNDED_INPUTS},
        "ppo": dict(PPO_RECIPE),
    }


__all__ = ["GaussianPPOGenerator"]
