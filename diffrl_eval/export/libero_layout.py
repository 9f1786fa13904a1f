"""LIBERO's demonstration files: the robomimic HDF5 layout, its names and conventions.

One file per task, ``<task>_demo.hdf5``, in a folder per suite::

    data                       attrs: problem_info (JSON: problem_name, domain_name,
                               language_instruction), env_name, env_args (JSON),
                               bddl_file_name (.../<suite>/<task>.bddl), bddl_file_content,
                               macros_image_convention, num_demos, total (frames)
    data/demo_N                attrs: num_samples (frames), init_state (S,) = states[0],
                               model_file (the scene's MJCF)
      actions        (T, 7)    xyz delta, rotation delta, gripper (-1 open, +1 close)
      states         (T, S)    simulator state before each action (MuJoCo's flattened
                               state: time, qpos, qvel)
      robot_states   (T, 9)    gripper qpos (2), eef position (3), eef quaternion xyzw (4)
      rewards, dones (T,)      1 on the last step of a successful demonstration
      obs/ee_pos     (T, 3)    end-effector position
      obs/ee_ori     (T, 3)    end-effector orientation as an axis-angle vector
      obs/ee_states  (T, 6)    ee_pos and ee_ori side by side
      obs/gripper_states (T, 2) gripper finger joint positions
      obs/joint_states   (T, 7) arm joint positions
      obs/agentview_rgb, obs/eye_in_hand_rgb (T, H, W, 3) uint8 camera images

Our 8-D state is LIBERO's proprioception: ee_pos, ee_ori, gripper_states.

LIBERO's dataset script made the ``obs`` group by replaying each teleoperated demo from
its first state and recording the observation after every action, and dropped the first
few steps: row t of ``obs`` is what ``actions[t]`` led to, ``states[t]`` the state
before it.

Quaternions are (x, y, z, w), robosuite's order. Shapes: quaternion (..., 4), axis-angle
(..., 3), the axis-angle vector being the rotation axis scaled by the angle in radians.
"""

from __future__ import annotations

import numpy as np

from diffrl_eval import constants as C

DATA = "data"
OBS = "obs"
DEMO_PREFIX = "demo_"
DEMO_FILE_SUFFIX = "_demo.hdf5"
BDDL_SUFFIX = ".bddl"

ACTIONS = "actions"
STATES = "states"
ROBOT_STATES = "robot_states"
REWARDS = "rewards"
DONES = "dones"
EE_POS = "ee_pos"
EE_ORI = "ee_ori"
EE_STATES = "ee_states"
GRIPPER_STATES = "gripper_states"
JOINT_STATES = "joint_states"
CAMERA_DATASETS = {
    C.OBS_AGENTVIEW_IMAGE: "agentview_rgb",
    C.OBS_WRIST_IMAGE: "eye_in_hand_rgb",
}
# Not in LIBERO's files; written by our exporter so that a round trip keeps the per-step
# success flags (LIBERO's own files are read through their rewards).
SUCCESSES = "successes"

NUM_SAMPLES = "num_samples"
INIT_STATE = "init_state"
NUM_DEMOS = "num_demos"
TOTAL = "total"
PROBLEM_INFO = "problem_info"
LANGUAGE_INSTRUCTION = "language_instruction"
PROBLEM_NAME = "problem_name"
DOMAIN_NAME = "domain_name"
ENV_NAME = "env_name"
ENV_ARGS = "env_args"
BDDL_FILE_NAME = "bddl_file_name"
BDDL_FILE_CONTENT = "bddl_file_content"
IMAGE_CONVENTION = "macros_image_convention"
# robosuite renders with OpenGL, whose image rows run bottom to top; LIBERO's files store
# the frames that way and say so in this attribute.
OPENGL = "opengl"
# Our provenance (backend, source, suite, task id, seeds) as JSON, on data and demos.
PROVENANCE = "diffrl_eval"
# What a demo's ``states`` holds in files we write (the "states" entry of its provenance;
# files written before it existed hold the proprio state)
STATES_INIT_SIM = "init_sim_state"  # row 0 the initial simulator state, later rows NaN
STATES_PROPRIO = "proprio"  # the 8-D proprio state

GRIPPER_QPOS_DIM = 2
JOINT_DIM = 7
ROBOT_STATE_DIM = GRIPPER_QPOS_DIM + C.EEF_POS_DIM + 4


def demo_name(index: int) -> str:
    return f"{DEMO_PREFIX}{index}"


def demo_number(name: str) -> int | None:
    """N of ``demo_N``, or None for any other name."""
    if not name.startswith(DEMO_PREFIX):
        return None
    digits = name[len(DEMO_PREFIX):]
    return int(digits) if digits.isdigit() else None


def quat_to_axis_angle(quat: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions (x, y, z, w) -> (..., 3) axis-angle vectors.

    Picks the rotation angle in [0, pi] (q and -q are the same rotation); the identity
    maps to the zero vector.
    """
    quat = np.asarray(quat, dtype=np.float64)
    quat = quat / np.linalg.norm(quat, axis=-1, keepdims=True)
    quat = np.where(quat[..., 3:4] < 0, -quat, quat)  # w >= 0: angle in [0, pi]
    sin_half = np.linalg.norm(quat[..., :3], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, quat[..., 3:4])
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(sin_half > 1e-12, angle / sin_half, 2.0)  # small angles: 2 * xyz
    return quat[..., :3] * scale


def axis_angle_to_quat(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle vectors -> (..., 4) unit quaternions (x, y, z, w)."""
    axis_angle = np.asarray(axis_angle, dtype=np.float64)
    angle = np.linalg.norm(axis_angle, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(angle > 1e-12, np.sin(angle / 2.0) / angle, 0.5)
    return np.concatenate([axis_angle * scale, np.cos(angle / 2.0)], axis=-1)
