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

from diffrl_eval import registry
from diffrl_eval.constants import DEFAULT_VLA
from diffrl_eval.envs.base import EnvBackend
from diffrl_eval.errors import UserError, unknown_choice
from diffrl_eval.generator import TrainsExperts

PRESET_NAMES = ("quick", "standard", "full")

# tiny-vla's quick hparams train in seconds on 2 tasks; with 50 human episodes per task,
# 6,000 steps reach 79% in-distribution (1,500 steps: 30% with 30 episodes per task)
_QUICK_VLA_STEPS = 6000


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
    # source -> settings over what its generator takes in a preset of this name
    # (:meth:`~diffrl_eval.generator.Generator.preset_options`)
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
        """``source``'s settings: its generator's for this preset, then the preset's own."""
        return {**registry.generators.load(source).preset_options(self.name),
                **self.generator_options.get(source, {})}

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
    if not backend.runs_compare():
        raise unknown_choice("compare backend", backend.name, compare_backends())
    # the suites of the paper's protocols (OOD: train on the 90-task suite, evaluate
    # zero-shot elsewhere) are the backend's
    train_suite, eval_suites = backend.ood_train_suite, backend.ood_eval_suites
    assert train_suite is not None
    first_suite = backend.in_distribution_suites[0]
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
            note=(
                f"quick preset: 2 tasks of {first_suite} (100 evaluation episodes per source "
                f"in-distribution), 2 training tasks of {train_suite} (20 episodes each) and 1 "
                "task per zero-shot suite for OOD, 50 episodes and 50 evaluation trials per "
                "task, RL "
                f"experts with {expert_iterations('quick')} PPO iterations, tiny-vla's quick "
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
            note=(
                f"standard preset: every task of {first_suite}, 50 episodes and 50 "
                "evaluation trials per task, 3 VLA training seeds (900 evaluation episodes "
                f"per source in-distribution), RL experts with {expert_iterations('standard')} "
                f"PPO iterations; OOD reduced to 4 training tasks of {train_suite} and 1 "
                "task per zero-shot suite."
            ),
        )
    return _with_paper_counts(
        "full",
        in_distribution={suite: None for suite in backend.in_distribution_suites},
        ood_train=(train_suite, None),
        ood_eval={suite: None for suite in eval_suites},
        note=("full preset: every task of every suite, 50 episodes and 50 evaluation trials "
              f"per task, 3 VLA training seeds, RL experts with {expert_iterations('full')} "
              "PPO iterations."),
    )


def compare_backends() -> list[str]:
    """The registered backends that declare the suites of compare's protocols."""
    names = []
    for name in registry.envs.names():
        try:
            backend_cls = registry.envs.load(name)
        except UserError:  # a backend that cannot load runs nothing
            continue
        if backend_cls.runs_compare():
            names.append(name)
    return sorted(names)


def expert_iterations(preset: str) -> str:
    """The PPO iterations the registered expert generators train in ``preset`` ("12";
    "12/40" where they differ; "no" without any)."""
    counts = set()
    for name in registry.generators.names():
        try:
            generator_cls = registry.generators.load(name)
        except UserError:  # a generator that cannot load trains nothing here
            continue
        if issubclass(generator_cls, TrainsExperts):
            ppo = generator_cls.preset_options(preset).get("ppo", {})
            if "n_iterations" in ppo:
                counts.add(int(ppo["n_iterations"]))
    return "/".join(str(n) for n in sorted(counts)) or "no"


def _with_paper_counts(name: str, **plan: Any) -> Preset:
    """A preset with the paper's counts: 50 episodes and 50 evaluation trials per task,
    3 VLA training seeds, tiny-vla's full hparams (the experts' budgets are their
    generators' for the preset's name)."""
    return Preset(
        name=name, episodes_per_task=50, eval_episodes_per_task=50,
        vla_hparams_preset="full", seeds=(0, 1, 2), **plan)


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
