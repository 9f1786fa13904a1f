"""The RL-expert data source shared by ``diffusion-ppo`` and ``gaussian-ppo``.

``fit`` trains one expert per task: behaviour cloning on the task's ``human``
demonstrations (the generator registered under that name, or the episodes of a recorded
human dataset, ``demos_from``), then PPO. The expert is cached on disk under a key made of
the task, the seed, every setting that shapes it and the demonstrations' content, so a
second ``fit`` with the same inputs loads it instead of training. ``generate`` runs
the expert deterministically (DDIM with eta = 0, or the Gaussian mean) from the task's
fixed initial states in turn and keeps the successful episodes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from diffrl_eval.constants import EXECUTED_CHUNK_STEPS, GENERATION_KEY
from diffrl_eval.dataset.episode import Episode
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from diffrl_eval.errors import UserError, unknown_choice
from diffrl_eval.generator import (
    ClonesDemonstrations,
    ExpertCost,
    Generator,
    GeneratorConfig,
    PlannedCost,
    TrainsExperts,
)
from generators.expert.bc_samples import check_demonstrations
from generators.expert.chunk_joining import check_chunk_join, executed_steps
from generators.expert.evaluation import rollout_episodes
from generators.expert.run import SUMMARY_FILE, ExpertRun
from generators.expert.settings import (
    ExpertConfig,
    ExpertPreset,
    layer,
    warmup_fallback,
)

GENERATE_BLOCK = 10  # episodes run together; fixed so that output does not depend on it
# The experts' budgets in compare's presets (reports/results/presets.md): PPO settings
# over the recipe's, data counts, and BC gradient steps per action head. The diffusion
# head needs about 2,000 BC steps before its deterministic rollouts succeed often enough
# to draw data from (1,000 gave 3 successes in 200 attempts). ``quick`` and ``standard``
# keep the small batches they were sized with (the recipe's 400 envs per iteration would
# not fit their wall-clock budgets), and the rate that suits those batches (1e-4 at 50
# envs lost success, reports/results/rl-experts.md); ``full`` trains the recipe as it
# is, from LIBERO's 50 demonstrations per task.
_SMALL_BATCH_PPO = {"actor_lr": 3e-5, "critic_warmup_iterations": 5}
COMPARE_PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"n_demonstrations": 20, "max_attempts_factor": 30,
              "bc_gradient_steps": {"gaussian": 1000, "diffusion": 2000},
              "ppo": {**_SMALL_BATCH_PPO, "n_iterations": 12, "n_envs": 10, "n_steps": 32,
                      "batch_size": 1000, "critic_warmup_iterations": 2}},
    "standard": {"n_demonstrations": 20, "max_attempts_factor": 20,
                 "bc_gradient_steps": {"gaussian": 3000, "diffusion": 10000},
                 "ppo": {**_SMALL_BATCH_PPO, "n_iterations": 40, "n_envs": 50, "n_steps": 20,
                         "batch_size": 2000}},
    "full": {"n_demonstrations": 50, "max_attempts_factor": 10,
             "bc_gradient_steps": {"gaussian": 3000, "diffusion": 10000},
             "ppo": {"n_iterations": 60}},
}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "diffrl-eval" / "experts"


class ExpertGenerator(Generator, ClonesDemonstrations, TrainsExperts):
    """BC warm start + PPO per task, then deterministic rollouts of the expert."""

    config_cls: ClassVar[type[GeneratorConfig]] = ExpertConfig
    policy_cls: ClassVar[type] = type(None)

    # the head's named presets (generators/<head>/presets.py) and the one make_config
    # starts from; ``recipe`` is that preset as overrides (sections as dict-like settings)
    presets: ClassVar[dict[str, ExpertPreset]] = {}
    default_preset: ClassVar[str] = "recipe"
    recipe: ClassVar[dict[str, Any]] = {}

    @classmethod
    def preset(cls, name: str) -> ExpertPreset:
        if name not in cls.presets:
            raise unknown_choice(f"{cls.name} preset", name, cls.presets)
        return cls.presets[name]

    @classmethod
    def make_config(cls, overrides: dict[str, Any] | None = None, *,
                    preset: str | None = None) -> GeneratorConfig:
        """The head's preset (default: :attr:`default_preset`) with ``overrides`` on top;
        an unknown key or a bad value is a one-line error naming the valid ones.

        A run shortened below the preset's critic warm-up by ``ppo.n_iterations`` alone
        falls back to PPOConfig's default warm-up when that leaves PPO an iteration to
        learn in (see :func:`~generators.expert.settings.warmup_fallback`).
        """
        overrides = overrides or {}
        base = cls.recipe if preset is None else cls.preset(preset).overrides()
        merged = layer(base, overrides)
        asked = overrides.get("ppo", {})
        if isinstance(asked, Mapping):
            warmup = warmup_fallback(base.get("ppo", {}), asked)
            if warmup is not None:
                merged["ppo"] = merged["ppo"].updated({"critic_warmup_iterations": warmup})
        return super().make_config(merged)

    def __init__(self, backend: EnvBackend, config: GeneratorConfig | None = None,
                 *args: Any, device: str = "cpu", **kwargs: Any) -> None:
        """``device``: the torch device experts train on (a resolved name, see
        :func:`diffrl_eval.device.resolve_device`); generation runs on the CPU."""
        super().__init__(backend, config if config is not None else self.make_config(),
                         *args, **kwargs)
        self.device = device
        check_chunk_join(self.config.chunk_join, self.policy_cls.kind)  # type: ignore[attr-defined]
        self.experts: dict[str, torch.nn.Module] = {}
        self.training_history: dict[str, list[dict[str, float]]] = {}

    def config_dict(self) -> dict[str, Any]:
        """The settings, plus a ``generation`` block: how the data's actions were produced
        beyond the expert (its chunk joining and the actions executed per chunk, which the
        report shows and ``metrics`` reads for its by-chunk-position diagnostic)."""
        config: ExpertConfig = self.config  # type: ignore[assignment]
        executed = executed_steps(config.chunk_join, config.policy.horizon,
                                  config.policy.action_steps)
        return {**super().config_dict(),
                GENERATION_KEY: {"chunk_join": config.chunk_join,
                                 EXECUTED_CHUNK_STEPS: executed}}

    # --- where experts live ---------------------------------------------------------
    def expert_dir(self, task: TaskSpec, seed: int) -> Path:
        config: ExpertConfig = self.config  # type: ignore[assignment]
        key_fields = config.training_settings()
        key = json.dumps(
            {"generator": self.name, "backend": self.backend.name, "task": task.task_id,
             "seed": seed, "config": key_fields},
            sort_keys=True,
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        root = (Path(config.cache_dir) if config.cache_dir
                else self.workdir / "experts" if self.workdir else default_cache_dir())
        return root / self.name / task.task_id / digest

    # --- Generator interface ----------------------------------------------------------
    def expert_run(self, task: TaskSpec, directory: Path | None = None) -> ExpertRun:
        """The training run of ``task``'s expert (in the cache unless ``directory``)."""
        config: ExpertConfig = self.config  # type: ignore[assignment]
        return ExpertRun(
            directory or self.expert_dir(task, config.expert_seed), generator=self.name,
            policy_cls=self.policy_cls, backend=self.backend, task=task,
            seed=config.expert_seed, settings=config, device=self.device,
        )

    def check_demonstrations(self, task: TaskSpec, run: ExpertRun | None = None) -> None:
        """Refuse now, in one line, demonstrations that ``task``'s expert cannot be trained
        on (none on this backend, a dataset without enough of them); nothing to check for
        an expert already trained (in ``run``, default: the cache)."""
        config: ExpertConfig = self.config  # type: ignore[assignment]
        if task.task_id in self.experts or (run or self.expert_run(task)).finished:
            return
        check_demonstrations(self.backend, task, config.n_demonstrations, config.demos_from)

    def fit(self, task: TaskSpec, *, seed: int = 0) -> None:
        """Train (or load the cached, or finish the interrupted) expert for ``task``.

        The expert depends on ``config.expert_seed``, not on the data seed ``seed``: datasets
        drawn with different seeds come from the same expert.
        """
        if task.task_id in self.experts:
            return
        run = self.expert_run(task)
        self.check_demonstrations(task, run)  # before the run directory is made
        self.experts[task.task_id] = run.train()
        self.training_history[task.task_id] = run.history()

    def generate(self, task: TaskSpec, n_episodes: int, seed: int) -> Iterator[Episode]:
        """Yield ``n_episodes`` successful expert episodes of ``task``.

        Attempt ``a`` starts from fixed initial state ``a mod N_init``; attempts run in
        blocks of :data:`GENERATE_BLOCK` whose noise and resets come from ``(seed, block)``.
        After ``max_attempts_factor * n_episodes`` attempts without enough successes the
        expert is declared not good enough.
        """
        if n_episodes <= 0:
            raise UserError(f"number of episodes must be positive, got {n_episodes}")
        self.fit(task, seed=seed)
        policy = self.experts[task.task_id]
        config: ExpertConfig = self.config  # type: ignore[assignment]
        n_init = len(self.backend.init_states(task.task_id))
        max_attempts = config.max_attempts_factor * n_episodes
        kept = attempts = block = 0
        while kept < n_episodes and attempts < max_attempts:
            size = min(GENERATE_BLOCK, max_attempts - attempts)
            starts = [(attempts + i) % n_init for i in range(size)]
            block_seed = int(np.random.default_rng([seed, block]).integers(2**31))
            for episode in rollout_episodes(policy, self.backend, task, starts,
                                            seed=block_seed, n_envs=GENERATE_BLOCK,
                                            env_options=self.env_options,
                                            chunk_join=config.chunk_join):
                if episode.success and kept < n_episodes:
                    kept += 1
                    yield episode
            attempts += size
            block += 1
        if kept < n_episodes:
            raise UserError(
                f"the {self.name} expert for task {task.task_id!r} succeeded in {kept} of "
                f"{attempts} attempts, short of the {n_episodes} episodes asked for; train it "
                f"longer (ppo n_iterations) or ask for fewer episodes"
            )

    # --- what a comparison reads: preset budgets, planned and spent cost, curves ---------
    @classmethod
    def preset_options(cls, preset: str) -> dict[str, Any]:
        """The expert's budget in compare's preset ``preset`` (:data:`COMPARE_PRESETS`)."""
        budget = COMPARE_PRESETS.get(preset)
        if budget is None:
            return {}
        return {**copy.deepcopy(budget),
                "bc_gradient_steps": budget["bc_gradient_steps"][cls.policy_cls.kind]}  # type: ignore[attr-defined]

    @classmethod
    def planned_cost(cls, config: GeneratorConfig, task: TaskSpec, n_episodes: int
                     ) -> PlannedCost:
        """Generation at the step limit, plus the expert: its demonstrations (generated, or
        replayed to recover the object poses) at the step limit, its BC gradient steps, and
        PPO's iterations x envs x decisions x actions executed per decision."""
        expert: ExpertConfig = config  # type: ignore[assignment]
        ppo = expert.ppo_config()
        executed_per_decision = int(expert.policy.action_steps)
        env_steps = ((n_episodes + expert.n_demonstrations) * task.max_steps
                     + ppo.n_iterations * ppo.n_envs * ppo.n_steps * executed_per_decision)
        return PlannedCost(env_steps=env_steps, gradient_steps=expert.bc_gradient_steps)

    def expert_cost(self, tasks: Sequence[TaskSpec]) -> ExpertCost:
        """Environment steps and seconds (BC and PPO) of the experts of ``tasks`` trained
        so far, from each finished run's summary."""
        steps, seconds = 0, 0.0
        for task in tasks:
            summary = self.expert_run(task).directory / SUMMARY_FILE
            if summary.is_file():
                values = json.loads(summary.read_text())
                steps += int(values.get("env_steps", 0))
                seconds += float(values.get("ppo_seconds", 0.0)) + float(
                    values.get("bc", {}).get("seconds", 0.0))
        return ExpertCost(env_steps=steps, seconds=round(seconds, 3))

    def expert_curves(self, tasks: Sequence[TaskSpec]) -> dict[str, dict[str, list]]:
        """Per task with a training history: success rate against cumulative env steps."""
        curves = {}
        for task in tasks:
            history = self.expert_run(task).history()
            if history:
                steps = np.cumsum([row["env_steps"] for row in history])
                curves[task.task_id] = {
                    "env_steps": [int(s) for s in steps],
                    "success_rate": [None if not np.isfinite(row["success_rate"])
                                     else float(row["success_rate"]) for row in history]}
        return curves
