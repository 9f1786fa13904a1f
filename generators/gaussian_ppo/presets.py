"""``gaussian-ppo``'s named presets: the starting points of its expert configuration."""

from __future__ import annotations

from generators.expert.recipe import BC_GRADIENT_STEPS, BOUNDED_INPUTS, PPO_RECIPE
from generators.expert.settings import ExpertPreset, PolicySettings

RECIPE = ExpertPreset(
    name="recipe",
    why="DPPO's Gaussian baseline: std learnable within [0.01, 0.2], PPO starting from 0.1 "
        "(an NLL fit on whole chunks leaves it near 0.3, a much noisier policy than its "
        "mean); everything else is the shared recipe, the diffusion head's loop, batch "
        "and budget",
    settings={"bc_gradient_steps": BC_GRADIENT_STEPS},
    policy=PolicySettings(min_std=0.01, max_std=0.2, init_std=0.1, rl_init_std=0.1,
                          **BOUNDED_INPUTS),
    ppo=PPO_RECIPE,
)

PRESETS = {preset.name: preset for preset in (RECIPE,)}
