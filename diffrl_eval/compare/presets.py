"""What a `compare` run covers: suites, tasks, budgets. Two presets, ``quick`` and ``full``.

``quick`` is the README's first command: a few tasks and small budgets, so that the whole
question (generate, measure, train, evaluate, report) runs in minutes on two cores. Its
numbers show that the pipeline works, not what the paper measured. ``full`` uses every
task of the benchmark with the paper's counts (50 episodes per task, 50 evaluation trials).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diffrl_eval.envs.base import EnvBackend
from diffrl_eval.errors import unknown_choice

PRESET_NAMES = ("quick", "full")

# the OOD protocol of the paper: train on the 90-task suite, evaluate zero-shot elsewhere
OOD_SUITES = {
    "tabletop": ("tabletop-90", ("tabletop-long", "tabletop-goal", "tabletop-object")),
    "libero": ("libero_90", ("libero_10", "libero_goal", "libero_object")),
}
IN_DISTRIBUTION_SUITES = {
    "tabletop": ("tabletop-spatial", "tabletop-object", "tabletop-goal", "tabletop-long"),
    "libero": ("libero_spatial", "libero_object", "libero_goal", "libero_10"),
}
# The RL sources' budgets per preset; each head's own PPO settings are its generator's
# recipe. The diffusion head needs about 2,000 BC steps before its deterministic rollouts
# succeed often enough to draw data from (1,000 gave 3 successes in 200 attempts).
_QUICK_PPO = {"n_iterations": 2, "n_envs": 10, "n_steps": 32, "batch_size": 1000,
              "critic_warmup_iterations": 1}
_FULL_PPO = {"n_iterations": 80, "n_envs": 50, "n_steps": 20, "batch_size": 2000}


def _expert_options(common: dict[str, Any], ppo: dict[str, Any], gaussian_bc: int,
                    diffusion_bc: int) -> dict[str, dict[str, Any]]:
    return {
        "gaussian-ppo": {**common, "bc_gradient_steps": gaussian_bc, "ppo": dict(ppo)},
        "diffusion-ppo": {**common, "bc_gradient_steps": diffusion_bc, "ppo": dict(ppo)},
    }


@dataclass(frozen=True)
class Preset:
    """Suites and tasks per protocol, and the budgets of every stage."""

    name: str
    in_distribution: dict[str, int | None]  # suite -> number of its tasks (None: all)
    ood_train: tuple[str, int | None]
    ood_eval: dict[str, int | None]
    episodes_per_task: int
    eval_episodes_per_task: int
    vla_hparams_preset: str
    generator_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    note: str = ""
    record_per_task: int = 1  # VLA rollouts per task and model recorded as clips

    def options_for(self, source: str) -> dict[str, Any]:
        return dict(self.generator_options.get(source, {}))


def get_preset(name: str, backend: EnvBackend) -> Preset:
    """The preset ``name`` for ``backend`` (a one-line error lists the valid names)."""
    if name not in PRESET_NAMES:
        raise unknown_choice("preset", name, PRESET_NAMES)
    if backend.name not in OOD_SUITES:
        raise unknown_choice("compare backend", backend.name, sorted(OOD_SUITES))
    train_suite, eval_suites = OOD_SUITES[backend.name]
    if name == "quick":
        return Preset(
            name="quick",
            in_distribution={IN_DISTRIBUTION_SUITES[backend.name][0]: 2},
            ood_train=(train_suite, 2),
            ood_eval={suite: 1 for suite in eval_suites},
            episodes_per_task=10,
            eval_episodes_per_task=10,
            vla_hparams_preset="quick",
            generator_options=_expert_options(
                {"n_demonstrations": 20, "max_attempts_factor": 30}, _QUICK_PPO,
                gaussian_bc=1000, diffusion_bc=2000),
            note=(
                "quick preset: 2 tasks of the first in-distribution suite, 2 training tasks "
                "and 1 task per zero-shot suite for OOD, 10 episodes per task, 10 evaluation "
                "trials per task, RL experts with 2 PPO iterations and a small VLA budget. "
                "It shows the pipeline end to end; its numbers are not the paper's protocol."
            ),
        )
    return Preset(
        name="full",
        in_distribution={suite: None for suite in IN_DISTRIBUTION_SUITES[backend.name]},
        ood_train=(train_suite, None),
        ood_eval={suite: None for suite in eval_suites},
        episodes_per_task=50,
        eval_episodes_per_task=50,
        vla_hparams_preset="full",
        generator_options=_expert_options(
            {"n_demonstrations": 20, "max_attempts_factor": 10}, _FULL_PPO,
            gaussian_bc=3000, diffusion_bc=10000),
        note="full preset: every task, 50 episodes per task, 50 evaluation trials per task.",
    )


def preset_tasks(backend: EnvBackend, suite: str, count: int | None) -> list[str]:
    """The first ``count`` task ids of ``suite`` (all when None)."""
    backend.check_suite(suite)
    tasks = [task.task_id for task in backend.tasks(suite)]
    return tasks if count is None else tasks[:count]
