"""LIBERO's robosuite observations in the project's schema (pure functions, numpy only).

robosuite reports the end-effector orientation as a quaternion in (x, y, z, w) order and
renders camera images upside down (OpenGL's row order). The project's schema, like the
VLA pipelines trained on LIBERO, wants

* ``state`` (8,): eef position (3), the eef quaternion as an axis-angle vector (3),
  gripper finger joint positions (2);
* images upright: rows and columns reversed (a 180 degree turn), as LIBERO's evaluation
  scripts present them to policies;
* object poses as position (3) + quaternion (w, x, y, z) per object, the tabletop
  backend's convention.
"""

from __future__ import annotations

import numpy as np

from diffrl_eval.constants import STATE_DIM


def quat_to_axis_angle(quat_xyzw: np.ndarray) -> np.ndarray:
    """Axis-angle vectors of unit quaternions in (x, y, z, w) order: (..., 4) -> (..., 3).

    The rotation angle is ``2 acos(w)`` in [0, 2 pi] without folding w < 0 onto the other
    hemisphere, the convention LIBERO's datasets and evaluation code share; the identity
    gives the zero vector.
    """
    quat = np.asarray(quat_xyzw, dtype=np.float64)
    w = np.clip(quat[..., 3], -1.0, 1.0)
    sin_half = np.sqrt(1.0 - w * w)
    angle = 2.0 * np.arccos(w)
    # only an exact identity (w = +-1) is special: angle / sin(angle / 2) tends to 2 as
    # the angle goes to zero, so small rotations need no special case
    scale = np.divide(angle, sin_half, out=np.zeros_like(angle), where=sin_half > 0.0)
    return quat[..., :3] * scale[..., None]


def proprio_state(eef_pos: np.ndarray, eef_quat_xyzw: np.ndarray,
                  gripper_qpos: np.ndarray) -> np.ndarray:
    """The 8-D state: eef position (3), axis-angle (3), finger joints (2); float32."""
    state = np.concatenate([np.asarray(eef_pos, dtype=np.float64),
                            quat_to_axis_angle(eef_quat_xyzw),
                            np.asarray(gripper_qpos, dtype=np.float64)], axis=-1)
    if state.shape[-1] != STATE_DIM:
        raise ValueError(f"state must have {STATE_DIM} entries, got {state.shape[-1]}")
    return state.astype(np.float32)


def upright(image: np.ndarray) -> np.ndarray:
    """A robosuite camera image (H, W, 3) turned the right way up (rows and columns
    reversed), as a contiguous array."""
    return np.ascontiguousarray(image[::-1, ::-1])


def pose_wxyz(pos: np.ndarray, quat_xyzw: np.ndarray) -> np.ndarray:
    """Position (3) and quaternion reordered to (w, x, y, z): (7,) float32."""
    quat = np.asarray(quat_xyzw, dtype=np.float32)
    return np.concatenate([np.asarray(pos, dtype=np.float32), quat[3:], quat[:3]])
