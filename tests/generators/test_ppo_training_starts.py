"""Where PPO's training episodes start: the task's fixed initial states, or placements
sampled from the task's distribution (never the fixed states evaluation and data
generation use)."""

from __future__ import annotations

import pytest
import torch

from diffrl_eval.envs.tabletop import TabletopBackend
from diffrl_eval.errors import UserError
from generators.expert import state_policy_config
from generators.policy import GaussianPolicy, ValueNetwork
from generators.ppo.config import PPOConfig
from generators.ppo.trainer import PPOTrainer

torch.set_num_threads(1)
TASK = "spatial_left_cube_on_plate"


def _trainer(train_starts: str, **kwargs) -> PPOTrainer:
    backend = TabletopBackend()
    task = backend.task(TASK)
    obs, _ = backend.make_env(TASK).reset(seed=0)
    config = state_policy_config(obs, horizon=4, action_steps=2, decoder="mlp",
                                 encoder_hidden=16, obs_feature_dim=8, mlp_hidden=(16,))
    ppo = PPOConfig(n_envs=3, n_steps=2, n_iterations=2, batch_size=8, update_epochs=1,
                    critic_warmup_iterations=1, train_starts=train_starts)
    return PPOTrainer(GaussianPolicy(config), ValueNetwork(config), backend, task, ppo,
                      seed=0, **kwargs)


def _first_placements(trainer: PPOTrainer) -> list:
    """The initial state index each env's running episode started from."""
    return [record.init_state_index for record in trainer.venv._records]


def test_sampled_starts_never_use_the_fixed_initial_states():
    trainer = _trainer("sampled")
    try:
        assert _first_placements(trainer) == [None, None, None]
        trainer.train(1)
        # episodes reset during the iteration are sampled placements too
        assert all(index is None for index in _first_placements(trainer))
        for _ in range(20):
            assert trainer.starts.next()[1] is None
    finally:
        trainer.close()


def test_fixed_starts_draw_the_tasks_initial_states():
    trainer = _trainer("fixed")
    try:
        assert all(0 <= index < 50 for index in _first_placements(trainer))
    finally:
        trainer.close()


def test_chosen_initial_states_imply_fixed_starts():
    trainer = _trainer("sampled", init_state_indices=[4, 7])
    try:
        assert set(_first_placements(trainer)) <= {4, 7}
    finally:
        trainer.close()


def test_an_unknown_start_distribution_is_refused():
    with pytest.raises(UserError, match="train_starts must be one of fixed, sampled"):
        PPOConfig(train_starts="eval")
