"""The generator interface: how a data source plugs in.

A generator turns a task into episodes. Built-ins are ``human`` (demonstrations: a
simulated teleoperator on ``tabletop``, LIBERO's HDF5 files on ``libero``),
``gaussian-ppo`` and ``diffusion-ppo``; third parties add their own.

Contract
--------
1. Subclass :class:`Generator`, set ``description`` (one line, shown by
   ``diffrl-eval generators list``) and optionally ``source_label`` (how reports name
   the data, e.g. "simulated teleoperation").
2. Optionally override :meth:`Generator.fit` — called once per task before generation
   (BC warm-start and PPO for the RL generators; nothing for a scripted source).
3. Implement :meth:`Generator.generate` — yield :class:`~diffrl_eval.dataset.Episode`
   objects; the same ``seed`` must give the same episodes.
4. Expose the class through an entry point in the ``diffrl_eval.generators`` group::

       [project.entry-points."diffrl_eval.generators"]
       my-generator = "my_package.module:MyGenerator"

``env_options`` (given to the constructor) are the keyword arguments to pass to
``backend.make_env``: ``images`` and ``image_size`` decide whether recorded episodes
carry camera frames.

The generator's configuration is a plain dataclass (``config_cls``) whose values are
written into every dataset manifest it produces.

Optional capabilities are declared by inheriting their interface, never found by probing
for a method: :class:`ClonesDemonstrations` (the generator learns from human
demonstrations, ``--demos-from``) and :class:`TrainsExperts` (it trains one expert per
task before generating; ``train-expert``, ``ablate`` and compare's expert curves use it).
:meth:`Generator.preset_options` gives its settings in compare's presets and
:meth:`Generator.planned_cost` what generating costs, for compare's estimate.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from diffrl_eval.dataset.episode import Episode
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from diffrl_eval.errors import UserError
from diffrl_eval.validation import check_setting_types


@dataclass(frozen=True)
class PlannedCost:
    """What generating a task's episodes costs at most, before it runs: environment steps
    (every episode at the task's step limit) and gradient steps (training an expert)."""

    env_steps: int
    gradient_steps: int = 0


@dataclass(frozen=True)
class ExpertCost:
    """What training a generator's experts took: environment steps and seconds."""

    env_steps: int
    seconds: float


@dataclasses.dataclass
class GeneratorConfig:
    """Base configuration; subclasses add fields and validate in ``__post_init__``."""


class Generator(ABC):
    """A data source. ``fit`` (optional) then ``generate(task, n_episodes, seed)``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    source_label: ClassVar[str] = ""
    config_cls: ClassVar[type[GeneratorConfig]] = GeneratorConfig

    def __init__(
        self,
        backend: EnvBackend,
        config: GeneratorConfig | None = None,
        workdir: Path | None = None,
        env_options: dict[str, Any] | None = None,
    ) -> None:
        self.backend = backend
        self.config = config if config is not None else self.config_cls()
        self.workdir = workdir
        # Passed through to ``backend.make_env`` / ``make_vector_env`` (e.g. images=True,
        # image_size=128) so that recorded episodes carry camera frames when asked.
        self.env_options = dict(env_options or {})

    @classmethod
    def make_config(cls, overrides: dict[str, Any] | None = None) -> GeneratorConfig:
        """Build ``config_cls`` from ``overrides``; unknown keys are a one-line error."""
        overrides = dict(overrides or {})
        fields = {f.name for f in dataclasses.fields(cls.config_cls)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            valid = ", ".join(sorted(fields)) or "(none)"
            raise UserError(
                f"unknown option(s) {', '.join(unknown)} for generator {cls.name!r}; "
                f"valid options: {valid}"
            )
        check_setting_types(cls.config_cls, overrides, f"generator {cls.name!r} option")
        return cls.config_cls(**overrides)

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)

    def fit(self, task: TaskSpec, *, seed: int = 0) -> None:  # noqa: B027 - optional hook
        """Prepare for ``task`` (train an expert, load demonstrations...). Default: nothing."""

    @abstractmethod
    def generate(self, task: TaskSpec, n_episodes: int, seed: int) -> Iterator[Episode]:
        """Yield ``n_episodes`` episodes of ``task``; deterministic in ``seed``."""

    def label(self) -> str:
        """How reports and manifests describe this source."""
        return self.source_label or self.name

    @classmethod
    def preset_options(cls, preset: str) -> dict[str, Any]:
        """The settings this generator takes in compare's preset ``preset`` (``quick``,
        ``standard``, ``full``: budgets sized for what the preset must show), under the
        preset's own overrides. Default: none (the generator's defaults)."""
        return {}

    @classmethod
    def planned_cost(cls, config: GeneratorConfig, task: TaskSpec, n_episodes: int
                     ) -> PlannedCost:
        """An upper bound on generating ``n_episodes`` of ``task`` with ``config``, before
        it runs. Default: every episode runs to the task's step limit, nothing is trained."""
        return PlannedCost(env_steps=n_episodes * task.max_steps)


class ClonesDemonstrations(ABC):
    """A generator that learns from human demonstrations (the RL experts clone them).

    Its config has a ``demos_from`` field: a human dataset of the backend (None: the
    episodes of the backend's ``human`` generator). :meth:`check_demonstrations` refuses,
    before any work, demonstrations it cannot learn ``task`` from.
    """

    @abstractmethod
    def check_demonstrations(self, task: TaskSpec) -> None:
        """Raise a one-line :class:`UserError` when ``task`` cannot be learnt from the
        demonstrations at hand; return when it can (or needs none any more)."""


class TrainsExperts(ABC):
    """A generator that trains one expert per task before generating from it."""

    @abstractmethod
    def expert_run(self, task: TaskSpec, directory: Path | None = None) -> Any:
        """The training run of ``task``'s expert (in the generator's cache unless
        ``directory``): an object with ``train()``, ``history()``, ``finished`` and
        ``directory``."""

    @abstractmethod
    def expert_cost(self, tasks: Sequence[TaskSpec]) -> ExpertCost:
        """Environment steps and seconds the experts of ``tasks`` took to train (those
        trained so far)."""

    @abstractmethod
    def expert_curves(self, tasks: Sequence[TaskSpec]) -> dict[str, dict[str, list]]:
        """Per task id with a trained expert: its training success rate against cumulative
        environment steps, one point per RL iteration (``env_steps``, ``success_rate``;
        None where an iteration measured none)."""


def generators_with(capability: type, names: Iterable[str] | None = None) -> list[str]:
    """The generators among ``names`` (default: every registered one) that declare
    ``capability`` (:class:`ClonesDemonstrations`, :class:`TrainsExperts`), in order."""
    from diffrl_eval import registry

    chosen = registry.generators.names() if names is None else list(names)
    return [name for name in chosen if issubclass(registry.generators.load(name), capability)]


def cloning_sources(names: Iterable[str] | None = None) -> list[str]:
    """The generators among ``names`` (default: every registered one) that clone human
    demonstrations: the sources ``--demos-from`` is for."""
    return generators_with(ClonesDemonstrations, names)
