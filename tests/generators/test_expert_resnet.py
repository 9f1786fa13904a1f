"""Camera-based experts (``--encoder resnet``): demonstrations replayed with cameras, BC and
PPO on rendered frames, deterministic rollouts, and the command line end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from diffrl_eval.cli import main
from diffrl_eval.constants import CAMERA_KEYS, OBS_AGENTVIEW_IMAGE, OBS_STATE
from diffrl_eval.envs.tabletop import TabletopBackend
from diffrl_eval.errors import UserError
from generators.expert import demonstration_set, rollout_episodes
from generators.expert.chunk_env import ChunkVectorEnv
from generators.expert.observation import (
    camera_env_options,
    expert_policy_config,
    observation_keys,
)
from generators.human import HumanGenerator
from generators.policy import DiffusionChainPolicy
from generators.policy.checkpoint import load_checkpoint

torch.set_num_threads(1)

TASK = "goal_open_drawer"
SIZE = 32
TINY_CAMERA_POLICY = {
    "encoder": "resnet", "image_size": SIZE, "encoder_channels": [8, 8],
    "group_norm_groups": 4, "obs_feature_dim": 8, "mlp_hidden": [16], "horizon": 8,
    "action_steps": 8, "decoder": "mlp", "step_embed_dim": 8,
}


@pytest.fixture(scope="module")
def backend():
    return TabletopBackend()


@pytest.fixture(scope="module")
def camera_config(backend):
    obs, _ = backend.make_env(TASK).reset(seed=0)
    return expert_policy_config(obs, **TINY_CAMERA_POLICY)


def test_a_resnet_config_reads_state_and_both_cameras(camera_config):
    assert camera_config.encoder == "resnet"
    assert observation_keys(camera_config) == (OBS_STATE, *CAMERA_KEYS)
    assert camera_env_options(camera_config) == {"images": True, "image_size": SIZE}


def test_demonstrations_are_replayed_with_camera_frames(backend, camera_config):
    task = backend.task(TASK)
    episodes = list(HumanGenerator(backend).generate(task, 2, seed=0))
    demos = demonstration_set(backend, episodes, camera_config.n_obs_steps,
                              camera_config.horizon, observation_keys(camera_config),
                              env_options=camera_env_options(camera_config))
    frames = demos.obs[OBS_AGENTVIEW_IMAGE]
    assert frames.dtype == torch.uint8
    assert tuple(frames.shape[1:]) == (camera_config.n_obs_steps, SIZE, SIZE, 3)
    assert len(frames) == len(demos)
    # real renders: the scene is not a constant image, and it changes along an episode
    assert frames.float().std() > 5
    assert not torch.equal(frames[0, -1], frames[-1, -1])


def test_chunk_envs_for_a_camera_policy_render_at_its_size(backend, camera_config):
    venv = ChunkVectorEnv.for_policy(backend, backend.task(TASK), 2, camera_config)
    try:
        venv.reset_env(0, seed=0, init_state_index=0)
        venv.reset_env(1, seed=1, init_state_index=1)
        obs = venv.observation()
    finally:
        venv.close()
    assert set(obs) == {OBS_STATE, *CAMERA_KEYS}
    assert tuple(obs[OBS_AGENTVIEW_IMAGE].shape) == (2, camera_config.n_obs_steps, SIZE, SIZE, 3)
    with pytest.raises(UserError, match="px"):
        ChunkVectorEnv.for_policy(backend, backend.task(TASK), 1, camera_config,
                                  images=True, image_size=SIZE * 2)


def test_train_expert_with_the_resnet_encoder_end_to_end(tmp_path, capsys, backend):
    out = tmp_path / "experts"
    args = ["train-expert", "--source", "diffusion-ppo", "--task", TASK, "--out", str(out),
            "--encoder", "resnet", "--bc-steps", "5", "--demos", "2", "--iterations", "3",
            "--n-envs", "2", "--batch-size", "20", "--option", "ppo.n_steps=2",
            "--option", "ppo.critic_warmup_iterations=1"]
    for key, value in TINY_CAMERA_POLICY.items():
        if key != "encoder":
            args += ["--option", f"policy.{key}={json.dumps(value)}"]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    text = capsys.readouterr()
    assert exit_info.value.code == 0, text.out + text.err
    policy = load_checkpoint(out / TASK / "policy", kind="diffusion")
    assert isinstance(policy, DiffusionChainPolicy)
    assert policy.config.encoder == "resnet" and policy.config.image_size == SIZE
    # the trained camera expert acts deterministically from rendered frames
    task = backend.task(TASK)
    first = rollout_episodes(policy, backend, task, [0, 1], seed=3, n_envs=2)
    again = rollout_episodes(policy, backend, task, [0, 1], seed=3, n_envs=2)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.actions, b.actions)
