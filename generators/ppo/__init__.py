"""The PPO core shared by the RL generators: configuration, the chunk-level rollout, GAE,
the per-denoising-step clipped loss, learning-rate schedules, the minibatch update and the
loop that runs them in that order (:mod:`generators.ppo.trainer`)."""
