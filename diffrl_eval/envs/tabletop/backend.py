"""The ``tabletop`` backend: suites, tasks, fixed initial states and envs of the embedded
MuJoCo benchmark behind :class:`~diffrl_eval.envs.base.EnvBackend`."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from diffrl_eval.constants import OBS_AGENTVIEW_IMAGE
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from diffrl_eval.envs.gym_registration import TABLETOP_NAMESPACE, env_id, register_tabletop
from diffrl_eval.envs.lerobot_keys import NATIVE_KEYS, with_observation_keys
from diffrl_eval.envs.tabletop.env import CONTROL_HZ, TabletopEnv
from diffrl_eval.envs.tabletop.init_states import load_init_states
from diffrl_eval.envs.tabletop.tasks import SUITES, TASKS, TaskDef, suite_tasks, task_def

GYM_NAMESPACE = TABLETOP_NAMESPACE


def gym_id(task_id: str) -> str:
    """The gymnasium id a task is registered under, e.g. ``tabletop/goal_open_drawer-v0``."""
    return env_id(GYM_NAMESPACE, task_id)


def register_gym_envs() -> None:
    """Register every task with gymnasium (idempotent)."""
    register_tabletop()


def make_task_env(task_id: str, observation_keys: str = NATIVE_KEYS, **kwargs: Any) -> gym.Env:
    """Entry point of the registered gymnasium ids (``observation_keys``: see
    :mod:`diffrl_eval.envs.lerobot_keys`; the other keywords go to :class:`TabletopEnv`)."""
    definition = task_def(task_id)
    return with_observation_keys(lambda: TabletopEnv(definition, **kwargs), observation_keys)


def _spec(task: TaskDef) -> TaskSpec:
    return TaskSpec(task.task_id, task.suite, task.instruction, task.max_steps,
                    TabletopBackend.name)


class TabletopBackend(EnvBackend):
    """Embedded MuJoCo tabletop tasks shaped like LIBERO's suites (CPU, no assets)."""

    name: ClassVar[str] = "tabletop"
    description: ClassVar[str] = (
        "embedded MuJoCo tabletop benchmark: floating gripper, LIBERO-style actions, "
        "spatial/object/goal/long suites and a 90-style pre-training suite"
    )
    control_hz: ClassVar[int] = CONTROL_HZ
    in_distribution_suites: ClassVar[tuple[str, ...]] = (
        "tabletop-spatial", "tabletop-object", "tabletop-goal", "tabletop-long")
    ood_train_suite: ClassVar[str | None] = "tabletop-90"
    ood_eval_suites: ClassVar[tuple[str, ...]] = (
        "tabletop-long", "tabletop-goal", "tabletop-object")
    env_steps_per_second: ClassVar[float | None] = 3000.0

    def suites(self) -> list[str]:
        return list(SUITES)

    def tasks(self, suite: str | None = None) -> list[TaskSpec]:
        if suite is None:
            return [_spec(t) for t in TASKS.values()]
        return [_spec(t) for t in suite_tasks(self.check_suite(suite))]

    def task_def(self, task_id: str) -> TaskDef:
        """Privileged: the task's objects, placement regions and goal predicate."""
        self.task(task_id)
        return TASKS[task_id]

    def init_states(self, task_id: str) -> np.ndarray:
        self.task(task_id)
        return load_init_states(task_id)

    def make_env(self, task_id: str, *, images: bool = False, image_size: int = 128,
                 **options: Any) -> TabletopEnv:
        self.task(task_id)
        return TabletopEnv(TASKS[task_id], images=images, image_size=image_size, **options)

    def replay_frames(self, task_id: str, actions: np.ndarray, *,
                      init_state_index: int | None = None, seed: int | None = None,
                      image_size: int = 128, camera: str = OBS_AGENTVIEW_IMAGE) -> np.ndarray:
        from diffrl_eval.envs.tabletop.replay import render_episode

        self.task(task_id)
        return render_episode(task_id, actions, init_state_index=init_state_index, seed=seed,
                              image_size=image_size, camera=camera)
