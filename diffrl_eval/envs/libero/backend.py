"""The ``libero`` backend: LIBERO's suites, tasks, official initial states and envs
behind :class:`~diffrl_eval.envs.base.EnvBackend`."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from diffrl_eval.constants import OBS_AGENTVIEW_IMAGE
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from diffrl_eval.envs.libero.env import CONTROL_HZ, LiberoEnv
from diffrl_eval.envs.libero.tasks import (
    SUITES,
    LiberoTask,
    all_tasks,
    get_task,
    load_init_states,
    suite_tasks,
)

GYM_NAMESPACE = "libero"


def gym_id(task_id: str) -> str:
    """The gymnasium id of a task, e.g. ``libero/turn_on_the_stove-v0``."""
    return f"{GYM_NAMESPACE}/{task_id}-v0"


def register_gym_envs() -> None:
    """Register every LIBERO task with gymnasium (idempotent). Not done on import: listing
    the tasks imports hf-libero, which a machine without the extra does not have."""
    for task_id in all_tasks():
        if gym_id(task_id) not in gym.registry:
            gym.register(id=gym_id(task_id),
                         entry_point="diffrl_eval.envs.libero.backend:make_task_env",
                         kwargs={"task_id": task_id},
                         max_episode_steps=None,  # the env truncates at its suite's budget
                         disable_env_checker=True)


def make_task_env(task_id: str, **kwargs: Any) -> LiberoEnv:
    """Entry point of the registered gymnasium ids."""
    return LiberoEnv(get_task(task_id), **kwargs)


def _spec(task: LiberoTask) -> TaskSpec:
    return TaskSpec(task.task_id, task.suite, task.instruction, task.max_steps,
                    LiberoBackend.name)


class LiberoBackend(EnvBackend):
    """The real LIBERO benchmark through hf-libero (robosuite + MuJoCo): 5 suites, 130 tasks."""

    name: ClassVar[str] = "libero"
    description: ClassVar[str] = (
        "LIBERO through hf-libero (robosuite, MuJoCo): libero_spatial/object/goal/10/90, "
        "130 BDDL tasks with their official initial states"
    )
    control_hz: ClassVar[int] = CONTROL_HZ
    human_demonstrations_hint: ClassVar[str | None] = (
        "LIBERO's human demonstrations are its HDF5 files: import them with "
        "'diffrl-eval import DEMO_FILES_OR_FOLDER... OUT'"
    )

    def suites(self) -> list[str]:
        return list(SUITES)

    def tasks(self, suite: str | None = None) -> list[TaskSpec]:
        if suite is None:
            return [_spec(task) for task in all_tasks().values()]
        return [_spec(task) for task in suite_tasks(self.check_suite(suite))]

    def task(self, task_id: str) -> TaskSpec:
        return _spec(get_task(task_id))

    def libero_task(self, task_id: str) -> LiberoTask:
        """Where the task's BDDL file and initial states live, and its place in its suite."""
        return get_task(task_id)

    def init_states(self, task_id: str) -> np.ndarray:
        return load_init_states(get_task(task_id).task_id)

    def make_env(self, task_id: str, *, images: bool = False, image_size: int = 128,
                 **options: Any) -> LiberoEnv:
        return LiberoEnv(get_task(task_id), images=images, image_size=image_size, **options)

    def replay_frames(self, task_id: str, actions: np.ndarray, *,
                      init_state_index: int | None = None, seed: int | None = None,
                      image_size: int = 128, camera: str = OBS_AGENTVIEW_IMAGE) -> np.ndarray:
        from diffrl_eval.envs.libero.replay import render_episode

        return render_episode(get_task(task_id).task_id, actions,
                              init_state_index=init_state_index, seed=seed,
                              image_size=image_size, camera=camera)
