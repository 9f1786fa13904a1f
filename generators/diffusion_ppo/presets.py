"""``diffusion-ppo``'s named presets: the starting points of its expert configuration."""

from __future__ import annotations

from generators.expert.recipe import BC_GRADIENT_STEPS, BOUNDED_INPUTS, PPO_RECIPE
from generators.expert.settings import ExpertPreset, PolicySettings

RECIPE = ExpertPreset(
    name="recipe",
    why="MLP decoder on CPU, eta 1 with a 0.1 std floor during RL, 8-action chunks executed "
        "whole (PPO gained two to three times faster than with 8 of 16 executed, six spatial "
        "tasks), PPO training the last 4 "
        "of the 5 denoising steps (the first, noisiest, sampled deterministically by a frozen "
        "copy of the cloned networks: with it trained, success fell in longer runs), and the "
        "shared recipe (bounded inputs, PPO settings, 10,000 BC steps): "
        "reports/results/rl-experts.md; "
        "data chunks warm-started from the previous chunk's last action (equal or higher "
        "success): reports/results/chunk-joining.md",
    settings={"bc_gradient_steps": BC_GRADIENT_STEPS, "chunk_join": "warm-start"},
    policy=PolicySettings(decoder="mlp", rl_eta=1.0, min_std=0.1, horizon=8, action_steps=8,
                          ft_denoising_steps=4, frozen_steps_deterministic=True,
                          **BOUNDED_INPUTS),
    ppo=PPO_RECIPE,
)

PRESETS = {preset.name: preset for preset in (RECIPE,)}
