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
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from diffrl_eval.dataset.episode import Episode
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from diffrl_eval.errors import UserError
from diffrl_eval.validation import check_setting_types


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
