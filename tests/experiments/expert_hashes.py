"""Content hashes of tiny fixed-seed expert runs (both heads) and of a dataset written from
the experts' deterministic rollouts: BC, policy and value weights and configs, curves
without timings, run.json, expert.json without timings and device, the expert cache keys
and the default heads' generator configs. A refactor of the expert code keeps them equal.

    HASH_OUT=before.json python tests/experiments/expert_hashes.py
    HASH_OUT=after.json python tests/experiments/expert_hashes.py --device auto
    cmp before.json after.json

Extra arguments go to ``train-expert``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import polars as pl

from diffrl_eval import registry
from diffrl_eval.cli import main
from diffrl_eval.dataset.writer import write_dataset
from diffrl_eval.envs.tabletop import TabletopBackend
from generators.diffusion_ppo import DiffusionPPOGenerator
from generators.expert.evaluation import rollout_episodes
from generators.expert_commands import expert_generator, expert_overrides
from generators.gaussian_ppo import GaussianPPOGenerator

TASK = "goal_open_drawer"
OPTIONS = ["ppo.n_steps=2", "ppo.critic_warmup_iterations=1", "policy.mlp_hidden=[16]",
           "policy.encoder_hidden=16", "policy.obs_feature_dim=8", "policy.horizon=8",
           "policy.action_steps=8"]
TINY = ["--task", TASK, "--bc-steps", "20", "--demos", "3", "--n-envs", "2",
        "--batch-size", "16", *[arg for option in OPTIONS for arg in ("--option", option)]]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def tree_digests(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): digest(p.read_bytes())
            for p in sorted(directory.rglob("*")) if p.is_file()}


def run_digests(source: str, root: Path, extra: list[str]) -> dict[str, object]:
    out = root / source
    try:
        main(["train-expert", "--source", source, "--out", str(out), "--iterations", "3",
              *TINY, *extra])
    except SystemExit as exit_info:
        assert exit_info.code in (0, None), exit_info.code
    run = out / TASK
    found: dict[str, object] = {}
    for part in ("bc", "policy", "value"):
        found.update({f"{part}/{name}": value for name, value in tree_digests(run / part).items()
                      if name != "bc.json"})
    curves = pl.read_parquet(run / "curves.parquet")
    curves = curves.drop([c for c in curves.columns if "seconds" in c or "per_second" in c])
    found["curves"] = digest(json.dumps(curves.to_dicts(), sort_keys=True).encode())
    found["run.json"] = digest((run / "run.json").read_bytes())
    summary = json.loads((run / "expert.json").read_text())
    summary.pop("ppo_seconds")
    summary["bc"].pop("seconds")
    summary.pop("device", None)
    found["expert.json"] = digest(json.dumps(summary, sort_keys=True).encode())
    backend = TabletopBackend()
    overrides = expert_overrides(OPTIONS, n_envs=2, batch_size=16, iterations=3, bc_steps=20,
                                 demos=3)
    generator = expert_generator(source, backend, overrides, 3)
    found["config_dict"] = digest(json.dumps(generator.config_dict(), sort_keys=True).encode())
    found["expert_dir_key"] = generator.expert_dir(backend.task(TASK), 0).name
    policy = generator.expert_run(backend.task(TASK), run).train()
    episodes = rollout_episodes(policy, backend, backend.task(TASK), [0, 1, 2], seed=5,
                                n_envs=3, chunk_join=generator.config.chunk_join)
    dataset = write_dataset(root / f"ds-{source}", episodes, source=source,
                            backend="tabletop", suite=None,
                            generator_config=generator.config_dict())
    found["dataset"] = tree_digests(dataset)
    return found


def all_digests(extra: list[str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        found: dict[str, object] = {source: run_digests(source, Path(tmp), extra)
                                    for source in ("diffusion-ppo", "gaussian-ppo")}
    backend = TabletopBackend()
    for cls in (DiffusionPPOGenerator, GaussianPPOGenerator):
        assert registry.generators.load(cls.name) is cls
        generator = cls(backend)
        found[f"default-{cls.name}"] = {
            "config_dict": json.dumps(generator.config_dict(), sort_keys=True),
            "key": generator.expert_dir(backend.task(TASK), 0).name}
    return found


if __name__ == "__main__":  # environment workers re-import this module
    Path(os.environ["HASH_OUT"]).write_text(
        json.dumps(all_digests(sys.argv[1:]), indent=1, sort_keys=True))
