"""One tabletop task as a ``gymnasium.Env``.

Control runs at 20 Hz: each :meth:`TabletopEnv.step` sets the servo targets for the
action (:mod:`.control`) and advances :data:`SUBSTEPS` physics steps of 10 ms in one
``mj_step`` call. After every step the task's goal predicate is evaluated on the
privileged state; success gives reward 1 and ends the episode (``terminated``), and the
suite's step budget ends it otherwise (``truncated``).

Observations (dict, keys from :mod:`diffrl_eval.constants`):

* ``state`` (8,) float32: eef position (3), eef axis-angle relative to the pointing-down
  home orientation (3), finger joint positions (2)
* ``eef_pos`` (3,) float32
* ``object_poses`` (7 * n_objects,) float32: position (3) and quaternion (w, x, y, z)
  of every scene object in task order (a cabinet reports its sliding drawer)
* ``agentview_image`` / ``wrist_image`` (size, size, 3) uint8 when ``images=True``

``reset`` returns ``info = {"success": ..., "instruction": <the task's instruction>}``;
``step`` returns ``info = {"success": ...}``.

Observations and the goal check use the kinematics MuJoCo computed in the last physics
substep (at most 10 ms before the state the next action acts on), read from one
``sensordata`` array so that building them costs a few microseconds.

``reset(seed=s, options={"init_state_index": i})`` starts from fixed initial state ``i``
(modulo the number stored); without the option it samples the placement distribution
with the env's seeded generator. The same seed and actions give the same trajectory.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np

from diffrl_eval.constants import (
    ACTION_DIM,
    EEF_POS_DIM,
    INIT_STATE_OPTION,
    OBS_EEF_POS,
    OBS_OBJECT_POSES,
    OBS_STATE,
    STATE_DIM,
)
from diffrl_eval.envs.tabletop.control import GripperControl
from diffrl_eval.envs.tabletop.init_states import HOME, load_init_states, sample_placement
from diffrl_eval.envs.tabletop.objects import Kind
from diffrl_eval.envs.tabletop.privileged import PrivilegedState
from diffrl_eval.envs.tabletop.rendering import CameraRig, require_gl
from diffrl_eval.envs.tabletop.scene import (
    FINGER_JOINTS,
    FINGER_OPEN,
    TIMESTEP,
    SceneLayout,
    build_model,
)
from diffrl_eval.envs.tabletop.tasks import TaskDef
from diffrl_eval.errors import UserError

CONTROL_HZ = 20
SUBSTEPS = round(1.0 / (CONTROL_HZ * TIMESTEP))
_PROPRIO_SENSORS = 9  # gripper position (3), quaternion (4), finger joints (2)


class TabletopEnv(gym.Env):
    """A tabletop task: MuJoCo physics, LIBERO's action and observation conventions."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"],
                                          "render_fps": CONTROL_HZ}

    def __init__(self, task: TaskDef, *, images: bool = False, image_size: int = 128,
                 render_mode: str | None = None) -> None:
        if image_size <= 0:
            raise UserError(f"image size must be positive, got {image_size}")
        self.task = task
        self.images = images
        self.image_size = image_size
        self.render_mode = render_mode
        self.model = build_model(task.objects, render_size=image_size)
        self.data = mujoco.MjData(self.model)
        self.control = GripperControl(self.model, self.data)
        self._privileged = PrivilegedState(self.model, self.data, task.objects)
        self._goal = task.goal
        self._init_states = load_init_states(task.task_id)
        self._cameras: CameraRig | None = None
        if images or render_mode == "rgb_array":
            require_gl()
            self._cameras = CameraRig(self.model, image_size)

        self._placements = self._placement_writers()
        self._home_qpos = self.model.qpos0.copy()
        self._home_qpos[self.control.arm_qpos] = (*HOME, 0.0, 0.0, 0.0)
        for joint, sign in zip(FINGER_JOINTS, (1, -1), strict=True):
            self._home_qpos[self.model.joint(joint).qposadr[0]] = sign * FINGER_OPEN
        self._sensordata = self.data.sensordata  # one view, reused every step
        self._steps = 0

        n_obj = len(task.objects)
        spaces: dict[str, gym.Space] = {
            OBS_STATE: gym.spaces.Box(-np.inf, np.inf, (STATE_DIM,), np.float32),
            OBS_EEF_POS: gym.spaces.Box(-np.inf, np.inf, (EEF_POS_DIM,), np.float32),
            OBS_OBJECT_POSES: gym.spaces.Box(-np.inf, np.inf, (7 * n_obj,), np.float32),
        }
        if images:
            for key in self._cameras.render_all(self.data):  # type: ignore[union-attr]
                spaces[key] = gym.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)

    # --- public accessors ------------------------------------------------------------
    def privileged_state(self) -> PrivilegedState:
        """Ground-truth object poses and drawer openings (for experts and predicates)."""
        return self._privileged

    @property
    def init_states(self) -> np.ndarray:
        """The task's fixed initial states, (N, 3 * n_objects + 1)."""
        return self._init_states

    @property
    def max_steps(self) -> int:
        return self.task.max_steps

    # --- gymnasium API ---------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        if options.get(INIT_STATE_OPTION) is not None:
            index = int(options[INIT_STATE_OPTION]) % len(self._init_states)
            placement = self._init_states[index]
        else:
            placement = sample_placement(self.task, self.np_random)
        self.set_init_state(placement)
        self._steps = 0
        return self._observation(), {"success": self._goal.holds(self._privileged),
                                     "instruction": self.task.instruction}

    def step(self, action):
        action = np.asarray(action)
        if action.shape != (ACTION_DIM,):
            raise ValueError(f"action must have shape ({ACTION_DIM},), got {action.shape}")
        self.control.apply(action, self.data)
        mujoco.mj_step(self.model, self.data, nstep=SUBSTEPS)
        self._steps += 1
        success = self._goal.holds(self._privileged)
        truncated = not success and self._steps >= self.task.max_steps
        return self._observation(), float(success), success, truncated, {"success": success}

    def render(self):
        if self._cameras is None:
            require_gl()
            self._cameras = CameraRig(self.model, self.image_size)
        return self._cameras.render(self.data)

    def close(self) -> None:
        if self._cameras is not None:
            self._cameras.close()
            self._cameras = None

    # --- internals -------------------------------------------------------------------
    def set_init_state(self, placement: np.ndarray) -> None:
        """Put the scene in the initial state ``placement`` (layout: :mod:`.init_states`)."""
        placement = np.asarray(placement, dtype=np.float64)
        expected = 3 * len(self.task.objects) + 1
        if placement.shape != (expected,):
            raise ValueError(f"initial state must have shape ({expected},), got {placement.shape}")
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = self._home_qpos
        for write, (x, y, yaw) in zip(self._placements, placement[:-1].reshape(-1, 3),
                                      strict=True):
            write(x, y, yaw, placement[-1])
        mujoco.mj_forward(self.model, self.data)
        self.control.reset(self.data)
        self.data.ctrl[6] = FINGER_OPEN
        self.data.ctrl[7] = -FINGER_OPEN

    def _placement_writers(self):
        """One function per object that writes its (x, y, yaw) into model or qpos."""
        model, data = self.model, self.data
        writers = []
        for spec in self.task.objects:
            if spec.movable:
                adr = int(model.joint(SceneLayout.free_joint(spec)).qposadr[0])
                z = spec.geometry.half_height

                def write(x, y, yaw, _opening, adr=adr, z=z):
                    data.qpos[adr:adr + 7] = (x, y, z, np.cos(yaw / 2), 0, 0, np.sin(yaw / 2))
            else:
                body = int(model.body(spec.name).id)
                drawer = (int(model.joint(SceneLayout.drawer_joint(spec)).qposadr[0])
                          if spec.kind is Kind.CABINET else None)

                def write(x, y, yaw, opening, body=body, drawer=drawer):
                    model.body_pos[body] = (x, y, 0.0)
                    model.body_quat[body] = (np.cos(yaw / 2), 0, 0, np.sin(yaw / 2))
                    if drawer is not None:
                        data.qpos[drawer] = opening
            writers.append(write)
        return writers

    def _observation(self) -> dict[str, np.ndarray]:
        # MuJoCo computes every observed quantity into sensordata (see scene._sensors)
        sensors = self._sensordata
        state = self.control.state_from_sensors(sensors[:_PROPRIO_SENSORS].tolist())
        obs = {
            OBS_STATE: np.array(state, dtype=np.float32),
            OBS_EEF_POS: np.array(state[:3], dtype=np.float32),
            OBS_OBJECT_POSES: sensors[_PROPRIO_SENSORS:].astype(np.float32),
        }
        if self.images and self._cameras is not None:
            obs.update(self._cameras.render_all(self.data))
        return obs
