"""What a `compare` run costs: the estimate printed before it starts (an upper bound, from
its plan), and the generation cost measured as its dataset stages finish.

The estimate asks each source's generator what generating a task costs
(:meth:`~diffrl_eval.generator.Generator.planned_cost`: the RL experts add their
demonstrations, BC and PPO) and the backend how fast its environments step
(:attr:`~diffrl_eval.envs.base.EnvBackend.env_steps_per_second`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from diffrl_eval import registry
from diffrl_eval.compare.plan import CompareRun, Evaluate, Generate, Train, build_plan

# measured on the reference machine (2 CPU cores): seconds per gradient step of the
# experts' BC and of tiny-vla, per hparams preset: full 248 s for 12,000 steps (20.7 ms;
# reports/results/tiny-vla.md, language experiment), quick 14-27 s for 6,000 steps
# (2.3-4.5 ms; reports/results/presets.md), rounded up for a shared machine
BC_STEP_SECONDS = 0.03
VLA_STEP_SECONDS = {"quick": 0.005, "full": 0.025}
# a backend that has not measured its speed is taken to be as slow as the slowest that
# has (libero, 19 env steps/s)
UNMEASURED_ENV_STEPS_PER_SECOND = 19.0


@dataclass(frozen=True)
class CostEstimate:
    """Environment steps, gradient steps and hours a plan takes from scratch."""

    env_steps: float
    gradient_steps: float
    hours: float
    env_steps_per_second: float

    def to_json(self) -> dict[str, float]:
        return {"env_steps": self.env_steps, "gradient_steps": self.gradient_steps,
                "hours": self.hours, "env_steps_per_second": self.env_steps_per_second}


def estimate_cost(run: CompareRun) -> dict[str, float]:
    """Environment steps, gradient steps and hours the plan takes from scratch (upper
    bound: every episode runs to its step limit). Human data taken from ``demos_from``
    cost no env steps; an expert's demonstrations do (generated, or replayed to recover
    the object poses)."""
    return plan_cost(run).to_json()


def plan_cost(run: CompareRun) -> CostEstimate:
    """:func:`estimate_cost`, typed."""
    limits = {t.task_id: t.max_steps for t in run.backend.tasks()}
    env_steps = expert_grad_steps = vla_grad_steps = 0.0
    for stage in build_plan(run):
        if isinstance(stage, Generate) and not run.recorded(stage.source):
            generator_cls = registry.generators.load(stage.source)
            config = run.generator_config(stage.source)
            for task in stage.tasks:
                planned = generator_cls.planned_cost(
                    config, run.backend.task(task), run.preset.episodes_for(stage.suite))
                env_steps += planned.env_steps
                expert_grad_steps += planned.gradient_steps
        elif isinstance(stage, Train):
            vla_grad_steps += float(run.hparams.get("train_steps", 0))
        elif isinstance(stage, Evaluate):
            env_steps += run.preset.eval_episodes_per_task * sum(
                limits[task] for _, tasks in stage.suites for task in tasks)
    rate = run.backend.env_steps_per_second or UNMEASURED_ENV_STEPS_PER_SECOND
    vla_step_seconds = VLA_STEP_SECONDS.get(run.preset.vla_hparams_preset,
                                            VLA_STEP_SECONDS["full"])
    seconds = (env_steps / rate + expert_grad_steps * BC_STEP_SECONDS
               + vla_grad_steps * vla_step_seconds)
    return CostEstimate(env_steps=env_steps,
                        gradient_steps=expert_grad_steps + vla_grad_steps,
                        hours=seconds / 3600.0, env_steps_per_second=rate)


def generation_cost(datasets: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """Per source: environment steps and wall time of data generation (and experts)."""
    cost: dict[str, dict[str, Any]] = {}
    for (source, _), record in sorted(datasets.items()):
        if record["status"] != "done":
            continue
        result = record["result"]
        entry = cost.setdefault(source, {"env_steps": 0, "wall_seconds": 0.0, "episodes": 0,
                                         "expert_env_steps": None, "expert_seconds": None})
        entry["env_steps"] += result["env_steps"]
        entry["wall_seconds"] = round(entry["wall_seconds"] + result["wall_seconds"], 3)
        entry["episodes"] += result["episodes"]
        if result.get("expert_env_steps") is not None:
            entry["expert_env_steps"] = (entry["expert_env_steps"] or 0) + result[
                "expert_env_steps"]
            entry["expert_seconds"] = round((entry["expert_seconds"] or 0.0)
                                            + result["expert_seconds"], 3)
    return cost
