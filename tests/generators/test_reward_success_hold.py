"""The success_hold reward mode (1 per step while the goal holds, no termination at
success), its time-limit handling, and running reward scaling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffrl_eval.errors import UserError
from generators.expert.reward import SuccessHoldEnv
from generators.ppo.config import PPOConfig
from generators.ppo.gae import compute_gae
from generators.ppo.reward_scaling import RunningRewardScaler

SUCCESSES = [False, True, True, False, True, True, True, False]  # the goal holds after step i
GAMMA = 0.9


class ScriptedEnv:
    """Ends at the first success with reward 1, as the tabletop tasks do."""

    def __init__(self) -> None:
        self.steps = 0

    def reset(self, **_):
        self.steps = 0
        return {}, {}

    def step(self, action):
        success = SUCCESSES[self.steps]
        self.steps += 1
        return {}, float(success), success, False, {"success": success}

    def close(self) -> None:
        pass


def run_episode(hold_steps):
    env = SuccessHoldEnv(ScriptedEnv(), max_steps=len(SUCCESSES), hold_steps=hold_steps)
    env.reset()
    rewards, ends = [], None
    while ends is None:
        _, reward, terminated, truncated, _ = env.step(np.zeros(7))
        rewards.append(reward)
        if terminated or truncated:
            ends = "terminated" if terminated else "truncated"
    return rewards, ends


def returns_of(rewards, *, bootstrap):
    """Value targets with a zero critic and lambda 1: the discounted returns."""
    steps = len(rewards)
    reward = torch.tensor(rewards)[:, None]
    reward[-1] += bootstrap
    dones = torch.zeros(steps, 1, dtype=torch.bool)
    dones[-1] = True
    _, returns = compute_gae(reward, torch.zeros(steps, 1), dones, torch.zeros(1),
                             gamma=GAMMA, gae_lambda=1.0)
    return returns[:, 0].tolist()


def test_success_hold_pays_every_held_step_and_runs_to_the_time_limit():
    rewards, ends = run_episode(hold_steps=None)
    assert rewards == [0, 1, 1, 0, 1, 1, 1, 0]  # success at step 2 did not end it
    assert ends == "truncated"
    # a truncation bootstraps from the critic: gamma * V(final) with V(final) = 2
    returns = returns_of(rewards, bootstrap=GAMMA * 2.0)
    expected = [4.34896542, 4.8321838, 4.257982, 3.61998, 4.0222, 3.358, 2.62, 1.8]
    assert returns == pytest.approx(expected, abs=1e-5)


def test_success_hold_ends_as_a_termination_after_holding_n_steps():
    rewards, ends = run_episode(hold_steps=3)
    assert rewards == [0, 1, 1, 0, 1, 1, 1]  # steps 5-7 held three in a row
    assert ends == "terminated"
    returns = returns_of(rewards, bootstrap=0.0)  # a termination: nothing to bootstrap
    expected = [3.488031, 3.87559, 3.1951, 2.439, 2.71, 1.9, 1.0]
    assert returns == pytest.approx(expected, abs=1e-5)


def test_running_reward_scaling_divides_by_the_spread_of_the_discounted_return():
    scaler = RunningRewardScaler(n_envs=1, gamma=0.5)
    rewards = np.array([[1.0], [1.0], [0.0]])
    scaled = scaler(rewards, np.zeros((3, 1), dtype=bool))
    # discounted returns seen: 1, 1.5, 0.75; their variance is 0.0972 (a tiny prior aside)
    assert scaled[:, 0] == pytest.approx([1 / np.sqrt(0.0972222)] * 2 + [0.0], rel=1e-3)
    # after an episode ends its return restarts from zero
    scaler = RunningRewardScaler(n_envs=1, gamma=0.5)
    scaler(np.array([[1.0], [1.0]]), np.array([[False], [True]]))
    assert scaler.returns.tolist() == [0.0]


@pytest.mark.parametrize("overrides, fragment", [
    ({"reward_mode": "dense"}, "reward_mode must be one of success_once, success_hold"),
    ({"success_hold_steps": 5}, "success_hold_steps needs reward_mode success_hold"),
    ({"reward_mode": "success_hold", "success_hold_steps": 0}, "success_hold_steps must be"),
])
def test_bad_reward_settings_are_refused(overrides, fragment):
    with pytest.raises(UserError, match=fragment):
        PPOConfig(**overrides)
