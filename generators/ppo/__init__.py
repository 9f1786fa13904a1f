"""The PPO core shared by the RL generators: configuration, GAE, the per-denoising-step
clipped loss, learning-rate schedules and the minibatch update."""
