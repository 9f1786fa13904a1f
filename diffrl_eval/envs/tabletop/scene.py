"""Build the MuJoCo model of one tabletop scene (generated MJCF).

A scene is the table, the floating parallel-jaw gripper, two cameras and the task's
objects. Only what a task needs is in its scene, so small tasks simulate fast.

Physics choices: a 10 ms timestep with the ``implicitfast`` integrator and elliptic
friction cones holds friction grasps (no welding of grasped objects) while simulating
several thousand control steps per second. Collision groups keep fixture/fixture and
drawer/cabinet pairs out of the collision pipeline:

======================  =======  ===========
geoms                   contype  conaffinity
======================  =======  ===========
table, fixtures         2        1
gripper, movables       1        7
drawer (sliding part)   4        1
visual-only             0        0
======================  =======  ===========
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from diffrl_eval.envs.tabletop.objects import (
    COLOURS,
    DRAWER_HANDLE_REACH,
    DRAWER_TRAVEL,
    Kind,
    ObjectSpec,
)

TIMESTEP = 0.01  # seconds per physics step
GRIPPER_BODY = "gripper"
FINGER_JOINTS = ("finger_left", "finger_right")
ARM_JOINTS = ("eef_x", "eef_y", "eef_z", "eef_yaw", "eef_pitch", "eef_roll")
FINGER_OPEN = 0.04  # metres each finger travels from closed to fully open
AGENTVIEW_CAMERA = "agentview"
WRIST_CAMERA = "wrist"

# Workspace of the end effector (world frame, metres) and its rotation limits (radians).
WORKSPACE_LOW = np.array([-0.35, -0.35, 0.0])
WORKSPACE_HIGH = np.array([0.35, 0.35, 0.40])
TILT_LIMIT = np.pi / 3  # roll and pitch; keeps the Euler chain away from gimbal lock
YAW_LIMIT = np.pi

_STATIC = 'contype="2" conaffinity="1"'
_DYNAMIC = 'contype="1" conaffinity="7"'
_DRAWER = 'contype="4" conaffinity="1"'
_VISUAL = 'contype="0" conaffinity="0"'


@dataclass(frozen=True)
class SceneLayout:
    """Names in the compiled model that the env and the predicates look up."""

    objects: tuple[ObjectSpec, ...]

    @staticmethod
    def drawer_joint(cabinet: ObjectSpec) -> str:
        return f"{cabinet.name}_drawer"

    @staticmethod
    def drawer_body(cabinet: ObjectSpec) -> str:
        return f"{cabinet.name}_drawer"

    @staticmethod
    def free_joint(movable: ObjectSpec) -> str:
        return f"{movable.name}_joint"


def _rgba(colour: str, alpha: float = 1.0) -> str:
    r, g, b = COLOURS[colour]
    return f"{r:.3f} {g:.3f} {b:.3f} {alpha:.2f}"


def _box(name: str, pos, size, rgba: str, flags: str, extra: str = "") -> str:
    p = " ".join(f"{v:.4f}" for v in pos)
    s = " ".join(f"{v:.4f}" for v in size)
    return f'<geom name="{name}" type="box" pos="{p}" size="{s}" rgba="{rgba}" {flags} {extra}/>'


def _container_geoms(spec: ObjectSpec) -> list[str]:
    """A bowl or basket: a base plate and four walls around an open square."""
    g = spec.geometry
    outer = g.half_xy + g.wall
    h = g.half_height
    rgba = _rgba(spec.colour)
    n = spec.name
    geoms = [_box(f"{n}_base", (0, 0, g.base / 2), (outer, outer, g.base / 2), rgba, _STATIC)]
    for i, (dx, dy) in enumerate(((1, 0), (-1, 0), (0, 1), (0, -1))):
        off = g.half_xy + g.wall / 2
        size = (g.wall / 2, outer, h) if dx else (outer, g.wall / 2, h)
        geoms.append(_box(f"{n}_wall{i}", (dx * off, dy * off, h), size, rgba, _STATIC))
    return geoms


def _cabinet_body(spec: ObjectSpec) -> str:
    """A cabinet (static housing, open front facing -x) with a drawer on a slide joint."""
    g = spec.geometry
    a = g.half_xy
    t = g.wall / 2
    height = 2 * g.half_height
    rgba = _rgba(spec.colour)
    drawer_rgba = _rgba(spec.colour, 1.0)
    n = spec.name
    housing = [
        _box(f"{n}_top", (0, 0, height + t), (a, a, t), rgba, _STATIC),
        _box(f"{n}_side0", (0, a - t, height / 2), (a, t, height / 2), rgba, _STATIC),
        _box(f"{n}_side1", (0, -a + t, height / 2), (a, t, height / 2), rgba, _STATIC),
        _box(f"{n}_back", (a - t, 0, height / 2), (t, a - 2 * t, height / 2), rgba, _STATIC),
    ]
    inner = a - 2 * t - 0.004  # drawer half width, with a gap to the housing
    front_x = -a + 0.004
    wall_h = 0.3 * height
    handle_half = DRAWER_HANDLE_REACH / 2
    drawer = [
        _box(f"{n}_dbottom", (0, 0, 0.006), (inner, inner, 0.003), drawer_rgba, _DRAWER),
        _box(f"{n}_dfront", (front_x + t, 0, height * 0.45), (t, inner, height * 0.4),
             drawer_rgba, _DRAWER),
        _box(f"{n}_dback", (inner - t, 0, wall_h), (t, inner, wall_h), drawer_rgba, _DRAWER),
        _box(f"{n}_dside0", (0, inner - t, wall_h), (inner, t, wall_h), drawer_rgba, _DRAWER),
        _box(f"{n}_dside1", (0, -inner + t, wall_h), (inner, t, wall_h), drawer_rgba, _DRAWER),
        _box(f"{n}_handle", (front_x - handle_half, 0, 0.035), (handle_half, 0.01, 0.008),
             _rgba("white"), _DRAWER, 'friction="1.2 0.01 0.0001"'),
    ]
    drawer_xml = (
        f'<body name="{SceneLayout.drawer_body(spec)}">'
        '<inertial pos="0 0 0.03" mass="0.3" diaginertia="0.002 0.002 0.002"/>'
        f'<joint name="{SceneLayout.drawer_joint(spec)}" type="slide" axis="-1 0 0" '
        f'range="0 {DRAWER_TRAVEL}" limited="true" damping="4" frictionloss="0.3" '
        'armature="0.2"/>' + "".join(drawer) + "</body>"
    )
    return f'<body name="{n}">' + "".join(housing) + drawer_xml + "</body>"


def _object_body(spec: ObjectSpec) -> str:
    g = spec.geometry
    n = spec.name
    rgba = _rgba(spec.colour)
    if spec.kind is Kind.CUBE:
        s = g.half_xy
        return (
            f'<body name="{n}" pos="0 0 {g.half_height}"><freejoint name="{n}_joint"/>'
            f'<geom name="{n}_geom" type="box" size="{s} {s} {s}" mass="{g.mass}" '
            f'rgba="{rgba}" {_DYNAMIC} friction="1 0.01 0.0001"/></body>'
        )
    if spec.kind is Kind.CAN:
        return (
            f'<body name="{n}" pos="0 0 {g.half_height}"><freejoint name="{n}_joint"/>'
            f'<geom name="{n}_geom" type="cylinder" size="{g.half_xy} {g.half_height}" '
            f'mass="{g.mass}" rgba="{rgba}" {_DYNAMIC} friction="1 0.01 0.0001"/></body>'
        )
    if spec.kind is Kind.PLATE:
        plate = _box(f"{n}_geom", (0, 0, g.half_height), (g.half_xy, g.half_xy, g.half_height),
                     rgba, _STATIC)
        return f'<body name="{n}">{plate}</body>'
    if spec.kind in (Kind.BOWL, Kind.BASKET):
        return f'<body name="{n}">' + "".join(_container_geoms(spec)) + "</body>"
    if spec.kind is Kind.CABINET:
        return _cabinet_body(spec)
    raise ValueError(f"no geometry for kind {spec.kind}")


def _gripper_body() -> str:
    """The floating gripper: 3 slides + 3 hinges (yaw, pitch, roll) about the grasp point.

    The body origin is the grasp point between the finger tips; with all joints at zero
    the gripper points straight down and the fingers close along y.
    """
    joints = "".join(
        f'<joint name="{name}" type="slide" axis="{axis}" armature="0.5" damping="0"/>'
        for name, axis in zip(ARM_JOINTS[:3], ("1 0 0", "0 1 0", "0 0 1"), strict=True)
    )
    joints += "".join(
        f'<joint name="{name}" type="hinge" axis="{axis}" armature="0.005" '
        f'range="{-lim:.4f} {lim:.4f}" limited="true"/>'
        for name, axis, lim in zip(
            ARM_JOINTS[3:], ("0 0 1", "0 1 0", "1 0 0"), (YAW_LIMIT, TILT_LIMIT, TILT_LIMIT),
            strict=True,
        )
    )
    grey = "0.35 0.35 0.38 1"
    fingers = []
    for joint, sign in zip(FINGER_JOINTS, (1, -1), strict=True):
        lo, hi = (0, FINGER_OPEN) if sign > 0 else (-FINGER_OPEN, 0)
        fingers.append(
            f'<body name="{joint}_body" gravcomp="1">'
            f'<joint name="{joint}" type="slide" axis="0 1 0" range="{lo} {hi}" limited="true" '
            'armature="0.05" damping="0"/>'
            + _box(f"{joint}_pad", (0, sign * 0.005, 0.012), (0.009, 0.005, 0.028), grey,
                   _DYNAMIC, 'mass="0.05" condim="4" friction="1.5 0.02 0.0001"')
            + "</body>"
        )
    return (
        f'<body name="{GRIPPER_BODY}" pos="0 0 0" gravcomp="1">{joints}'
        '<inertial pos="0 0 0.05" mass="0.4" diaginertia="0.001 0.001 0.001"/>'
        + _box("palm", (0, 0, 0.052), (0.015, 0.05, 0.012), grey, _DYNAMIC)
        + _box("wrist_visual", (0, 0, 0.1), (0.012, 0.012, 0.036), grey, _VISUAL)
        + '<site name="eef" pos="0 0 0" size="0.004" rgba="1 0 0 0.5"/>'
        + f'<camera name="{WRIST_CAMERA}" pos="-0.08 0 0.13" '
        f'xyaxes="{_look_at((-0.08, 0, 0.13), (0.0, 0.0, -0.03))}" fovy="75"/>'
        + "".join(fingers)
        + "</body>"
    )


def _look_at(eye, target) -> str:
    """``xyaxes`` of a camera at ``eye`` looking at ``target`` with world z up."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return " ".join(f"{v:.5f}" for v in (*right, *up))


