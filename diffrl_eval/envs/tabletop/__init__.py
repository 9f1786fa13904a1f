"""The embedded ``tabletop`` benchmark: MuJoCo tabletop tasks with LIBERO's semantics.

Public API:

* :class:`TabletopBackend` - the ``tabletop`` env backend (suites, tasks, init states,
  ``make_env`` / ``make_vector_env``).
* :class:`TabletopEnv` - one task as a ``gymnasium.Env``; registered as
  ``tabletop/<task_id>-v0``. ``env.unwrapped.privileged_state()`` gives experts ground
  truth (:class:`PrivilegedState`), ``env.unwrapped.task`` the task's :class:`TaskDef`.
* :func:`render_episode` - replay recorded actions and return agent-view frames;
  :func:`write_gif` stores them.

Headless rendering uses EGL unless ``MUJOCO_GL`` says otherwise; that default is set here,
before MuJoCo is imported.
"""

import ctypes.util
import os

from diffrl_eval.errors import UserError

# MuJoCo loads its GL platform when first imported and fails to import at all when that
# platform's library is missing, so choose EGL only where libEGL exists: state-only use
# must work on machines without any GL.
if "MUJOCO_GL" not in os.environ and ctypes.util.find_library("EGL"):
    os.environ["MUJOCO_GL"] = "egl"
try:
    import mujoco  # noqa: F401
except Exception as exc:  # an unusable MUJOCO_GL breaks the import itself
    raise UserError(
        f"MuJoCo could not be imported with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r} "
        f"({type(exc).__name__}: {exc}); unset MUJOCO_GL or install that GL backend"
    ) from exc

from diffrl_eval.clip import write_gif
from diffrl_eval.envs.tabletop.backend import (
    TabletopBackend,
    gym_id,
    register_gym_envs,
    task_def,
)
from diffrl_eval.envs.tabletop.env import INIT_STATE_OPTION, TabletopEnv
from diffrl_eval.envs.tabletop.privileged import PrivilegedState
from diffrl_eval.envs.tabletop.rendering import gl_available, require_gl
from diffrl_eval.envs.tabletop.replay import render_episode
from diffrl_eval.envs.tabletop.tasks import SUITES, TaskDef

register_gym_envs()

__all__ = [
    "INIT_STATE_OPTION",
    "SUITES",
    "PrivilegedState",
    "TabletopBackend",
    "TabletopEnv",
    "TaskDef",
    "gl_available",
    "gym_id",
    "register_gym_envs",
    "render_episode",
    "require_gl",
    "task_def",
    "write_gif",
]
