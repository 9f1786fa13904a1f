"""The shared PPO update: critic warm-up, KL early stop, learning on a one-step bandit."""

from __future__ import annotations

import copy

import pytest
import torch
from policy_fixtures import state_obs, tiny_config

from diffrl_eval.errors import UserError
from generators.policy.diffusion_likelihood import DiffusionChainPolicy
from generators.policy.gaussian_head import GaussianPolicy
from generators.policy.value import ValueNetwork
from generators.ppo.config import PPOConfig
from generators.ppo.lr_schedule import make_lr_scheduler
from generators.ppo.update import RolloutBatch, ppo_update

torch.set_num_threads(1)


def bandit_batch(policy, value_network, n: int, target: float, seed: int) -> RolloutBatch:
    """One-decision episodes with reward -(first action - target)^2 summed over dims."""
    obs = state_obs(n, policy.config, seed=seed)
    step = policy.act(obs, generator=torch.Generator().manual_seed(seed))
    rewards = -((step.action_chunk[:, 0] - target) ** 2).sum(-1)
    with torch.no_grad():
        values = value_network(obs)
    return RolloutBatch(obs, step.record, step.log_prob, rewards - values, rewards)


def optimizers(policy, value_network, config):
    return (
        torch.optim.Adam(policy.parameters(), lr=config.actor_lr),
        torch.optim.Adam(value_network.parameters(), lr=config.critic_lr),
    )


def ppo_config(**overrides) -> PPOConfig:
    values = {
        "n_envs": 1,
        "n_steps": 1,
        "n_iterations": 10,
        "batch_size": 64,
        "update_epochs": 4,
        "critic_warmup_iterations": 1,
        "target_kl": None,
        "clip_coef": 0.2,
    }
    values.update(overrides)
    return PPOConfig(**values)


def run_bandit_updates(policy, value_network, config, actor_optimizer, critic_optimizer,
                       iterations: int) -> None:
    """``iterations`` PPO updates, each on a fresh 64-decision bandit batch (target 0.5)."""
    for iteration in range(iterations):
        batch = bandit_batch(policy, value_network, 64, 0.5, seed=iteration)
        ppo_update(policy, value_network, batch, config, actor_optimizer, critic_optimizer,
                   iteration=iteration, generator=torch.Generator().manual_seed(iteration))


@pytest.mark.parametrize("policy_cls", [DiffusionChainPolicy, GaussianPolicy])
def test_critic_warmup_updates_only_the_value_network(policy_cls):
    torch.manual_seed(0)
    policy = policy_cls(tiny_config())
    value_network = ValueNetwork(tiny_config())
    config = ppo_config()
    batch = bandit_batch(policy, value_network, 32, 0.5, seed=0)
    before_policy = copy.deepcopy(policy.state_dict())
    before_value = copy.deepcopy(value_network.state_dict())
    stats = ppo_update(
        policy,
        value_network,
        batch,
        config,
        *optimizers(policy, value_network, config),
        iteration=0,
    )
    assert stats["critic_warmup"] == 1.0
    assert all(torch.equal(v, policy.state_dict()[k]) for k, v in before_policy.items())
    assert any(not torch.equal(v, value_network.state_dict()[k]) for k, v in before_value.items())


def test_update_stops_early_once_the_kl_estimate_exceeds_the_target():
    torch.manual_seed(0)
    policy = GaussianPolicy(tiny_config())
    value_network = ValueNetwork(tiny_config())
    config = ppo_config(target_kl=1e-9, actor_lr=1e-2, batch_size=8, update_epochs=10)
    batch = bandit_batch(policy, value_network, 64, 0.5, seed=0)
    stats = ppo_update(
        policy,
        value_network,
        batch,
        config,
        *optimizers(policy, value_network, config),
        iteration=5,
    )
    assert stats["stopped_early"] == 1.0
    # the first minibatch's ratio is exactly 1 (KL 0); it stops right after the second
    assert stats["approx_kl"] > 0


def test_ppo_moves_the_gaussian_policy_towards_the_rewarded_action():
    torch.manual_seed(0)
    policy = GaussianPolicy(tiny_config(init_std=0.3))
    value_network = ValueNetwork(tiny_config())
    config = ppo_config(actor_lr=3e-3, critic_lr=3e-3, critic_warmup_iterations=0)
    actor_optimizer, critic_optimizer = optimizers(policy, value_network, config)
    obs = state_obs(64, policy.config, seed=99)

    def distance_to_target() -> float:
        return float((policy.predict_action(obs)[:, 0] - 0.5).abs().mean())

    start = distance_to_target()
    run_bandit_updates(policy, value_network, config, actor_optimizer, critic_optimizer, 10)
    assert distance_to_target() < 0.5 * start


def test_ppo_over_the_denoising_chain_raises_the_bandit_reward():
    torch.manual_seed(0)
    policy = DiffusionChainPolicy(tiny_config(decoder="mlp"))
    value_network = ValueNetwork(tiny_config())
    config = ppo_config(actor_lr=1e-3, critic_lr=3e-3, critic_warmup_iterations=0, clip_coef=0.05)
    actor_optimizer, critic_optimizer = optimizers(policy, value_network, config)

    def mean_reward(seed: int) -> float:
        obs = state_obs(128, policy.config, seed=seed)
        chunk = policy.act(obs, generator=torch.Generator().manual_seed(seed)).action_chunk
        return float(-((chunk[:, 0] - 0.5) ** 2).sum(-1).mean())

    start = mean_reward(1000)
    run_bandit_updates(policy, value_network, config, actor_optimizer, critic_optimizer, 8)
    assert mean_reward(1000) > start + 0.1 * abs(start)


def test_cosine_schedule_anneals_to_the_floor_and_constant_stays():
    parameter = torch.nn.Parameter(torch.zeros(1))
    cosine_opt = torch.optim.SGD([parameter], lr=1.0)
    cosine = make_lr_scheduler(cosine_opt, "cosine", n_iterations=4, min_lr_fraction=0.1)
    constant_opt = torch.optim.SGD([parameter], lr=1.0)
    constant = make_lr_scheduler(constant_opt, "constant", n_iterations=4, min_lr_fraction=0.1)
    cosine_rates, constant_rates = [], []
    for _ in range(5):
        cosine_rates.append(cosine_opt.param_groups[0]["lr"])
        constant_rates.append(constant_opt.param_groups[0]["lr"])
        cosine_opt.step(), constant_opt.step()
        cosine.step(), constant.step()
    # 0.1 + 0.9 * (1 + cos(pi * i / 4)) / 2 for i = 0..4
    assert cosine_rates == pytest.approx([1.0, 0.868198, 0.55, 0.231802, 0.1], abs=1e-6)
    assert constant_rates == [1.0] * 5


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"lr_schedule": "linear"}, "lr_schedule"),
        ({"gamma_denoise": 1.5}, "gamma_denoise"),
        ({"batch_size": 0}, "batch_size"),
        ({"target_kl": 0.0}, "target_kl"),
        ({"critic_warmup_iterations": 10, "n_iterations": 10}, "critic_warmup_iterations"),
    ],
)
def test_ppo_config_rejects_nonsense_with_a_one_line_error(overrides, field):
    with pytest.raises(UserError, match=field) as excinfo:
        PPOConfig(**overrides)
    assert "\n" not in str(excinfo.value)