def _actuators() -> str:
    def servo(joint: str, kp: float, kv: float, force: float, ctrl: tuple[float, float]) -> str:
        return (
            f'<general name="{joint}_servo" joint="{joint}" gaintype="fixed" gainprm="{kp}" '
            f'biastype="affine" biasprm="0 {-kp} {-kv}" forcelimited="true" '
            f'forcerange="{-force} {force}" ctrllimited="true" ctrlrange="{ctrl[0]} {ctrl[1]}"/>'
        )

    out = []
    for j, (lo, hi) in zip(ARM_JOINTS[:3], zip(WORKSPACE_LOW, WORKSPACE_HIGH, strict=True),
                           strict=True):
        out.append(servo(j, 2000, 90, 60, (lo, hi)))
    for j, lim in zip(ARM_JOINTS[3:], (YAW_LIMIT, TILT_LIMIT, TILT_LIMIT), strict=True):
        out.append(servo(j, 6, 0.4, 5, (-lim, lim)))
    out.append(servo(FINGER_JOINTS[0], 300, 8, 8, (0, FINGER_OPEN)))
    out.append(servo(FINGER_JOINTS[1], 300, 8, 8, (-FINGER_OPEN, 0)))
    return "<actuator>" + "".join(out) + "</actuator>"


def observed_body(spec: ObjectSpec) -> str:
    """The body whose pose observations report for ``spec`` (a cabinet: its drawer)."""
    return SceneLayout.drawer_body(spec) if spec.kind is Kind.CABINET else spec.name


