"""One expert's training directory: BC, PPO, curves, and resuming after a kill.

Layout of a run directory::

    run.json            what is trained (generator, backend, task, seed, settings); first
    bc/                 the behaviour-cloned policy and its statistics (bc.json)
    state-NNNNN/        trainer state after iteration NNNNN (weights, optimizer moments,
                        schedules, random streams); only the newest is kept
    curves.parquet      one row per PPO iteration (success, return, KL, clip fraction, ...)
    policy/  value/     the final expert (safetensors + JSON config)
    expert.json         summary, written last: its presence marks a finished expert

Every file and directory lands by rename, so a ``kill -9`` loses at most the iteration
in progress. Resuming loads the newest state and continues with the next iteration; the
environments start fresh episodes there (an episode cut by the kill is not recovered), so
a resumed run is a faithful continuation but not bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import io
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from diffrl_eval.atomic import (
    StagedDirectory,
    write_bytes_atomic,
    write_text_atomic,
)
from diffrl_eval.device import torch_threads
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from diffrl_eval.errors import UserError
from generators.expert.bc import train_bc
from generators.expert.bc_samples import demonstration_episodes, demonstration_set
from generators.expert.observation import (
    camera_env_options,
    expert_policy_config,
    observation_keys,
)
from generators.policy.checkpoint import load_checkpoint, save_checkpoint
from generators.policy.value import ValueNetwork
from generators.ppo.trainer import PPOTrainer

RUN_FILE = "run.json"
BC_DIR = "bc"
BC_STATS_FILE = "bc.json"
STATE_PREFIX = "state-"
CURVES_FILE = "curves.parquet"
POLICY_DIR, VALUE_DIR = "policy", "value"
SUMMARY_FILE = "expert.json"
TRAINER_WEIGHTS = "trainer.safetensors"
TRAINER_META = "trainer.json"

IterationCallback = Callable[[dict[str, float]], None]


# --- trainer state as safetensors + JSON (no pickles) ------------------------------------
def _optimizer_parts(prefix: str, optimizer: torch.optim.Optimizer
                     ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}/{index}/{name}"] = value.detach().cpu().clone().contiguous()
            else:
                scalars[f"{index}/{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _restore_optimizer(prefix: str, optimizer: torch.optim.Optimizer,
                       tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    per_param: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "/"):
            _, index, name = key.split("/", 2)
            per_param.setdefault(int(index), {})[name] = value
    for key, value in meta["scalars"].items():
        index, name = key.split("/", 1)
        per_param.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": per_param, "param_groups": meta["param_groups"]})


def trainer_state(trainer: PPOTrainer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Everything needed to continue ``trainer`` after its last finished iteration."""
    tensors = {f"policy/{k}": v.detach().cpu().clone().contiguous()
               for k, v in trainer.policy.state_dict().items()}
    tensors.update({f"value/{k}": v.detach().cpu().clone().contiguous()
                    for k, v in trainer.value_network.state_dict().items()})
    actor_tensors, actor_meta = _optimizer_parts("actor_optimizer", trainer.actor_optimizer)
    critic_tensors, critic_meta = _optimizer_parts("critic_optimizer", trainer.critic_optimizer)
    tensors.update(actor_tensors)
    tensors.update(critic_tensors)
    tensors["torch_generator"] = trainer.generator.get_state()
    meta = {
        "iteration": trainer.iteration,
        "actor_optimizer": actor_meta,
        "critic_optimizer": critic_meta,
        "actor_scheduler": trainer.actor_scheduler.state_dict(),
        "critic_scheduler": trainer.critic_scheduler.state_dict(),
        "starts_rng": trainer.starts.rng.bit_generator.state,
    }
    if trainer.reward_scaler is not None:
        meta["reward_scaler"] = trainer.reward_scaler.state_dict()
    return tensors, meta


def restore_trainer_state(trainer: PPOTrainer, tensors: dict[str, torch.Tensor],
                          meta: dict[str, Any]) -> None:
    """Inverse of :func:`trainer_state` (strict: every weight must be present)."""
    def sub(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}

    trainer.policy.load_state_dict(sub("policy/"), strict=True)
    trainer.value_network.load_state_dict(sub("value/"), strict=True)
    _restore_optimizer("actor_optimizer", trainer.actor_optimizer, tensors,
                       meta["actor_optimizer"])
    _restore_optimizer("critic_optimizer", trainer.critic_optimizer, tensors,
                       meta["critic_optimizer"])
    trainer.actor_scheduler.load_state_dict(meta["actor_scheduler"])
    trainer.critic_scheduler.load_state_dict(meta["critic_scheduler"])
    trainer.generator.set_state(tensors["torch_generator"])
    trainer.starts.rng.bit_generator.state = meta["starts_rng"]
    if trainer.reward_scaler is not None:
        trainer.reward_scaler.load_state_dict(meta["reward_scaler"])
    trainer.iteration = int(meta["iteration"])


