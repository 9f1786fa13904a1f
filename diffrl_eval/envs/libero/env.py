"""One LIBERO task as a ``gymnasium.Env``, on hf-libero's robosuite environment.

The simulation is LIBERO's own: a Panda arm under robosuite's OSC_POSE controller at
20 Hz (25 physics steps of 2 ms per action), the scene and goal of the task's BDDL file.
What this class adds is the project's interface:

* ``reset(seed=s, options={"init_state_index": i})`` starts from LIBERO's official
  initial state ``i`` (modulo 50), as LIBERO's evaluations do: a reset of the robosuite
  env followed by writing the stored MuJoCo state. Without the option the scene is placed
  by LIBERO's own samplers. ``options={"init_state": state}`` starts from any flattened
  MuJoCo state instead (a recorded demonstration's first state).
* ``options={"recorded_start": state}`` starts where a recording started, e.g. a LIBERO
  demonstration from its ``states[0]``: the flattened state is written, no settle steps
  follow (the recording had none between that state and its first action), and the
  robot's control is put where a running episode has it (:meth:`LiberoEnv.
  _continue_control`): the flattened state alone does not hold it. Starting so from a
  state recorded after the settle steps reproduces the recorded episode exactly when the
  scene's fixtures stand where they stood (the same ``seed``).
* ``options={"model_xml": xml}`` loads the scene from a recorded MJCF (LIBERO's HDF5
  ``model_file``) instead of building it anew. LIBERO draws the fixtures' placement
  (cabinets, stoves: about a centimetre of spread) at every reset and the stored
  initial states do not hold it, so only the recorded scene replays a demonstration
  faithfully. Asset paths of another machine are mapped to the local assets.
* After the reset the arm waits ``settle_steps`` (default 10) steps with the dummy
  action (no motion, gripper open) while the objects come to rest; these steps are not
  part of the episode. ``options={"settle_steps": 0}`` skips them (for replaying
  recordings that started straight from their first state).
* ``info["success"]`` is LIBERO's goal check (every predicate of the BDDL goal holds)
  after each step; success gives reward 1 and ends the episode (``terminated``), the
  suite's step budget ends it otherwise (``truncated``).

Observations (dict, keys from :mod:`diffrl_eval.constants`, see :mod:`.observations`):
``state`` (8,), ``eef_pos`` (3,), ``object_poses`` (7 * n_objects,) for the task's movable
objects in BDDL order, and with ``images=True`` the agent-view and wrist cameras
(size, size, 3) uint8, upright.

LIBERO's placement samplers draw from numpy's global generator. The env seeds that
generator from its own ``np_random`` for the duration of each reset and restores it
afterwards, so the same seed gives the same episode, whatever the env ran before, and
other users of the global generator are left undisturbed.
"""

from __future__ import annotations

import atexit
import contextlib
import weakref
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from diffrl_eval.constants import (
    ACTION_DIM,
    EEF_POS_DIM,
    INIT_STATE_OPTION,
    OBS_AGENTVIEW_IMAGE,
    OBS_EEF_POS,
    OBS_OBJECT_POSES,
    OBS_STATE,
    OBS_WRIST_IMAGE,
    RECORDED_START_OPTION,
    STATE_DIM,
)
from diffrl_eval.envs.libero.observations import pose_wxyz, proprio_state, upright
from diffrl_eval.envs.libero.runtime import import_libero, portable_model_xml
from diffrl_eval.envs.libero.tasks import LiberoTask, load_init_states
from diffrl_eval.errors import UserError

CONTROL_HZ = 20
INIT_SIM_STATE_OPTION = "init_state"
MODEL_XML_OPTION = "model_xml"
SETTLE_STEPS_OPTION = "settle_steps"
SETTLE_STEPS = 10
# no arm motion, gripper open: what LIBERO's evaluations send while objects settle
DUMMY_ACTION = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0])
# robosuite camera name -> the project's observation key
CAMERAS = {"agentview": OBS_AGENTVIEW_IMAGE, "robot0_eye_in_hand": OBS_WRIST_IMAGE}

_OPEN_CAMERA_ENVS: weakref.WeakSet[LiberoEnv] = weakref.WeakSet()


def _close_camera_envs() -> None:
    """Free robosuite's GL contexts while EGL still exists: freed during interpreter
    teardown instead, every one of them prints a traceback."""
    for env in list(_OPEN_CAMERA_ENVS):
        env.close()


