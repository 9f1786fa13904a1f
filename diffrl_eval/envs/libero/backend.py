"""The ``libero`` backend: LIBERO's suites, tasks, official initial states and envs
behind :class:`~diffrl_eval.envs.base.EnvBackend`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from diffrl_eval.constants import OBS_AGENTVIEW_IMAGE
from diffrl_eval.envs.base import Diagnostic, EnvBackend, TaskSpec
from diffrl_eval.envs.gym_registration import LIBERO_NAMESPACE, env_id, register_libero
from diffrl_eval.envs.lerobot_keys import NATIVE_KEYS, with_observation_keys
from diffrl_eval.envs.libero.env import CONTROL_HZ, LiberoEnv
from diffrl_eval.envs.libero.tasks import (
    SUITES,
    LiberoTask,
    all_tasks,
    get_task,
    load_init_states,
    suite_tasks,
)
from diffrl_eval.errors import UserError

GYM_NAMESPACE = LIBERO_NAMESPACE


def gym_id(task_id: str) -> str:
    """The gymnasium id of a task, e.g. ``libero/turn_on_the_stove-v0``."""
    return env_id(GYM_NAMESPACE, task_id)


def register_gym_envs() -> None:
    """Register every LIBERO task with gymnasium (idempotent). Not done on import: listing
    the tasks imports hf-libero, which a machine without the extra does not have."""
    register_libero(all_tasks())


def make_task_env(task_id: str, observation_keys: str = NATIVE_KEYS, **kwargs: Any) -> gym.Env:
    """Entry point of the registered gymnasium ids (``observation_keys``: see
    :mod:`diffrl_eval.envs.lerobot_keys`; the other keywords go to :class:`LiberoEnv`)."""
    task = get_task(task_id)
    return with_observation_keys(lambda: LiberoEnv(task, **kwargs), observation_keys)


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
    in_distribution_suites: ClassVar[tuple[str, ...]] = (
        "libero_spatial", "libero_object", "libero_goal", "libero_10")
    ood_train_suite: ClassVar[str | None] = "libero_90"
    ood_eval_suites: ClassVar[tuple[str, ...]] = ("libero_10", "libero_goal", "libero_object")
    env_steps_per_second: ClassVar[float | None] = 19.0

    @classmethod
    def diagnostics(cls, assets: Path | None = None) -> list[Diagnostic]:
        """hf-libero, where the scene assets are found (``assets``: the folder named by
        ``doctor --libero-assets``), hub downloads and LIBERO's config folder."""
        from importlib import metadata

        from diffrl_eval.envs.libero import runtime

        try:
            hf_version: str | None = metadata.version("hf-libero")
        except metadata.PackageNotFoundError:
            hf_version = None
        checks = [Diagnostic("hf-libero", "ok" if hf_version else "missing",
                             hf_version or f"diffrl-eval doctor --install-libero "
                                           f"(pip install --no-deps {runtime.HF_LIBERO_REQUIREMENT})")]
        chosen = None
        try:
            chosen = runtime.find_assets(assets)
        except UserError as exc:
            checks.append(Diagnostic("assets", "error", str(exc)))
        # a place without assets is only a problem when no place has them
        absent = "info" if chosen is not None else "missing"
        for candidate in runtime.asset_candidates(assets):
            if candidate.usable:
                status = "ok"
                detail = f"{candidate.path}" + ("  <- used" if candidate.path == chosen else "")
            elif candidate.path is None or not candidate.path.is_dir():
                status = absent
                detail = f"not found{f' ({candidate.path})' if candidate.path else ''}"
            else:
                status = absent
                detail = f"{candidate.path} lacks {', '.join(candidate.missing)}"
            checks.append(Diagnostic(f"assets: {candidate.origin}", status, detail))
        if chosen is None and runtime.online():
            checks.append(Diagnostic(
                "assets", "info", f"{runtime.ONLINE_ENV}=1: hf-libero downloads them on first use"))
        checks.append(Diagnostic("hub downloads", "info",
                                 f"allowed ({runtime.ONLINE_ENV}=1)" if runtime.online()
                                 else f"off (HF_HUB_OFFLINE=1; {runtime.ONLINE_ENV}=1 allows them)"))
        checks.append(Diagnostic("LIBERO_CONFIG_PATH", "info", str(runtime.config_dir())))
        return checks

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
