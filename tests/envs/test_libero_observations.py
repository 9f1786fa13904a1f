"""LIBERO observations in the project's schema: axis-angle, 8-D state, upright images, poses.

Pure numpy: these run without the ``libero`` extra. Where robosuite is installed its own
conversion is the independent reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffrl_eval.envs.libero import runtime
from diffrl_eval.envs.libero.observations import (
    pose_wxyz,
    proprio_state,
    quat_to_axis_angle,
    upright,
)


def xyzw(axis, angle):
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    return np.array([*(axis * math.sin(angle / 2)), math.cos(angle / 2)])


@pytest.mark.parametrize(
    ("quat", "expected"),
    [
        ((0, 0, 0, 1), (0, 0, 0)),  # identity
        ((0, 0, 0, -1), (0, 0, 0)),  # identity, other hemisphere
        (xyzw((0, 0, 1), math.pi / 2), (0, 0, math.pi / 2)),
        ((1, 0, 0, 0), (math.pi, 0, 0)),  # half turn about x
        (xyzw((0, 1, 0), 1e-6), (0, 1e-6, 0)),  # tiny angles need no special case
        # w < 0 is not folded: -q(z, 90 deg) reads as a 270 degree turn about -z
        (-xyzw((0, 0, 1), math.pi / 2), (0, 0, -3 * math.pi / 2)),
    ],
)
def test_quaternions_become_axis_angle_vectors_by_hand(quat, expected):
    np.testing.assert_allclose(quat_to_axis_angle(np.array(quat, dtype=float)), expected,
                               atol=1e-12)


def test_axis_angle_is_vectorised_over_leading_dimensions():
    rng = np.random.default_rng(0)
    quats = rng.normal(size=(4, 5, 4))
    quats /= np.linalg.norm(quats, axis=-1, keepdims=True)
    batched = quat_to_axis_angle(quats)
    assert batched.shape == (4, 5, 3)
    np.testing.assert_array_equal(batched[2, 3], quat_to_axis_angle(quats[2, 3]))


@pytest.mark.skipif(not runtime.installed(), reason="needs the libero extra (robosuite)")
def test_axis_angle_agrees_with_robosuite():
    transform = runtime.import_libero().transform
    rng = np.random.default_rng(1)
    quats = rng.normal(size=(200, 4))
    quats /= np.linalg.norm(quats, axis=-1, keepdims=True)
    for quat in quats:
        np.testing.assert_allclose(quat_to_axis_angle(quat),
                                   transform.quat2axisangle(quat.copy()), atol=1e-12)


def test_state_is_eef_position_axis_angle_and_finger_positions_in_float32():
    state = proprio_state([0.1, -0.2, 1.0], xyzw((1, 0, 0), math.pi), [0.03, -0.03])
    assert state.dtype == np.float32
    np.testing.assert_allclose(state, [0.1, -0.2, 1.0, math.pi, 0, 0, 0.03, -0.03], atol=1e-6)
    with pytest.raises(ValueError, match="8 entries"):
        proprio_state([0.1, 0.2, 0.3], (0, 0, 0, 1), [0.03])


def test_images_are_turned_half_a_turn_to_stand_upright():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    turned = upright(image)
    assert turned.flags.c_contiguous
    np.testing.assert_array_equal(turned[0, 0], image[1, 2])  # bottom right -> top left
    np.testing.assert_array_equal(turned[1, 2], image[0, 0])
    np.testing.assert_array_equal(upright(turned), image)


def test_poses_put_the_scalar_part_of_the_quaternion_first():
    pose = pose_wxyz([1, 2, 3], [0.1, 0.2, 0.3, 0.9])
    assert pose.dtype == np.float32
    np.testing.assert_allclose(pose, [1, 2, 3, 0.9, 0.1, 0.2, 0.3], atol=1e-7)
