"""From LIBERO's 7-D action to the gripper's joint servos.

Action (7,) in [-1, 1]: ``[dx, dy, dz, drx, dry, drz, gripper]``.

* ``dx, dy, dz`` move the end-effector target by up to :data:`POS_STEP_LIMIT` metres
  per control step (world frame).
* ``drx, dry, drz`` rotate it by an axis-angle of up to :data:`ROT_STEP_LIMIT` radians
  per step (world frame, about the grasp point).
* ``gripper``: -1 fully open, +1 fully closed, linear in between.

The limits are half of robosuite OSC_POSE's per-step output maxima (0.05 m, 0.5 rad):
the OSC tracks roughly half of its per-step target within one 50 ms step, whereas these
stiff joint servos track nearly all of it, so equal actions move about equally far.

Targets accumulate (a zero action holds the last target) but never lead the measured
pose by more than :data:`MAX_TARGET_LEAD`, so pushing against the table does not wind
up a target far below it.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from diffrl_eval.envs.tabletop.scene import (
    ARM_JOINTS,
    FINGER_JOINTS,
    FINGER_OPEN,
    TILT_LIMIT,
    WORKSPACE_HIGH,
    WORKSPACE_LOW,
    YAW_LIMIT,
)

POS_STEP_LIMIT = 0.025  # metres per control step at |action| = 1
ROT_STEP_LIMIT = 0.25  # radians per control step at |action| = 1
MAX_TARGET_LEAD = 0.04  # metres the position target may run ahead of the gripper
_EULER_LIMIT = (YAW_LIMIT, TILT_LIMIT, TILT_LIMIT)
_WS_LOW, _WS_HIGH = WORKSPACE_LOW.tolist(), WORKSPACE_HIGH.tolist()


def euler_zyx_to_quat(yaw: float, pitch: float, roll: float) -> tuple[float, ...]:
    """Quaternion (w, x, y, z) of Rz(yaw) Ry(pitch) Rx(roll), the gripper's hinge chain."""
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    return (
        cy * cp * cr + sy * sp * sr,
        cy * cp * sr - sy * sp * cr,
        cy * sp * cr + sy * cp * sr,
        sy * cp * cr - cy * sp * sr,
    )


def _quat_mul(a, b) -> tuple[float, ...]:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


class GripperControl:
    """Turns actions into servo set-points; reads the proprio state from sensor values."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        adr = [int(model.joint(name).qposadr[0]) for name in ARM_JOINTS]
        if adr != list(range(adr[0], adr[0] + 6)):
            raise RuntimeError("gripper joints are expected to be contiguous in qpos")
        self.arm_qpos = slice(adr[0], adr[0] + 6)
        if [int(model.actuator(f"{j}_servo").id) for j in (*ARM_JOINTS, *FINGER_JOINTS)] != list(
                range(8)):
            raise RuntimeError("servos are expected in arm-then-finger order")
        # MjData's array properties build a new numpy view per access; keep one of each
        self._qpos, self._ctrl = data.qpos, data.ctrl
        self._eef_qpos = slice(adr[0], adr[0] + 3)
        self.target_pos = [0.0, 0.0, 0.0]
        self.target_euler = [0.0, 0.0, 0.0]  # yaw, pitch, roll

    def reset(self, data: mujoco.MjData) -> None:
        """Hold the current pose."""
        q = data.qpos[self.arm_qpos]
        self.target_pos = q[:3].tolist()
        self.target_euler = q[3:].tolist()
        data.ctrl[:6] = q

    def apply(self, action: np.ndarray, data: mujoco.MjData) -> None:
        """Write the servo set-points for ``action`` (7,) into ``data.ctrl``.

        Plain-float arithmetic on purpose: for 3-vectors it is several times cheaper
        than numpy calls, and this runs once per control step.
        """
        a = [min(1.0, max(-1.0, v)) for v in action.tolist()]
        q = self._qpos[self._eef_qpos].tolist()
        target = self.target_pos
        for i in range(3):
            goal = target[i] + a[i] * POS_STEP_LIMIT
            goal = q[i] + min(MAX_TARGET_LEAD, max(-MAX_TARGET_LEAD, goal - q[i]))
            target[i] = min(_WS_HIGH[i], max(_WS_LOW[i], goal))
        if a[3] != 0.0 or a[4] != 0.0:
            self.target_euler = self._rotate([v * ROT_STEP_LIMIT for v in a[3:6]])
        elif a[5] != 0.0:
            # a turn about world z only changes the yaw of a Z-Y-X chain (exactly)
            yaw = self.target_euler[0] + a[5] * ROT_STEP_LIMIT
            self.target_euler[0] = min(YAW_LIMIT, max(-YAW_LIMIT, yaw))
        opening = FINGER_OPEN * 0.5 * (1.0 - a[6])
        self._ctrl[:] = (*target, *self.target_euler, opening, -opening)

    def _rotate(self, rotvec: list[float]) -> list[float]:
        """Target (yaw, pitch, roll) after turning by ``rotvec`` (world-frame axis-angle)."""
        angle = math.sqrt(rotvec[0] ** 2 + rotvec[1] ** 2 + rotvec[2] ** 2)
        half = 0.5 * angle
        k = math.sin(half) / angle
        delta = (math.cos(half), rotvec[0] * k, rotvec[1] * k, rotvec[2] * k)
        w, x, y, z = _quat_mul(delta, euler_zyx_to_quat(*self.target_euler))
        yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
        pitch = math.asin(min(1.0, max(-1.0, 2 * (w * y - z * x))))
        roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
        # keep yaw continuous with the previous target instead of wrapping at +-pi
        yaw += 2 * math.pi * round((self.target_euler[0] - yaw) / (2 * math.pi))
        return [min(lim, max(-lim, v)) for v, lim in zip((yaw, pitch, roll), _EULER_LIMIT)]

    @staticmethod
    def state_from_sensors(sensors: list[float]) -> list[float]:
        """The 8-D proprio state from the first 9 sensor values (gripper position,
        gripper quaternion, finger joints): eef pos (3), axis-angle (3), fingers (2)."""
        w, x, y, z = sensors[3:7]
        if w < 0.0:  # same rotation, the short way round
            w, x, y, z = -w, -x, -y, -z
        norm = math.sqrt(x * x + y * y + z * z)
        scale = 2.0 * math.atan2(norm, w) / norm if norm > 1e-12 else 2.0
        return [*sensors[:3], x * scale, y * scale, z * scale, *sensors[7:9]]
