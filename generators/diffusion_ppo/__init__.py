"""``diffusion-ppo``: BC warm start then PPO over the DDIM denoising chain of a diffusion
policy; data from its deterministic (eta = 0) rollouts."""

from typing import Any, ClassVar

from generators.expert.generator import ExpertGenerator
from generators.expert.recipe import BC_GRADIENT_STEPS, BOUNDED_INPUTS, PPO_RECIPE
from generators.policy.diffusion_likelihood import DiffusionChainPolicy


class DiffusionPPOGenerator(ExpertGenerator):
    """Diffusion-policy expert trained by PPO, each denoising step a decision."""

    name: ClassVar[str] = "diffusion-ppo"
    description: ClassVar[str] = (
        "diffusion policy: BC on human demonstrations, then PPO over the DDIM denoising "
        "chain; successful deterministic rollouts"
    )
    policy_cls: ClassVar[type] = DiffusionChainPolicy
    # MLP decoder on CPU, eta 1 with a 0.1 std floor during RL, and the shared recipe
    # (bounded inputs, PPO settings, 10,000 BC steps); reports/results/rl-experts.md;
    # data chunks warm-started from the previous chunk's tail (smoother at equal success,
    # reports/results/chunk-joining.md)
    recipe: ClassVar[dict[str, Any]] = {
        "bc_gradient_steps": BC_GRADIENT_STEPS,
        "chunk_join": "warm-start",
        "policy": {"decoder": "mlp", "rl_eta": 1.0, "min_std": 0.1, **BOUNDED_INPUTS},
        "ppo": dict(PPO_RECIPE),
    }


__all__ = ["DiffusionPPOGenerator"]
