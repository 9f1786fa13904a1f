"""The environment-backend interface.

A backend (``tabletop``, ``libero``, or a third party's) owns its suites, tasks, fixed
evaluation initial states and environments. Nothing outside a backend's own module knows
which backend it is talking to: it asks for a :class:`TaskSpec` by name and an
environment for it.

Environments follow the gymnasium API. Observations are dictionaries keyed by the names in
:mod:`diffrl_eval.constants` (``state`` (8,), ``eef_pos`` (3,), ``object_poses``, and
``agentview_image`` / ``wrist_image`` (H, W, 3) uint8 when cameras are on). Actions are
LIBERO's 7-D delta-pose convention in [-1, 1]. ``info["success"]`` reports the goal
predicate after each step; the reward is sparse (1 on success). ``reset`` also returns the
task's language instruction as ``info["instruction"]``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from diffrl_eval import registry
from diffrl_eval.constants import OBS_AGENTVIEW_IMAGE
from diffrl_eval.errors import UserError, unknown_choice


@dataclass(frozen=True)
class TaskSpec:
    """What the rest of the tool knows about a task."""

    task_id: str
    suite: str
    instruction: str
    max_steps: int
    backend: str


@dataclass(frozen=True)
class Diagnostic:
    """One line of what ``doctor`` reports about a backend's runtime."""

    item: str
    status: str  # "ok", "missing", "error" or "info"
    detail: str


class EnvBackend(ABC):
    """A family of tasks and the environments that run them."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    control_hz: ClassVar[int] = 20
    # None: the ``human`` generator produces this backend's demonstrations. Otherwise they
    # exist only as recordings, and this one line says how to bring them in.
    human_demonstrations_hint: ClassVar[str | None] = None
    # The paper's protocols over this backend's suites, which `compare` runs: the
    # in-distribution suites (the first is the smaller presets'), the suite the OOD models
    # train on and the suites they are evaluated on zero-shot. Empty: no compare here.
    in_distribution_suites: ClassVar[tuple[str, ...]] = ()
    ood_train_suite: ClassVar[str | None] = None
    ood_eval_suites: ClassVar[tuple[str, ...]] = ()
    # environment steps per second with a policy in the loop on the reference machine
    # (2 CPU cores), for compare's cost estimate; None: not measured
    env_steps_per_second: ClassVar[float | None] = None

    @abstractmethod
    def suites(self) -> list[str]:
        """Suite names, in display order."""

    @abstractmethod
    def tasks(self, suite: str | None = None) -> list[TaskSpec]:
        """Tasks of one suite (all suites when ``suite`` is None)."""

    def task(self, task_id: str) -> TaskSpec:
        """The task called ``task_id``; a one-line error lists the valid names."""
        by_id = {t.task_id: t for t in self.tasks()}
        if task_id not in by_id:
            raise unknown_choice("task", task_id, by_id)
        return by_id[task_id]

    @classmethod
    def diagnostics(cls, assets: Path | None = None) -> list[Diagnostic]:
        """What ``doctor`` reports about the runtime this backend needs beyond the
        installed packages (its simulator's assets, downloads...); ``assets``: a folder of
        scene assets the user named. Default: nothing."""
        return []

    @classmethod
    def runs_compare(cls) -> bool:
        """Whether the backend declares the suites of `compare`'s protocols."""
        return bool(cls.in_distribution_suites) and cls.ood_train_suite is not None

    def check_suite(self, suite: str) -> str:
        if suite not in self.suites():
            raise unknown_choice(f"{self.name} suite", suite, self.suites())
        return suite

    @abstractmethod
    def init_states(self, task_id: str) -> np.ndarray:
        """The task's fixed evaluation initial states, (N_init, ...) in backend units."""

    @abstractmethod
    def make_env(
        self,
        task_id: str,
        *,
        images: bool = False,
        image_size: int = 128,
        **options: Any,
    ):
        """A ``gymnasium.Env`` for one task."""

    def replay_frames(
        self,
        task_id: str,
        actions: np.ndarray,
        *,
        init_state_index: int | None = None,
        seed: int | None = None,
        image_size: int = 128,
        camera: str = OBS_AGENTVIEW_IMAGE,
    ) -> np.ndarray:
        """Replay ``actions`` (T, 7) from the episode's start; camera frames (T+1, S, S, 3).

        The start is the fixed initial state ``init_state_index``, or the placement the
        env samples from ``seed``. Backends that cannot replay say so.
        """
        raise UserError(f"backend {self.name!r} cannot replay episodes to render them")

    def make_vector_env(
        self,
        task_id: str,
        n_envs: int,
        *,
        images: bool = False,
        image_size: int = 128,
        asynchronous: bool = True,
        **options: Any,
    ):
        """``n_envs`` copies of the task's env; subprocess workers when ``asynchronous``."""
        import gymnasium as gym

        if n_envs <= 0:
            raise UserError(f"n_envs must be positive, got {n_envs}")

        def factory():
            return self.make_env(task_id, images=images, image_size=image_size, **options)

        vector_cls = gym.vector.AsyncVectorEnv if asynchronous else gym.vector.SyncVectorEnv
        return vector_cls([factory] * n_envs)


def get_backend(name: str) -> EnvBackend:
    """Instantiate the backend registered as ``name``."""
    cls = registry.envs.load(name)
    return cls()
