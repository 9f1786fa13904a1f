"""PPO's update on ``update_threads`` torch threads: the count is a setting, used for the
update only, restored afterwards, and a fixed count trains the same weights every time."""

from __future__ import annotations

import hashlib

import pytest
import torch

from diffrl_eval.envs.tabletop import TabletopBackend
from diffrl_eval.errors import UserError
from generators.expert import state_policy_config
from generators.policy import DiffusionChainPolicy, ValueNetwork
from generators.ppo import trainer as trainer_module
from generators.ppo.config import PPOConfig
from generators.ppo.trainer import PPOTrainer

TASK = "spatial_left_cube_on_plate"


def _trainer(update_threads: int) -> PPOTrainer:
    backend = TabletopBackend()
    task = backend.task(TASK)
    obs, _ = backend.make_env(TASK).reset(seed=0)
    config = state_policy_config(obs, horizon=4, action_steps=2, decoder="mlp",
                                 denoising_steps=3, encoder_hidden=32, obs_feature_dim=16,
                                 mlp_hidden=(64, 64))
    torch.manual_seed(0)
    ppo = PPOConfig(n_envs=4, n_steps=3, n_iterations=2, batch_size=12, update_epochs=2,
                    critic_warmup_iterations=0, update_threads=update_threads)
    return PPOTrainer(DiffusionChainPolicy(config), ValueNetwork(config), backend, task, ppo,
                      seed=0, env_workers=1)


def _weights_digest(trainer: PPOTrainer) -> str:
    digest = hashlib.sha256()
    for parameter in [*trainer.policy.parameters(), *trainer.value_network.parameters()]:
        digest.update(parameter.detach().numpy().tobytes())
    return digest.hexdigest()


def test_the_update_runs_on_the_set_thread_count_and_the_count_is_restored(monkeypatch):
    seen = []
    update = trainer_module.ppo_update

    def recording_update(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return update(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "ppo_update", recording_update)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    trainer = _trainer(update_threads=2)
    try:
        trainer.run_iteration()
        assert seen == [2]
        assert torch.get_num_threads() == 1
    finally:
        trainer.close()
        torch.set_num_threads(before)


def test_a_fixed_thread_count_trains_the_same_weights_every_time():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        digests = []
        for _ in range(2):
            trainer = _trainer(update_threads=2)
            try:
                trainer.train(2)
                digests.append(_weights_digest(trainer))
            finally:
                trainer.close()
        assert digests[0] == digests[1]
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("value", [0, -1])
def test_update_threads_must_be_positive(value):
    with pytest.raises(UserError, match="update_threads must be >= 1"):
        PPOConfig(update_threads=value)
