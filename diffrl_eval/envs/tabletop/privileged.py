"""Privileged (simulator) state of a tabletop scene: the public accessor for experts.

Goal predicates and scripted experts (the simulated teleoperator) need ground truth
that a policy does not see: object poses by name, drawer openings, object sizes. This
read-only view is the one documented way to get it:
``env.unwrapped.privileged_state()`` on a :class:`~diffrl_eval.envs.tabletop.env.TabletopEnv`.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from diffrl_eval.envs.tabletop.objects import Kind, ObjectSpec
from diffrl_eval.envs.tabletop.scene import FINGER_JOINTS, GRIPPER_BODY, SceneLayout


class PrivilegedState:
    """Live, read-only view of one scene's simulator state (no copies until asked)."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData,
                 objects: tuple[ObjectSpec, ...]) -> None:
        self._data = data
        self._xpos, self._xquat = data.xpos, data.xquat  # one view each, reused per call
        self.objects = {o.name: o for o in objects}
        self._body = {o.name: int(model.body(o.name).id) for o in objects}
        self._drawer_qpos = {
            o.name: int(model.joint(SceneLayout.drawer_joint(o)).qposadr[0])
            for o in objects if o.kind is Kind.CABINET
        }
        self._handle = {
            o.name: int(model.geom(f"{o.name}_handle").id)
            for o in objects if o.kind is Kind.CABINET
        }
        self._gripper = int(model.body(GRIPPER_BODY).id)
        self._fingers = [int(model.joint(n).qposadr[0]) for n in FINGER_JOINTS]

    def position(self, name: str) -> np.ndarray:
        """World position (3,) of the object's body origin (a movable's centre; a
        fixture's footprint centre on the table)."""
        return self._data.xpos[self._body[name]]

    def xyz(self, name: str) -> list[float]:
        """World position as three Python floats (cheap for per-step predicates)."""
        return self._xpos[self._body[name]].tolist()

    def quaternion(self, name: str) -> np.ndarray:
        """World orientation (4,) as a unit quaternion (w, x, y, z)."""
        return self._data.xquat[self._body[name]]

    def yaw(self, name: str) -> float:
        """Rotation about the world z axis (radians)."""
        w, x, y, z = self._xquat[self._body[name]].tolist()
        return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))

    def drawer_opening(self, name: str) -> float:
        """How far the cabinet's drawer is pulled out (metres, 0 = closed)."""
        return float(self._data.qpos[self._drawer_qpos[name]])

    def handle_position(self, name: str) -> np.ndarray:
        """World position (3,) of the centre of the cabinet's drawer handle."""
        return self._data.geom_xpos[self._handle[name]].copy()

    def eef_position(self) -> np.ndarray:
        return self._data.xpos[self._gripper].copy()

    def eef_yaw(self) -> float:
        w, x, y, z = self._data.xquat[self._gripper].tolist()
        return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))

    def finger_opening(self) -> float:
        """Distance between the finger pads (metres)."""
        return float(self._data.qpos[self._fingers[0]] - self._data.qpos[self._fingers[1]])