@contextlib.contextmanager
def _global_numpy_seed(seed: int):
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


class LiberoEnv(gym.Env):
    """A LIBERO task with the project's observation schema and episode rules."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"],
                                          "render_fps": CONTROL_HZ}

    def __init__(self, task: LiberoTask, *, images: bool = False, image_size: int = 128,
                 render_mode: str | None = None, settle_steps: int = SETTLE_STEPS) -> None:
        if image_size <= 0:
            raise UserError(f"image size must be positive, got {image_size}")
        if settle_steps < 0:
            raise UserError(f"settle steps must be non-negative, got {settle_steps}")
        if images or render_mode == "rgb_array":
            from diffrl_eval.envs.tabletop.rendering import require_gl

            require_gl()
        modules = import_libero()
        self.task = task
        self.images = images
        self.image_size = image_size
        self.render_mode = render_mode
        self.settle_steps = settle_steps
        renders = images or render_mode == "rgb_array"
        self.env_kwargs = {
            "bddl_file_name": str(task.bddl_file),
            "robots": ["Panda"],
            "controller": "OSC_POSE",
            "control_freq": CONTROL_HZ,
            "use_camera_obs": images,
            "has_renderer": False,
            "has_offscreen_renderer": renders,
            "camera_names": list(CAMERAS),
            "camera_heights": image_size,
            "camera_widths": image_size,
            # the episode's end is decided here (success or the suite's budget), never by
            # robosuite's horizon, which would refuse further steps
            "ignore_done": True,
        }
        self._sim_env = modules.env_wrapper.ControlEnv(**self.env_kwargs)
        self._assets = modules.assets
        self._init_states = load_init_states(task.task_id)
        self._objects = list(self._sim_env.env.objects_dict)
        self._steps = 0
        if renders:
            if not _OPEN_CAMERA_ENVS:
                # registered after robosuite's EGL module registered its own shutdown:
                # exit handlers run last-in first-out, so these contexts go first
                atexit.unregister(_close_camera_envs)
                atexit.register(_close_camera_envs)
            _OPEN_CAMERA_ENVS.add(self)

        spaces: dict[str, gym.Space] = {
            OBS_STATE: gym.spaces.Box(-np.inf, np.inf, (STATE_DIM,), np.float32),
            OBS_EEF_POS: gym.spaces.Box(-np.inf, np.inf, (EEF_POS_DIM,), np.float32),
            OBS_OBJECT_POSES: gym.spaces.Box(-np.inf, np.inf, (7 * len(self._objects),),
                                             np.float32),
        }
        if images:
            for key in CAMERAS.values():
                spaces[key] = gym.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)

    # --- public accessors ------------------------------------------------------------
    @property
    def init_states(self) -> np.ndarray:
        """LIBERO's official initial states of the task, (50, D) flattened MuJoCo states."""
        return self._init_states

    @property
    def max_steps(self) -> int:
        return self.task.max_steps

    @property
    def object_names(self) -> list[str]:
        """The movable objects whose poses ``object_poses`` lists, in that order."""
        return list(self._objects)

    @property
    def libero_env(self):
        """Privileged: hf-libero's robosuite environment (its ``sim``, objects, goal)."""
        return self._sim_env.env

    def sim_state(self) -> np.ndarray:
        """The flattened MuJoCo state (time, qpos, qvel), what LIBERO's HDF5 ``states``
        and initial-state files hold: (D,) float64."""
        return self._sim_env.get_sim_state()

    def model_xml(self) -> str:
        """The MJCF of the scene as loaded (LIBERO's HDF5 ``model_file`` attribute)."""
        return self._sim_env.sim.model.get_xml()

    def goal_holds(self) -> bool:
        """Whether every predicate of the task's BDDL goal holds in the current state."""
        return bool(self._sim_env.check_success())

    # --- gymnasium API ---------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        start = None
        recorded = options.get(RECORDED_START_OPTION) is not None
        if recorded:
            start = self._sim_state(options[RECORDED_START_OPTION])
        elif options.get(INIT_SIM_STATE_OPTION) is not None:
            start = self._sim_state(options[INIT_SIM_STATE_OPTION])
        elif options.get(INIT_STATE_OPTION) is not None:
            start = self._init_states[int(options[INIT_STATE_OPTION]) % len(self._init_states)]
        settle_steps = int(options.get(SETTLE_STEPS_OPTION, 0 if recorded else self.settle_steps))
        if settle_steps < 0:
            raise UserError(f"settle steps must be non-negative, got {settle_steps}")

        with _global_numpy_seed(int(self.np_random.integers(2**31))):
            if options.get(MODEL_XML_OPTION) is not None:
                xml = portable_model_xml(str(options[MODEL_XML_OPTION]), self._assets)
                self._sim_env.env.reset_from_xml_string(xml)
                # the gripper's command ramps (robosuite keeps it between steps); a hard
                # reset starts it from rest, and so must this one
                for robot in self._sim_env.env.robots:
                    robot.gripper.current_action = np.zeros(robot.gripper.dof)
                raw = self._sim_env.env._get_observations(force_update=True)
            else:
                # hf-libero appends the articulation samplers (drawer and door openings)
                # again at every hard reset and never drops the old ones: each reset would
                # draw more numbers than the one before, so the same seed would place the
                # scene differently depending on how many episodes the env has run
                self._sim_env.env.object_property_initializers.clear()
                raw = self._sim_env.reset()
        if start is not None:
            raw = self._sim_env.set_init_state(start)
        if recorded:
            self._continue_control()
        for _ in range(settle_steps):
            raw, *_ = self._sim_env.step(DUMMY_ACTION)
        self._steps = 0
        return self._observation(raw), {"success": self.goal_holds(),
                                        "instruction": self.task.instruction}

    def step(self, action):
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (ACTION_DIM,):
            raise ValueError(f"action must have shape ({ACTION_DIM},), got {action.shape}")
        raw, _, goal_reached, _ = self._sim_env.step(action)  # LIBERO's done is its goal
        self._steps += 1
        success = bool(goal_reached)
        truncated = not success and self._steps >= self.task.max_steps
        return self._observation(raw), float(success), success, truncated, {"success": success}

    def render(self):
        """The agent-view camera, upright: (size, size, 3) uint8."""
        if not self.env_kwargs["has_offscreen_renderer"]:
            raise UserError("this LIBERO env was made without a renderer; make it with "
                            "images=True or render_mode='rgb_array'")
        frame = self._sim_env.sim.render(self.image_size, self.image_size,
                                         camera_name="agentview")
        return upright(frame)

    def close(self) -> None:
        _OPEN_CAMERA_ENVS.discard(self)
        if getattr(self, "_sim_env", None) is not None:
            self._sim_env.close()
            self._sim_env = None

    # --- internals -------------------------------------------------------------------
    def _sim_state(self, value) -> np.ndarray:
        state = np.asarray(value, dtype=np.float64)
        if state.shape != self._init_states.shape[1:]:
            raise UserError(
                f"initial state for LIBERO task {self.task.task_id!r} must have shape "
                f"{self._init_states.shape[1:]}, got {state.shape}")
        return state

    def _continue_control(self) -> None:
        """Put the robot's control where it is in a running episode.

        Two things besides the simulator state steer the next action, and the flattened
        state holds neither. The arm controller keeps the end-effector pose it last read
        and rereads it only after a control step: after a reset it still holds the pose
        from before the state was written, and the first action would aim from there
        (about a centimetre off). The gripper command ramps towards each new command by a
        small step per physics step (robosuite): a reset leaves it half way, while an
        episode under way that started with the gripper open -- after the settle steps,
        or a teleoperated demonstration after its first steps -- has it fully open.
        """
        for robot in self._sim_env.env.robots:
            robot.controller.new_update = True  # reread the pose at the next action
            gripper = robot.gripper
            open_command = DUMMY_ACTION[-gripper.dof:]
            for _ in range(int(np.ceil(2.0 / gripper.speed)) + 1):  # from closed to open
                gripper.format_action(open_command)

    def _observation(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        state = proprio_state(raw["robot0_eef_pos"], raw["robot0_eef_quat"],
                              raw["robot0_gripper_qpos"])
        poses = [pose_wxyz(raw[f"{name}_pos"], raw[f"{name}_quat"]) for name in self._objects]
        obs = {
            OBS_STATE: state,
            OBS_EEF_POS: state[:EEF_POS_DIM].copy(),
            OBS_OBJECT_POSES: (np.concatenate(poses) if poses
                               else np.zeros(0, dtype=np.float32)),
        }
        if self.images:
            for camera, key in CAMERAS.items():
                obs[key] = upright(raw[f"{camera}_image"])
        return obs
