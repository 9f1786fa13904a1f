"""Nonsense RL settings given on the command line: one line, exit code 2, nothing written."""

from __future__ import annotations

import pytest
from conftest import assert_one_line_error, run_cli

BAD_OPTIONS = [
    ("ppo.reward_mode=dense", "reward_mode must be one of success_once, success_hold"),
    ("policy.ft_denoising_steps=9", "ft_denoising_steps must be in [1, 5]"),
    ("policy.max_std=0.1", "min_std < max_std"),
    ("ppo.batch_size=0", "batch_size must be >= 1"),
    ("ppo.n_envs=-4", "n_envs must be >= 1"),
    ("ppo.n_steps=0", "n_steps must be >= 1"),
    ("ppo.train_starts=eval", "train_starts must be one of fixed, sampled"),
    # the diffusion recipe freezes its first step deterministically; without the frozen
    # steps there is nothing to make deterministic
    ("policy.ft_denoising_steps=null", "frozen_steps_deterministic needs"),
    ("ppo.update_threads=0", "update_threads must be >= 1"),
    ("policy.noise_time_correlation=1.0", "noise_time_correlation must be in [0, 1)"),
]
CASES = [("train-expert", *case) for case in BAD_OPTIONS] + [
    ("generate", *case) for case in BAD_OPTIONS[:3]
]


@pytest.mark.parametrize("command, option, fragment", CASES)
def test_a_bad_rl_setting_is_refused_in_one_line_before_anything_is_written(
        command, option, fragment, tmp_path, capsys):
    code, _, err = run_cli([command, "--source", "diffusion-ppo", "--task",
                            "spatial_left_cube_on_plate", "--out", tmp_path / "out",
                            "--option", option], capsys)
    assert_one_line_error(code, err, fragment)
    assert list(tmp_path.iterdir()) == []
