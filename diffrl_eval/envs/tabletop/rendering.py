"""Camera images of a tabletop scene through ``mujoco.Renderer`` (offscreen GL).

Headless machines render through EGL (Mesa's llvmpipe on a CPU), selected by
``MUJOCO_GL=egl`` before MuJoCo is first imported; the package sets that default.
Multisampling and shadows are off in the scene's visual settings: they are what makes
software rendering slow.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import weakref
from functools import cache

import mujoco
import numpy as np

from diffrl_eval.constants import OBS_AGENTVIEW_IMAGE, OBS_WRIST_IMAGE
from diffrl_eval.envs.tabletop.scene import AGENTVIEW_CAMERA, WRIST_CAMERA
from diffrl_eval.errors import UserError

CAMERAS = {OBS_AGENTVIEW_IMAGE: AGENTVIEW_CAMERA, OBS_WRIST_IMAGE: WRIST_CAMERA}

_PROBE = (
    "import mujoco;"
    "m=mujoco.MjModel.from_xml_string('<mujoco><worldbody><geom size=\".1\"/></worldbody></mujoco>');"
    "r=mujoco.Renderer(m,8,8);d=mujoco.MjData(m);r.update_scene(d);r.render();r.close()"
)


def _use_egl_when_headless() -> None:
    """MuJoCo picks its GL platform when it is first imported. If something imported it
    before ``MUJOCO_GL=egl`` was set (the default this package sets), it picked GLFW,
    which needs a display; on a headless machine switch its renderer to EGL instead."""
    from mujoco.rendering.classic import gl_context

    context = getattr(gl_context, "GLContext", None)
    headless = sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
    wants_egl = os.environ.get("MUJOCO_GL", "egl").lower() == "egl"
    if headless and wants_egl and context is not None and "glfw" in context.__module__:
        from mujoco.egl import GLContext

        gl_context.GLContext = GLContext


@cache
def gl_available() -> bool:
    """Whether offscreen rendering works here (probed once, in a child process, because a
    failing GL context can abort the process that tries it)."""
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                               timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def require_gl() -> None:
    """Raise the one-line :class:`UserError` when images are asked for but cannot be made."""
    if not gl_available():
        raise UserError(
            "camera images need an OpenGL backend and none works here "
            "(try MUJOCO_GL=egl with Mesa's libEGL installed, or run without --images)"
        )


_OPEN_RIGS: weakref.WeakSet[CameraRig] = weakref.WeakSet()


def _close_open_rigs() -> None:
    """Free GL contexts before interpreter teardown: freed later, EGL is already gone and
    every leftover renderer prints a traceback on exit."""
    for rig in list(_OPEN_RIGS):
        rig.close()


def _track(rig: CameraRig) -> None:
    # MuJoCo's EGL module registers its display shutdown at its first context; exit
    # handlers run last-in first-out, so ours must be registered after that one.
    if not _OPEN_RIGS:
        atexit.unregister(_close_open_rigs)
        atexit.register(_close_open_rigs)
    _OPEN_RIGS.add(rig)


class CameraRig:
    """Renders the agent-view and wrist cameras, (size, size, 3) uint8 each."""

    def __init__(self, model: mujoco.MjModel, size: int) -> None:
        if size <= 0:
            raise UserError(f"image size must be positive, got {size}")
        self.size = size
        _use_egl_when_headless()
        self._renderer: mujoco.Renderer | None = mujoco.Renderer(model, size, size)
        _track(self)
        self._camera_ids = {key: int(model.camera(name).id) for key, name in CAMERAS.items()}

    def render(self, data: mujoco.MjData, key: str = OBS_AGENTVIEW_IMAGE) -> np.ndarray:
        self._renderer.update_scene(data, camera=self._camera_ids[key])
        return self._renderer.render()

    def render_all(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
        return {key: self.render(data, key) for key in self._camera_ids}

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
