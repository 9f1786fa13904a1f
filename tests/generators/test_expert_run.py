"""Expert training runs: artefacts, resuming after a kill, and refusals of bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import polars as pl
import torch
from conftest import run_cli

from diffrl_eval.envs.tabletop import TabletopBackend
from generators.expert.observation import state_policy_config
from generators.expert.run import (
    CURVES_FILE,
    STATE_PREFIX,
    SUMMARY_FILE,
    restore_trainer_state,
    trainer_state,
)
from generators.gaussian_ppo import GaussianPPOGenerator
from generators.policy import GaussianPolicy, ValueNetwork
from generators.ppo.trainer import PPOTrainer

torch.set_num_threads(1)

TASK = "goal_open_drawer"
ITERATIONS = 40
TINY_FLAGS = [
    "--task", TASK, "--bc-steps", "20", "--demos", "3", "--n-envs", "2", "--batch-size", "16",
    "--option", "ppo.n_steps=2", "--option", "ppo.critic_warmup_iterations=1",
    "--option", 'policy.mlp_hidden=[16]', "--option", "policy.encoder_hidden=16",
    "--option", "policy.obs_feature_dim=8", "--option", "policy.horizon=8",
    "--option", "policy.action_steps=8",
]


def test_train_expert_writes_checkpoints_curves_and_a_summary(tmp_path, capsys):
    out = tmp_path / "experts"
    cli_run = run_cli(["train-expert", "--source", "gaussian-ppo", "--out", str(out),
                       "--iterations", "3", *TINY_FLAGS], capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 0, text
    run = out / TASK
    assert (run / SUMMARY_FILE).is_file()
    for part in ("policy", "value", "bc"):
        assert (run / part / "weights.safetensors").is_file()
        assert (run / part / "config.json").is_file()
    curves = pl.read_parquet(run / CURVES_FILE)
    assert curves["iteration"].to_list() == [0, 1, 2]
    for column in ("success_rate", "episode_return", "approx_kl", "clip_fraction",
                   "value_loss", "env_steps"):
        assert column in curves.columns
    assert not list(run.glob(f"{STATE_PREFIX}*")), "resume state is dropped once finished"
    summary = json.loads((run / SUMMARY_FILE).read_text())
    assert summary["iterations"] == 3
    assert summary["env_steps"] == int(curves["env_steps"].sum())
    # a second call finds the finished expert and trains nothing
    cli_run = run_cli(["train-expert", "--source", "gaussian-ppo", "--out", str(out),
                       "--iterations", "3", *TINY_FLAGS], capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 0 and "finished expert found" in text


def test_a_killed_run_resumes_from_its_last_iteration(tmp_path, capsys):
    out = tmp_path / "experts"
    def args_for(iterations):
        return ["train-expert", "--source", "gaussian-ppo", "--out", str(out),
                "--iterations", str(iterations), *TINY_FLAGS]

    args = args_for(ITERATIONS)
    process = subprocess.Popen([sys.executable, "-m", "diffrl_eval", *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    run = out / TASK
    try:
        deadline = time.monotonic() + 300
        while not sorted(run.glob(f"{STATE_PREFIX}0000[2-9]")):
            assert process.poll() is None, "training ended before it could be killed"
            assert time.monotonic() < deadline, "no iteration finished in time"
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    done_before = pl.read_parquet(run / CURVES_FILE).height
    assert not (run / SUMMARY_FILE).exists()
    # without --resume the interrupted run is refused, and left alone
    cli_run = run_cli(args, capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 2 and "--resume" in text
    # the budget is part of the run's identity: another budget is another run
    cli_run = run_cli([*args_for(ITERATIONS + 1), "--resume"], capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 2 and "another expert run" in text
    bc_weights = (run / "bc" / "weights.safetensors").stat().st_mtime_ns
    cli_run = run_cli([*args, "--resume"], capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 0, text
    curves = pl.read_parquet(run / CURVES_FILE)
    assert curves["iteration"].to_list() == list(range(ITERATIONS))
    assert done_before >= 2
    assert (run / SUMMARY_FILE).is_file()
    # it continued: behaviour cloning was not redone
    assert (run / "bc" / "weights.safetensors").stat().st_mtime_ns == bc_weights


def test_trainer_state_restores_weights_optimizers_schedules_and_random_streams():
    backend = TabletopBackend()
    task = backend.task(TASK)
    config = GaussianPPOGenerator.make_config({
        "n_demonstrations": 3, "bc_gradient_steps": 5,
        "policy": {"mlp_hidden": [16], "encoder_hidden": 16, "obs_feature_dim": 8,
                   "horizon": 8, "action_steps": 8},
        "ppo": {"n_envs": 2, "n_steps": 2, "n_iterations": 5, "batch_size": 16,
                "critic_warmup_iterations": 1},
    })
    obs, _ = backend.make_env(TASK).reset(seed=0)
    policy_config = state_policy_config(obs, **config.policy)

    def fresh(seed):
        torch.manual_seed(seed)
        return PPOTrainer(GaussianPolicy(policy_config), ValueNetwork(policy_config), backend,
                          task, config.ppo_config(), seed=seed)

    first, second = fresh(0), fresh(1)
    try:
        first.train(2)
        tensors, meta = trainer_state(first)
        meta = json.loads(json.dumps(meta))  # what is written to disk is JSON
        restore_trainer_state(second, tensors, meta)
        assert second.iteration == 2
        for a, b in zip(first.policy.state_dict().values(), second.policy.state_dict().values()):
            assert torch.equal(a, b)
        for a, b in zip(first.value_network.state_dict().values(),
                        second.value_network.state_dict().values()):
            assert torch.equal(a, b)
        for name in ("actor_optimizer", "critic_optimizer"):
            state_a = getattr(first, name).state_dict()
            state_b = getattr(second, name).state_dict()
            assert state_a["param_groups"][0]["lr"] == state_b["param_groups"][0]["lr"]
            for index, values in state_a["state"].items():
                for key, value in values.items():
                    assert torch.equal(value, state_b["state"][index][key]), (name, key)
        assert first.actor_scheduler.get_last_lr() == second.actor_scheduler.get_last_lr()
        assert torch.equal(first.generator.get_state(), second.generator.get_state())
        assert first.starts.rng.integers(1 << 30) == second.starts.rng.integers(1 << 30)
    finally:
        first.close()
        second.close()


def test_train_expert_bad_input_is_a_one_line_error(tmp_path, capsys):
    base = ["train-expert", "--out", str(tmp_path / "x"), "--task", TASK]
    cases = [
        (["--source", "human"], "has no expert to train"),
        (["--source", "gaussian-ppo", "--iterations", "0"], "n_iterations must be >= 1"),
        (["--source", "gaussian-ppo", "--n-envs", "-2"], "n_envs must be >= 1"),
        (["--source", "diffusion-ppo", "--sampler", "euler"], "sampler must be one of"),
        (["--source", "diffusion-ppo", "--lr-schedule", "step"], "lr_schedule must be one of"),
        (["--source", "diffusion-ppo", "--decoder", "transformer"], "decoder must be one of"),
        (["--source", "gaussian-ppo", "--bc-steps", "0"], "gradient_steps must be >= 1"),
        (["--source", "gaussian-ppo", "--option", "ppo.clip=0.2"], "unknown PPO option"),
    ]
    for extra, message in cases:
        cli_run = run_cli([*base, *extra], capsys)
        code, text = cli_run.code, cli_run.text
        assert code == 2, (extra, text)
        assert message in text, (extra, text)
        assert len(text.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists(), "nothing is written for bad input"
    cli_run = run_cli(["train-expert", "--source", "gaussian-ppo", "--task", "no_such_task"],
                      capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 2 and "no_such_task" in text


def test_a_corrupted_trainer_state_is_refused_on_resume(tmp_path, capsys):
    out = tmp_path / "experts"
    args = ["train-expert", "--source", "gaussian-ppo", "--out", str(out),
            "--iterations", "3", *TINY_FLAGS]
    code = run_cli(args, capsys).code
    assert code == 0
    run = out / TASK
    # turn the finished run back into an interrupted one with a damaged state
    (run / SUMMARY_FILE).unlink()
    state = run / f"{STATE_PREFIX}00002"
    state.mkdir()
    (state / "trainer.safetensors").write_bytes(b"not safetensors")
    (state / "trainer.json").write_text("{}")
    cli_run = run_cli([*args, "--resume"], capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 2 and "corrupted trainer state" in text


def test_ablate_trains_each_variant_and_writes_curves_and_a_chart(tmp_path, capsys):
    out = tmp_path / "ablation"
    flags = [f for f in TINY_FLAGS if f not in ("--task", TASK)]
    flags[flags.index("--n-envs"):flags.index("--n-envs") + 2] = ["--option", "ppo.n_envs=2"]
    flags[flags.index("--batch-size"):flags.index("--batch-size") + 2] = ["--option",
                                                                          "ppo.batch_size=16"]
    # long enough rollouts that episodes end (at the step limit) and curves have points
    flags[flags.index("ppo.n_steps=2")] = "ppo.n_steps=40"
    cli_run = run_cli(["ablate", "--task", TASK, "--out", str(out), "--source",
                       "gaussian-ppo", "--variants", "default,cosine-lr",
                       "--iterations", "2", *flags], capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 0, text
    curves = pl.read_parquet(out / "curves.parquet")
    assert curves["variant"].unique(maintain_order=True).to_list() == ["default", "cosine-lr"]
    for variant in ("default", "cosine-lr"):
        part = curves.filter(pl.col("variant") == variant)
        assert part["iteration"].to_list() == [0, 1]
        history = pl.read_parquet(out / variant / CURVES_FILE)
        # env steps accumulate over the variant's own iterations
        assert part["env_steps"].to_list() == history["env_steps"].cum_sum().cast(int).to_list()
    runs = {v: json.loads((out / v / "run.json").read_text()) for v in ("default", "cosine-lr")}
    assert runs["default"]["settings"]["ppo"]["lr_schedule"] == "constant"  # the recipe's
    assert runs["cosine-lr"]["settings"]["ppo"]["lr_schedule"] == "cosine"
    page = (out / "ablation.html").read_text()
    assert "cosine-lr" in page
    cli_run = run_cli(["ablate", "--task", TASK, "--out", str(out), "--variants", "warp-drive"],
                      capsys)
    code, text = cli_run.code, cli_run.text
    assert code == 2 and "warp-drive" in text and "cosine-lr" in text
