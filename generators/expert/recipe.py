"""What both RL heads' presets share: the same observation handling, PPO loop, batch and
update budget (DPPO compares its Gaussian and diffusion policies the same way); the heads'
presets (``generators/diffusion_ppo/presets.py``, ``generators/gaussian_ppo/presets.py``)
add only the action head's own settings. Measurements: ``reports/results/rl-experts.md``.
"""

from __future__ import annotations

from generators.expert.settings import PolicySettings, PPOSettings

# Normalized observations that cannot blow up (a dimension the demonstrations barely move
# had gains up to 4,634x), and DPPO's clip on the sampling noise.
BOUNDED_INPUTS = PolicySettings(obs_min_range=0.05, obs_clip=5.0, noise_clip=3.0)

# DPPO's scale of data per update: 400 envs x 28 decisions (one 220-step episode per env
# and iteration, 11,200 decisions), 10 epochs of minibatches of 7,500 (decision, denoising
# step) pairs at DPPO's constant actor rate 1e-4, DPPO's clip ramp along the chain, and the
# reward paid for every step the goal holds, scaled by the running spread of the return.
# At the previous 50 envs per iteration one update's gradient had no common direction and
# no setting raised success; at this scale training success rises (+7 points in 20
# iterations, +13 in 60, on spatial_left_cube_on_plate: reports/results/rl-experts.md).
# Training episodes start from placements sampled from the task's distribution: the fixed
# initial states are what evaluation and data generation use, and PPO must not train on
# them.
# The update runs on two torch threads while the env workers wait (1.7x faster on two free
# cores; reports/results/rl-throughput.md); ``ppo.update_threads=1`` on busy cores.
PPO_RECIPE = PPOSettings(
    actor_lr=1e-4, lr_schedule="constant", update_epochs=10, n_envs=400,
    n_steps=28, batch_size=7500, n_iterations=60, critic_warmup_iterations=3,
    clip_coef=0.01, clip_coef_base=0.001, reward_mode="success_hold",
    reward_scaling=True, train_starts="sampled", update_threads=2,
)

BC_GRADIENT_STEPS = 10000  # 3,000 under-fit the diffusion head (48% against 96%, 50 demos)
