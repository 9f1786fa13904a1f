"""Expert training on a torch device: ``--device`` checked before anything is written, the
CPU run unchanged whichever way the CPU is chosen, and no tensor of the training, rollout
or generation code created without a device (which would land on the CPU beside a GPU's
networks)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error, run_cli

import diffrl_eval.device as device_module
from diffrl_eval.envs.tabletop import TabletopBackend
from generators.expert import demonstration_set, rollout_episodes, state_policy_config
from generators.human import HumanGenerator
from generators.policy import DiffusionChainPolicy, GaussianPolicy, ValueNetwork
from generators.ppo.config import PPOConfig
from generators.ppo.trainer import PPOTrainer

torch.set_num_threads(1)

TASK = "goal_open_drawer"
TINY_FLAGS = [
    "--task", TASK, "--bc-steps", "10", "--demos", "2", "--n-envs", "2", "--batch-size", "16",
    "--iterations", "2", "--ppo", "n_steps=2", "--ppo", "critic_warmup_iterations=1",
    "--policy", "mlp_hidden=[16]", "--policy", "encoder_hidden=16",
    "--policy", "obs_feature_dim=8", "--policy", "horizon=8", "--policy", "action_steps=8",
    "--option", "env_workers=1",
]


@pytest.fixture
def no_accelerator(monkeypatch):
    """This machine as one without CUDA or MPS, whatever it has."""
    monkeypatch.setattr(device_module, "_has_cuda", lambda: False)
    monkeypatch.setattr(device_module, "_has_mps", lambda: False)


@pytest.mark.parametrize("command", ["train-expert", "ablate"])
@pytest.mark.parametrize("device, fragment", [
    ("cuda", "--device cuda: torch sees no CUDA GPU"),
    ("mps", "--device mps: Apple's MPS backend is not available"),
    ("tpu", "unknown --device 'tpu'; valid choices: auto, cpu, cuda, mps"),
])
def test_a_device_this_machine_lacks_is_one_line_exit_2_and_writes_nothing(
        command, device, fragment, no_accelerator, tmp_path, capsys):
    code, _, err = run_cli([command, "--task", TASK, "--out", tmp_path / "out",
                            "--device", device], capsys)
    assert_one_line_error(code, err, fragment)
    assert list(tmp_path.iterdir()) == []


def _weights_digest(run: Path) -> str:
    digest = hashlib.sha256()
    for part in ("bc", "policy", "value"):
        digest.update((run / part / "weights.safetensors").read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("source", ["diffusion-ppo", "gaussian-ppo"])
def test_device_cpu_and_auto_on_a_cpu_machine_train_the_same_expert(source, no_accelerator,
                                                                    tmp_path, capsys):
    digests = {}
    for device in ("cpu", "auto"):
        out = tmp_path / device
        cli = run_cli(["train-expert", "--source", source, "--out", out, "--device", device,
                       *TINY_FLAGS], capsys)
        assert cli.code == 0, cli.text
        digests[device] = _weights_digest(out / TASK)
    assert digests["cpu"] == digests["auto"]


# --- no tensor made without a device --------------------------------------------------------
@pytest.fixture(scope="module")
def setup():
    backend = TabletopBackend()
    task = backend.task(TASK)
    episodes = list(HumanGenerator(backend).generate(task, 2, seed=0))
    obs, _ = backend.make_env(TASK).reset(seed=0)
    config = state_policy_config(obs, horizon=8, action_steps=4, decoder="mlp",
                                 mlp_hidden=(16,), encoder_hidden=16, obs_feature_dim=8,
                                 step_embed_dim=8)
    demos = demonstration_set(backend, episodes, config.n_obs_steps, config.horizon)
    return backend, task, config, demos


@pytest.mark.parametrize("policy_cls, chunk_join", [(DiffusionChainPolicy, "warm-start"),
                                                    (GaussianPolicy, "blend")])
def test_training_rollouts_and_generation_create_no_tensor_without_a_device(
        policy_cls, chunk_join, setup):
    """With torch's default device set to ``meta``, a tensor made without an explicit
    device is a meta tensor, and the first operation that mixes it with the CPU networks
    fails: the networks stay on the CPU, so what passes here puts every tensor where its
    inputs are (or on the CPU on purpose, as the random draws and env actions)."""
    backend, task, config, demos = setup
    torch.manual_seed(0)
    policy = policy_cls(config)
    policy.fit_normalizers(demos.obs, demos.action_chunks)
    value = ValueNetwork(config)
    value.fit_normalizers(demos.obs)
    ppo = PPOConfig(n_envs=2, n_steps=3, n_iterations=4, batch_size=12, update_epochs=2,
                    critic_warmup_iterations=0, clip_coef_base=0.001, clip_coef=0.01,
                    reward_mode="success_hold", reward_scaling=True, target_kl=None,
                    gradient_agreement_every=1, eval_every=1)
    trainer = PPOTrainer(policy, value, backend, task, ppo, seed=0, device="cpu")
    try:
        trainer.run_iteration()  # the optimizers make their state (torch's own code)
        generator = torch.Generator().manual_seed(0)
        with torch.device("meta"):
            stats = trainer.run_iteration()
            loss = (policy.compute_loss(demos.obs, demos.action_chunks, generator=generator)
                    if policy.kind == "diffusion" else
                    policy.compute_loss(demos.obs, demos.action_chunks))
            episodes = rollout_episodes(policy, backend, task, [0, 1, 2], seed=3, n_envs=2,
                                        chunk_join=chunk_join)
    finally:
        trainer.close()
    assert math.isfinite(stats["value_loss"]) and math.isfinite(stats["policy_loss"])
    assert not math.isnan(stats["eval_success"])
    assert loss.device.type == "cpu" and torch.isfinite(loss)
    assert len(episodes) == 3 and all(e.length > 0 for e in episodes)
