"""Behaviour cloning on teleoperated demonstrations, evaluation, and the PPO loop, end to end
on a tabletop task with tiny networks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from diffrl_eval.envs.tabletop import TabletopBackend
from generators.expert import (
    BCConfig,
    demonstration_set,
    evaluate,
    rollout_episodes,
    state_policy_config,
    train_bc,
)
from generators.human import HumanGenerator
from generators.policy import DiffusionChainPolicy, GaussianPolicy, ValueNetwork
from generators.ppo.config import PPOConfig
from generators.ppo.trainer import PPOTrainer

torch.set_num_threads(1)

TASK = "goal_open_drawer"
POLICIES = {"diffusion": DiffusionChainPolicy, "gaussian": GaussianPolicy}


@pytest.fixture(scope="module")
def backend():
    return TabletopBackend()


@pytest.fixture(scope="module")
def task(backend):
    return backend.task(TASK)


@pytest.fixture(scope="module")
def config(backend):
    obs, _ = backend.make_env(TASK).reset(seed=0)
    return state_policy_config(
        obs, horizon=8, action_steps=4, n_obs_steps=2, decoder="mlp", encoder_hidden=32,
        obs_feature_dim=16, step_embed_dim=16, mlp_hidden=(64, 64),
    )


@pytest.fixture(scope="module")
def demonstrations(backend, task, config):
    episodes = list(HumanGenerator(backend).generate(task, 20, seed=0))
    return demonstration_set(backend, episodes, config.n_obs_steps, config.horizon)


@pytest.fixture(scope="module")
def cloned(config, demonstrations):
    """One behaviour-cloned policy of each kind, with its BC statistics."""
    result = {}
    for kind, cls in POLICIES.items():
        torch.manual_seed(0)
        policy = cls(config)
        stats = train_bc(policy, demonstrations, BCConfig(gradient_steps=300, batch_size=64),
                         seed=0)
        result[kind] = (policy, stats)
    return result


@pytest.mark.parametrize("kind", POLICIES)
def test_behaviour_cloning_lowers_the_loss_and_fits_the_normalizers(kind, cloned):
    policy, stats = cloned[kind]
    assert len(stats.losses) == 300
    assert stats.final_loss < 0.7 * np.mean(stats.losses[:10])
    assert bool(policy.action_normalizer.fitted)
    assert bool(policy.encoder.lowdim_normalizer.fitted)


@pytest.mark.parametrize("kind", POLICIES)
def test_a_cloned_policy_runs_whole_episodes_and_reports_a_success_rate(
    kind, cloned, backend, task
):
    policy, _ = cloned[kind]
    episodes = rollout_episodes(policy, backend, task, [0, 1, 2], seed=0)
    assert [e.init_state_index for e in episodes] == [0, 1, 2]
    for episode in episodes:
        # an episode ends at success or at the task's step budget, nowhere else
        assert episode.success or episode.length == task.max_steps
        assert episode.success == bool(episode.successes[-1])
    result = evaluate(policy, backend, task, [0, 1, 2], seed=0)
    assert result.successes == [e.success for e in episodes]
    assert 0.0 <= result.success_rate <= 1.0


def test_deterministic_rollouts_repeat_exactly_for_the_same_seed(cloned, backend, task):
    policy, _ = cloned["diffusion"]
    first = rollout_episodes(policy, backend, task, [3, 4], seed=7, n_envs=2)
    again = rollout_episodes(policy, backend, task, [3, 4], seed=7, n_envs=2)
    other = rollout_episodes(policy, backend, task, [3, 4], seed=8, n_envs=2)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.actions, b.actions)
        assert a.seed == b.seed
    # the seed reaches the initial noise of the chain: another seed, other actions
    assert not np.array_equal(first[0].actions[:4], other[0].actions[:4])


@pytest.mark.parametrize("kind", POLICIES)
def test_two_ppo_iterations_run_and_report_finite_statistics(kind, cloned, config, backend,
                                                              task, demonstrations):
    policy, _ = cloned[kind]
    policy = type(policy)(config)
    policy.load_state_dict(cloned[kind][0].state_dict())
    value = ValueNetwork(config)
    value.fit_normalizers(demonstrations.obs)
    ppo = PPOConfig(n_envs=3, n_steps=4, n_iterations=3, batch_size=30, update_epochs=2,
                    critic_warmup_iterations=1)
    trainer = PPOTrainer(policy, value, backend, task, ppo, seed=0)
    before = [p.detach().clone() for p in policy.parameters()]
    try:
        history = trainer.train(2)
    finally:
        trainer.close()
    assert [s["iteration"] for s in history] == [0.0, 1.0]
    assert history[0]["critic_warmup"] == 1.0 and history[1]["critic_warmup"] == 0.0
    for name in ("approx_kl", "clip_fraction", "value_loss", "policy_loss", "entropy"):
        assert math.isfinite(history[1][name]), name
    # every decision executes Te actions unless its episode ends inside the chunk
    assert 0 < history[1]["env_steps"] <= ppo.n_envs * ppo.n_steps * config.action_steps
    changed = any(not torch.equal(a, b) for a, b in zip(before, policy.parameters()))
    assert changed, "the actor must learn once the critic warm-up is over"
    # cosine annealing: the actor's rate is lower after its first learning iteration
    assert trainer.actor_optimizer.param_groups[0]["lr"] < ppo.actor_lr
