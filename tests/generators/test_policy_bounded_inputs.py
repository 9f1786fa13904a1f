"""Observation normalization that cannot blow up, and the Gaussian head's std range."""

from __future__ import annotations

import math

import pytest
import torch
from policy_fixtures import state_obs, tiny_config

from diffrl_eval.constants import OBS_STATE, STATE_DIM
from diffrl_eval.errors import UserError
from generators.policy.encoders import ObservationEncoder
from generators.policy.gaussian_head import GaussianPolicy
from generators.policy.normalizer import RangeNormalizer

torch.set_num_threads(1)


def barely_moving_states() -> torch.Tensor:
    """(100, 2, Dp): dimension 0 spans 1e-3 in the data, the others span 2."""
    states = torch.rand(100, 2, STATE_DIM) * 2 - 1
    states[..., 0] = 0.5 + torch.linspace(0, 1e-3, 100)[:, None]
    return states


def test_range_floor_bounds_the_gain_of_a_barely_moving_dimension():
    data = barely_moving_states()
    plain, floored = RangeNormalizer(STATE_DIM), RangeNormalizer(STATE_DIM)
    plain.fit(data)
    floored.fit(data, min_range=0.05)
    extreme = data[0, 0].clone()
    extreme[0] += 0.05  # 5 cm beyond anything demonstrated
    assert float(plain.normalize(extreme)[0]) == pytest.approx(99.0, rel=1e-3)  # 2 / 1e-3 gain
    # the floored range 0.05 has gain 2 / 0.05 = 40: (0.05 - 0.0005 offset) * 40 = 1.98
    assert float(floored.scale[0]) == pytest.approx(40.0)
    assert float(floored.normalize(extreme)[0]) == pytest.approx(1.98, rel=1e-3)
    # dimensions wider than the floor keep their own range
    assert torch.equal(plain.scale[1:], floored.scale[1:])


def test_clipped_inputs_stay_within_the_clip_on_an_extreme_observation():
    config = tiny_config(obs_min_range=0.05, obs_clip=5.0)
    encoder = ObservationEncoder(config)
    encoder.fit_normalizers({OBS_STATE: barely_moving_states()})
    obs = state_obs(4, config)
    obs[OBS_STATE][0, -1, 0] = 1e6
    with torch.no_grad():
        cond = encoder(obs)
    proprio = cond[:, -config.n_obs_steps * config.proprio_dim:]  # the normalized proprio
    assert float(proprio.abs().max()) == 5.0
    assert torch.isfinite(cond).all()


def test_gaussian_std_stays_in_its_range_under_updates_that_push_it_out():
    config = tiny_config(min_std=0.01, max_std=0.2, init_std=0.1, rl_init_std=0.1)
    policy = GaussianPolicy(config)
    with torch.no_grad():
        policy.log_std.fill_(math.log(0.3))  # what an NLL fit on whole chunks leaves
    assert torch.allclose(policy.std(), torch.full((7,), 0.2))
    policy.start_fine_tuning()  # PPO starts from rl_init_std
    assert torch.allclose(policy.std(), torch.full((7,), 0.1))
    optimizer = torch.optim.SGD([policy.log_std], lr=10.0)
    for sign, steps in ((1.0, 3), (-1.0, 6)):  # push the std down hard, then up hard
        for _ in range(steps):
            optimizer.zero_grad()
            (sign * policy.log_std.sum()).backward()
            optimizer.step()
            std = policy.std().detach()
            assert float(std.min()) >= 0.01 - 1e-7 and float(std.max()) <= 0.2 + 1e-7
        expected = 0.01 if sign > 0 else 0.2
        assert torch.allclose(policy.std(), torch.full((7,), expected))
    obs = state_obs(64, config)
    step = policy.act(obs, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(step.log_prob).all()


@pytest.mark.parametrize("overrides, fragment", [
    ({"min_std": 0.2, "max_std": 0.2, "init_std": 0.2}, "min_std < max_std"),
    ({"min_std": 0.3, "max_std": 0.2, "init_std": 0.25}, "min_std < max_std"),
    ({"min_std": 0.01, "max_std": 0.2, "init_std": 0.1, "rl_init_std": 0.5}, "rl_init_std"),
    ({"obs_clip": 0.0}, "obs_clip must be > 0"),
    ({"obs_min_range": -1.0}, "obs_min_range must be >= 0"),
])
def test_bad_std_and_normalization_settings_are_refused(overrides, fragment):
    with pytest.raises(UserError, match=fragment):
        tiny_config(**overrides)
