"""The stabilizer-ablation variants (the paper's Fig. 5) as configuration overrides.

A module of data only, so that the command line can list the variants without importing
the training code.
"""

from __future__ import annotations

from typing import Any

# variant name -> overrides of the expert configuration (nested "policy" / "ppo" dicts)
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    # the recipe trains the last 4 of its 5 DDIM steps; a longer chain keeps the first,
    # noisiest fifth frozen (DDPM: DPPO fine-tunes the last 10 of its DDPM steps)
    "ddpm-sampler": {"policy": {"sampler": "ddpm", "ft_denoising_steps": 10}},
    "ddim-10-steps": {"policy": {"denoising_steps": 10, "ft_denoising_steps": 8}},
    # the recipe's rate is constant; the paper's stabilizer is the cosine schedule
    "cosine-lr": {"ppo": {"lr_schedule": "cosine"}},
    "constant-lr": {"ppo": {"lr_schedule": "constant"}},
    "few-envs": {"ppo": {"n_envs": 5}},
    "small-batch": {"ppo": {"batch_size": 250}},
    "unet-decoder": {"policy": {"decoder": "unet"}},
    "mlp-decoder": {"policy": {"decoder": "mlp"}},
    "resnet-encoder": {"policy": {"encoder": "resnet"}},  # cameras instead of object poses
}
DEFAULT_VARIANTS = ("default", "ddim-10-steps", "cosine-lr", "few-envs", "small-batch")