def _write_dir_atomic(final: Path, fill: Callable[[Path], None]) -> None:
    """Create directory ``final`` (replacing an older one) by filling a registered staging
    sibling and renaming it; a kill leaves only the staging, which the next run removes.
    No claim of its own: a lock file beside every ``state-NNNNN`` (a new name each
    iteration) would outlive a ``kill -9``, with no later claim to remove it."""
    with StagedDirectory(final, overwrite=True, check=Path, claim=False) as staged:
        fill(staged.path)
        staged.commit()


# --- the run ------------------------------------------------------------------------------
class ExpertRun:
    """Train one expert (BC then PPO) in ``directory``, resumably.

    ``settings`` is the generator's configuration (an ``ExpertConfig``); it is written to
    ``run.json`` and a directory holding a different run is refused. ``device`` is the
    torch device BC and PPO run on (a resolved name: cpu, cuda, mps); it is not part of
    the run's identity, so a run may be resumed on another device. The checkpoints are
    written, and the trained policy returned, on the CPU.
    """

    def __init__(self, directory: Path, *, generator: str, policy_cls: type,
                 backend: EnvBackend, task: TaskSpec, seed: int, settings: Any,
                 device: str = "cpu") -> None:
        self.directory = Path(directory)
        self.device = device
        self.generator = generator
        self.policy_cls = policy_cls
        self.backend = backend
        self.task = task
        self.seed = seed
        self.settings = settings
        self.description = {
            "generator": generator, "backend": backend.name, "task": task.task_id,
            "seed": seed,
            "settings": settings.training_settings(),
        }

    # --- status -----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return (self.directory / SUMMARY_FILE).is_file()

    def latest_state(self) -> Path | None:
        states = sorted(self.directory.glob(f"{STATE_PREFIX}[0-9]*"))
        return states[-1] if states else None

    @property
    def started(self) -> bool:
        return (self.directory / RUN_FILE).is_file() and not self.finished

    def check_same_run(self) -> None:
        path = self.directory / RUN_FILE
        if not path.is_file():
            return
        try:
            saved = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"corrupted run file {path}: {exc}") from None
        if saved != json.loads(json.dumps(self.description)):
            differing = sorted(k for k in self.description
                               if saved.get(k) != json.loads(json.dumps(self.description[k])))
            raise UserError(
                f"{self.directory} holds another expert run (differs in "
                f"{', '.join(differing) or 'settings'}); choose another --out"
            )

    def load_policy(self):
        return load_checkpoint(self.directory / POLICY_DIR, kind=self.policy_cls.kind)

    def history(self) -> list[dict[str, float]]:
        path = self.directory / CURVES_FILE
        return pl.read_parquet(path).to_dicts() if path.is_file() else []

    # --- training ---------------------------------------------------------------------------
    def train(self, on_iteration: IterationCallback | None = None,
              on_stage: Callable[[str], None] | None = None):
        """Run (or finish) the training; returns the trained policy in eval mode.

        Runs on one torch thread (beside the environments or other workers, more would
        contend for the cores: two made the PPO update 25x slower on busy cores), except
        PPO's updates, which use ``ppo.update_threads`` while the env workers wait (1.7x
        faster on two free cores; reports/results/rl-throughput.md). On a GPU the thread
        only feeds the device.
        """
        if self.finished:
            return self.load_policy()
        with torch_threads(1):
            return self._train(on_iteration, on_stage)

    def _train(self, on_iteration: IterationCallback | None,
               on_stage: Callable[[str], None] | None):
        self.check_same_run()
        write_text_atomic(self.directory / RUN_FILE,
                          json.dumps(self.description, indent=2, sort_keys=True), overwrite=True)
        settings = self.settings
        stage = on_stage or (lambda _: None)
        torch.manual_seed(self.seed)  # weight initialization
        stage("demonstrations")
        episodes = demonstration_episodes(self.backend, self.task, settings.n_demonstrations,
                                          settings.demonstration_seed, settings.demos_from)
        probe = self.backend.make_env(self.task.task_id)
        try:
            observation, _ = probe.reset(seed=self.seed)
        finally:
            probe.close()
        policy_config = expert_policy_config(observation, **settings.policy)
        demos = demonstration_set(self.backend, episodes, policy_config.n_obs_steps,
                                  policy_config.horizon, observation_keys(policy_config),
                                  drop_no_ops=settings.drop_no_ops,
                                  env_options=camera_env_options(policy_config))
        policy = self.policy_cls(policy_config)
        bc_dir = self.directory / BC_DIR
        if (bc_dir / BC_STATS_FILE).is_file():
            policy = load_checkpoint(bc_dir, kind=self.policy_cls.kind,
                                     expected_config=policy_config)
            bc_stats = json.loads((bc_dir / BC_STATS_FILE).read_text())
        else:
            stage("behaviour cloning")
            started = time.perf_counter()
            stats = train_bc(policy, demos, settings.bc_config(), self.seed, self.device)
            bc_stats = {"final_loss": stats.final_loss, "samples": stats.n_samples,
                        "episodes": stats.n_episodes,
                        "seconds": time.perf_counter() - started}

            def fill_bc(temp: Path) -> None:
                save_checkpoint(temp, policy)
                (temp / BC_STATS_FILE).write_text(json.dumps(bc_stats, indent=2))

            _write_dir_atomic(bc_dir, fill_bc)
        value = ValueNetwork(policy_config)
        value.fit_normalizers(demos.obs)
        ppo_config = settings.ppo_config()
        trainer = PPOTrainer(policy, value, self.backend, self.task, ppo_config, seed=self.seed,
                             env_workers=settings.resolved_env_workers(), device=self.device)
        history = self.history()
        try:
            state_dir = self.latest_state()
            if state_dir is not None:
                try:
                    tensors = load_file(state_dir / TRAINER_WEIGHTS)
                    meta = json.loads((state_dir / TRAINER_META).read_text())
                except (SafetensorError, OSError, ValueError) as exc:
                    raise UserError(f"corrupted trainer state in {state_dir}: {exc}") from None
                restore_trainer_state(trainer, tensors, meta)
                history = history[: trainer.iteration]
            stage("PPO")
            while trainer.iteration < ppo_config.n_iterations:
                (stats,) = trainer.train(1)
                history.append(stats)
                self._save_iteration(trainer, history)
                if on_iteration is not None:
                    on_iteration(stats)
        finally:
            trainer.close()
        policy.cpu()
        value.cpu()
        save_checkpoint(self.directory / POLICY_DIR, policy, overwrite=True)
        save_checkpoint(self.directory / VALUE_DIR, value, overwrite=True)
        summary = {**self.description, "device": self.device, "bc": bc_stats,
                   "iterations": len(history),
                   "env_steps": int(sum(row["env_steps"] for row in history)),
                   "ppo_seconds": float(sum(row["rollout_seconds"] + row["update_seconds"]
                                            for row in history))}
        write_text_atomic(self.directory / SUMMARY_FILE, json.dumps(summary, indent=2),
                          overwrite=True)
        for stale in self.directory.glob(f"{STATE_PREFIX}[0-9]*"):
            shutil.rmtree(stale, ignore_errors=True)
        return policy.eval()

    def _save_iteration(self, trainer: PPOTrainer, history: list[dict[str, float]]) -> None:
        tensors, meta = trainer_state(trainer)
        name = f"{STATE_PREFIX}{trainer.iteration:05d}"

        def fill(temp: Path) -> None:
            save_file(tensors, str(temp / TRAINER_WEIGHTS))
            (temp / TRAINER_META).write_text(json.dumps(meta))

        # curves first: a kill between the two leaves curves one row ahead of the state,
        # and resuming trims them to the state's iteration
        frame = pl.DataFrame(history).with_columns(pl.col("iteration").cast(pl.Int64))
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        write_bytes_atomic(self.directory / CURVES_FILE, buffer.getvalue(), overwrite=True)
        _write_dir_atomic(self.directory / name, fill)
        for stale in self.directory.glob(f"{STATE_PREFIX}[0-9]*"):
            if stale.name != name:
                shutil.rmtree(stale, ignore_errors=True)
