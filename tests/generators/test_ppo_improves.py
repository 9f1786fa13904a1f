"""A short PPO run raises success on an easy task (fixed seed), through the real loop.

The task is a two-goal reach in the plane, run by the same chunk-level machinery as the
tabletop experts (:class:`PPOTrainer`, :class:`ChunkVectorEnv`, evaluation): the
end effector starts near the origin, goal A lies to the right and a decoy B to the
left, and only reaching A succeeds. The demonstrations are bimodal, half of them going to
A and half to B, so the behaviour-cloned diffusion policy commits to either side
depending on its initial noise and succeeds about half of the time. PPO over the
denoising chain has to move that mass onto A; this needs no exploration beyond what the
cloned policy already does, which is what makes the task easy.

Shape legend: N samples, To observation steps, Ta action horizon, Da action dim.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from diffrl_eval.constants import (
    ACTION_DIM,
    INIT_STATE_OPTION,
    OBS_EEF_POS,
    OBS_OBJECT_POSES,
    OBS_STATE,
    STATE_DIM,
)
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from generators.expert import (
    BCConfig,
    DemonstrationSet,
    evaluate,
    history_windows,
    state_policy_config,
    train_bc,
)
from generators.expert.bc_samples import action_chunks
from generators.policy import DiffusionChainPolicy, ValueNetwork
from generators.ppo.config import PPOConfig
from generators.ppo.trainer import PPOTrainer

torch.set_num_threads(1)

GOAL = np.array([0.3, 0.0])
DECOY = np.array([-0.3, 0.0])
STEP = 0.05  # metres per unit action per control step
RADIUS = 0.06
MAX_STEPS = 16
STARTS = np.array([[0.0, y] for y in np.linspace(-0.06, 0.06, 8)])


class TwoGoalReachEnv:
    """Gymnasium-style env: move (x, y) by STEP * action[:2]; success within RADIUS of A."""

    def __init__(self) -> None:
        self.position = np.zeros(2)
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        index = (options or {}).get(INIT_STATE_OPTION)
        if index is None:
            index = int(np.random.default_rng(seed).integers(len(STARTS)))
        self.position = STARTS[index].copy()
        self.steps = 0
        return self._observation(), {}

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self.position = self.position + STEP * action[:2]
        self.steps += 1
        success = bool(np.linalg.norm(self.position - GOAL) < RADIUS)
        truncated = not success and self.steps >= MAX_STEPS
        return self._observation(), float(success), success, truncated, {"success": success}

    def close(self) -> None:
        pass

    def _observation(self) -> dict[str, np.ndarray]:
        state = np.zeros(STATE_DIM, dtype=np.float32)
        state[:2] = self.position
        poses = np.array([*GOAL, 0.0, 1, 0, 0, 0, *DECOY, 0.0, 1, 0, 0, 0], dtype=np.float32)
        return {OBS_STATE: state, OBS_EEF_POS: state[:3].copy(), OBS_OBJECT_POSES: poses}


class TwoGoalBackend(EnvBackend):
    name = "two-goal-reach"

    def suites(self) -> list[str]:
        return ["toy"]

    def tasks(self, suite: str | None = None) -> list[TaskSpec]:
        return [TaskSpec("reach_a", "toy", "reach goal A", MAX_STEPS, self.name)]

    def init_states(self, task_id: str) -> np.ndarray:
        return STARTS

    def make_env(self, task_id: str, *, images: bool = False, image_size: int = 128,
                 **options: Any):
        return TwoGoalReachEnv()


def bimodal_demonstrations(n_obs_steps: int, horizon: int) -> DemonstrationSet:
    """Straight full-speed runs from every start to A and to B: (obs, chunk) samples."""
    env = TwoGoalReachEnv()
    windows: dict[str, list[np.ndarray]] = {}
    chunks = []
    for index in range(len(STARTS)):
        for target in (GOAL, DECOY):
            obs, _ = env.reset(options={INIT_STATE_OPTION: index})
            seen, actions = [], []
            while np.linalg.norm(env.position - target) >= RADIUS:
                action = np.zeros(ACTION_DIM, dtype=np.float32)
                direction = target - env.position
                action[:2] = direction / max(np.linalg.norm(direction) / STEP, 1.0) / STEP
                seen.append(obs)
                actions.append(action)
                obs, *_ = env.step(action)
            for key in (OBS_STATE, OBS_OBJECT_POSES):
                sequence = np.stack([o[key] for o in seen])
                windows.setdefault(key, []).append(history_windows(sequence, n_obs_steps))
            chunks.append(action_chunks(np.stack(actions), horizon))
    return DemonstrationSet(
        obs={key: torch.from_numpy(np.concatenate(v)) for key, v in windows.items()},
        action_chunks=torch.from_numpy(np.concatenate(chunks)),
        n_episodes=2 * len(STARTS),
    )


def success_rate(policy, backend, task) -> float:
    """Deterministic (DDIM, eta = 0) success over 4 noise seeds x the 8 starts."""
    starts = list(range(len(STARTS)))
    rates = [evaluate(policy, backend, task, starts, seed=seed, n_envs=8).success_rate
             for seed in range(4)]
    return sum(rates) / len(rates)


@pytest.fixture(scope="module")
def setup():
    backend = TwoGoalBackend()
    task = backend.task("reach_a")
    obs, _ = TwoGoalReachEnv().reset(options={INIT_STATE_OPTION: 0})
    config = state_policy_config(
        obs, horizon=8, action_steps=4, n_obs_steps=2, decoder="mlp", encoder_hidden=32,
        obs_feature_dim=16, step_embed_dim=16, mlp_hidden=(128, 128), binarize_gripper=False,
        rl_eta=1.0, min_std=0.1,
    )
    demos = bimodal_demonstrations(config.n_obs_steps, config.horizon)
    torch.manual_seed(0)
    policy = DiffusionChainPolicy(config)
    train_bc(policy, demos, BCConfig(gradient_steps=3000, batch_size=128), seed=0)
    value = ValueNetwork(config)
    value.fit_normalizers(demos.obs)
    return backend, task, policy, value


def test_cloned_policy_is_bimodal_and_ppo_moves_it_onto_the_rewarded_goal(setup):
    backend, task, policy, value = setup
    before = success_rate(policy, backend, task)
    # both modes survive cloning: the policy reaches A from some noise, B from other noise
    assert 0.2 <= before <= 0.8, before
    ppo = PPOConfig(n_envs=32, n_steps=4, n_iterations=20, batch_size=640, update_epochs=4,
                    actor_lr=3e-4, clip_coef=0.05, critic_warmup_iterations=2)
    trainer = PPOTrainer(policy, value, backend, task, ppo, seed=0)
    try:
        history = trainer.train()
    finally:
        trainer.close()
    after = success_rate(policy, backend, task)
    assert after >= before + 0.3, (before, after, [h["success_rate"] for h in history])
    assert after >= 0.85, (before, after)
