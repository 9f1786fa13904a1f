"""What a `compare` run covers: suites, tasks, budgets. Presets ``quick``, ``standard``, ``full``.

Each preset is sized for what it must show (measurements: ``reports/results/presets.md``):

- ``quick`` (the README's first command, minutes on two cores): 2 tasks of the first
  in-distribution suite with enough human data and VLA training that the human-data VLA
  succeeds most of the time, and 100 in-distribution evaluation episodes per source, so a
  large difference between sources shows. Zero-shot is a smoke test at this size.
- ``standard`` (an afternoon on two cores): every task of the first in-distribution suite,
  50 episodes per task, 3 VLA training seeds, 50 evaluation trials per task: 900
  in-distribution episodes per source, enough to see a difference of about 7 points.
- ``full``: the paper's protocol: every task of every suite, 50 episodes and 50 trials per
  task, the experts' full RL budget.

``minimum_detectable_difference`` states what a preset can see before it runs, from its
design alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from diffrl_eval.constants import DEFAULT_VLA
from diffrl_eval.envs.base import EnvBackend
from diffrl_eval.errors import unknown_choice

PRESET_NAMES = ("quick", "standard", "full")

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
_QUICK_PPO = {"n_iterations": 12, "n_envs": 10, "n_steps": 32, "batch_size": 1000,
              "critic_warmup_iterations": 2}
_STANDARD_PPO = {"n_iterations": 40, "n_envs": 50, "n_steps": 20, "batch_size": 2000}
_FULL_PPO = {"n_iterations": 80, "n_envs": 50, "n_steps": 20, "batch_size": 2000}
# tiny-vla's quick hparams train in seconds on 2 tasks; with 50 human episodes per task,
# 6,000 steps reach 79% in-distribution (1,500 steps: 30% with 30 episodes per task)
_QUICK_VLA_STEPS = 6000


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
    seeds: tuple[int, ...] = (0,)  # VLA training seeds when --seeds is not given
    # VLA name -> hparams over that VLA's ``vla_hparams_preset`` (the keys are the VLA's own)
    vla_hparams: dict[str, dict[str, Any]] = field(default_factory=dict)
    # episodes per task of the OOD training suite (None: ``episodes_per_task``)
    ood_train_episodes_per_task: int | None = None

    def episodes_for(self, suite: str) -> int:
        """Episodes per task generated for ``suite``."""
        if suite == self.ood_train[0] and self.ood_train_episodes_per_task is not None:
            return self.ood_train_episodes_per_task
        return self.episodes_per_task

    def options_for(self, source: str) -> dict[str, Any]:
        return dict(self.generator_options.get(source, {}))

    def in_distribution_episodes(self, backend: EnvBackend, n_seeds: int | None = None) -> int:
        """Evaluation episodes per source in-distribution: tasks x trials x seeds (the
        preset's seeds unless ``n_seeds`` is given)."""
        tasks = sum(len(preset_tasks(backend, suite, count))
                    for suite, count in self.in_distribution.items())
        return tasks * self.eval_episodes_per_task * (n_seeds or len(self.seeds))


def get_preset(name: str, backend: EnvBackend) -> Preset:
    """The preset ``name`` for ``backend`` (a one-line error lists the valid names)."""
    if name not in PRESET_NAMES:
        raise unknown_choice("preset", name, PRESET_NAMES)
    if backend.name not in OOD_SUITES:
        raise unknown_choice("compare backend", backend.name, sorted(OOD_SUITES))
    train_suite, eval_suites = OOD_SUITES[backend.name]
    first_suite = IN_DISTRIBUTION_SUITES[backend.name][0]
    if name == "quick":
        return Preset(
            name="quick",
            in_distribution={first_suite: 2},
            ood_train=(train_suite, 2),
            ood_eval={suite: 1 for suite in eval_suites},
            episodes_per_task=50,
            # zero-shot from 2 training tasks is a smoke test; 50 episodes of tabletop-90
            # from 12-iteration diffusion experts took 20 min and fell short (46 of 50)
            ood_train_episodes_per_task=20,
            eval_episodes_per_task=50,
            vla_hparams_preset="quick",
            vla_hparams={DEFAULT_VLA: {"train_steps": _QUICK_VLA_STEPS}},
            generator_options=_expert_options(
                {"n_demonstrations": 20, "max_attempts_factor": 30}, _QUICK_PPO,
                gaussian_bc=1000, diffusion_bc=2000),
            note=(
                f"quick preset: 2 tasks of {first_suite} (100 evaluation episodes per source "
                f"in-distribution), 2 training tasks of {train_suite} (20 episodes each) and 1 "
                "task per zero-shot suite for OOD, 50 episodes and 50 evaluation trials per "
                "task, RL "
                f"experts with {_QUICK_PPO['n_iterations']} PPO iterations, tiny-vla's quick "
                f"hparams with {_QUICK_VLA_STEPS:,} steps, one training seed. It sees large "
                "in-distribution differences only; it is not the paper's protocol."
            ),
        )
    if name == "standard":
        return _with_paper_counts(
            "standard",
            in_distribution={first_suite: None},
            ood_train=(train_suite, 4),
            ood_eval={suite: 1 for suite in eval_suites},
            ppo=_STANDARD_PPO, max_attempts_factor=20,
            note=(
                f"standard preset: every task of {first_suite}, 50 episodes and 50 "
                "evaluation trials per task, 3 VLA training seeds (900 evaluation episodes "
                f"per source in-distribution), RL experts with {_STANDARD_PPO['n_iterations']} "
                f"PPO iterations; OOD reduced to 4 training tasks of {train_suite} and 1 "
                "task per zero-shot suite."
            ),
        )
    return _with_paper_counts(
        "full",
        in_distribution={suite: None for suite in IN_DISTRIBUTION_SUITES[backend.name]},
        ood_train=(train_suite, None),
        ood_eval={suite: None for suite in eval_suites},
        ppo=_FULL_PPO, max_attempts_factor=10,
        note=("full preset: every task of every suite, 50 episodes and 50 evaluation trials "
              "per task, 3 VLA training seeds, RL experts with 80 PPO iterations."),
    )


def _with_paper_counts(name: str, *, ppo: dict[str, Any], max_attempts_factor: int,
                       **plan: Any) -> Preset:
    """A preset with the paper's counts: 50 episodes and 50 evaluation trials per task,
    3 VLA training seeds, tiny-vla's full hparams, the experts' full BC budgets."""
    return Preset(
        name=name, episodes_per_task=50, eval_episodes_per_task=50,
        vla_hparams_preset="full", seeds=(0, 1, 2),
        generator_options=_expert_options(
            {"n_demonstrations": 20, "max_attempts_factor": max_attempts_factor}, ppo,
            gaussian_bc=3000, diffusion_bc=10000),
        **plan)


def minimum_detectable_difference(preset: Preset, backend: EnvBackend,
                                  baseline_rate: float = 0.5, n_seeds: int | None = None
                                  ) -> float:
    """The in-distribution success difference the preset detects (80% power, 5% level)
    from its design alone: its evaluation episodes per source, treated as independent
    (seed-to-seed variation adds to it), at ``baseline_rate`` (0.5: the worst case)."""
    from diffrl_eval.compare.intervals import design_minimum_detectable_difference

    return design_minimum_detectable_difference(
        preset.in_distribution_episodes(backend, n_seeds), baseline_rate)


def preset_tasks(backend: EnvBackend, suite: str, count: int | None) -> list[str]:
    """The first ``count`` task ids of ``suite`` (all when None)."""
    backend.check_suite(suite)
    tasks = [task.task_id for task in backend.tasks(suite)]
    return tasks if count is None else tasks[:count]