def _sensors(objects: Sequence[ObjectSpec]) -> str:
    """Everything an observation reads, computed by MuJoCo into one ``sensordata`` array:
    gripper position (3), gripper quaternion (4), finger joints (2), then per object its
    position (3) and quaternion (4)."""
    out = [
        f'<framepos objtype="xbody" objname="{GRIPPER_BODY}"/>',
        f'<framequat objtype="xbody" objname="{GRIPPER_BODY}"/>',
        *(f'<jointpos joint="{j}"/>' for j in FINGER_JOINTS),
    ]
    for o in objects:
        body = observed_body(o)
        out.append(f'<framepos objtype="xbody" objname="{body}"/>')
        out.append(f'<framequat objtype="xbody" objname="{body}"/>')
    return "<sensor>" + "".join(out) + "</sensor>"


def scene_xml(objects: Sequence[ObjectSpec], *, render_size: int = 128) -> str:
    """MJCF text of a scene holding ``objects`` (fixtures at the origin until placed)."""
    names = [o.name for o in objects]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate object names in scene: {names}")
    buffer = max(256, int(render_size))
    bodies = "".join(_object_body(o) for o in objects)
    agent_cam = _look_at((-0.62, 0.0, 0.48), (0.05, 0.0, 0.0))
    return f"""
<mujoco model="tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{TIMESTEP}" integrator="implicitfast" cone="elliptic" impratio="5"/>
  <visual>
    <quality offsamples="0" shadowsize="0"/>
    <global offwidth="{buffer}" offheight="{buffer}"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.5 0.5 0.5" specular="0 0 0"/>
    <rgba haze="0.75 0.8 0.85 1"/>
  </visual>
  <worldbody>
    <light name="sun" directional="true" pos="0 0 2" dir="0.2 0.1 -1" castshadow="false"/>
    <geom name="table" type="box" pos="0 0 -0.02" size="0.45 0.6 0.02"
          rgba="0.72 0.62 0.5 1" {_STATIC} friction="0.8 0.005 0.0001"/>
    <camera name="{AGENTVIEW_CAMERA}" pos="-0.62 0 0.48" xyaxes="{agent_cam}" fovy="50"/>
    {_gripper_body()}
    {bodies}
  </worldbody>
  {_actuators()}
  {_sensors(objects)}
</mujoco>
"""


def build_model(objects: Sequence[ObjectSpec], *, render_size: int = 128) -> mujoco.MjModel:
    """Compile the scene holding ``objects``."""
    return mujoco.MjModel.from_xml_string(scene_xml(objects, render_size=render_size))
