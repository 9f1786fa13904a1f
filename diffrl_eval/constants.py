"""Names shared across the project: frame columns, observation keys, dimensions.

One module, so that no column or key is spelt as a string literal anywhere else.
"""

from __future__ import annotations

# --- dimensions (LIBERO's conventions) -------------------------------------------------
STATE_DIM = 8  # eef position (3) + eef axis-angle (3) + gripper joint positions (2)
EEF_POS_DIM = 3
ACTION_DIM = 7  # xyz delta (3) + rotation delta (3) + gripper (-1 open, +1 close)
ACTION_MOTION_DIMS = 6  # the part of the action that moves the arm
GRIPPER_ACTION_INDEX = 6
DEFAULT_CONTROL_HZ = 20

# --- frame table columns (one row per environment step) --------------------------------
COL_EPISODE = "episode_index"
COL_STEP = "step_index"
COL_TASK = "task_id"
COL_INSTRUCTION = "instruction"
COL_STATE = "state"
COL_EEF_POS = "eef_pos"
COL_ACTION = "action"
COL_REWARD = "reward"
COL_SUCCESS = "success"  # the task's goal predicate holds after this step
COL_DONE = "done"  # last step of its episode

FRAME_COLUMNS = (
    COL_EPISODE,
    COL_STEP,
    COL_TASK,
    COL_INSTRUCTION,
    COL_STATE,
    COL_EEF_POS,
    COL_ACTION,
    COL_REWARD,
    COL_SUCCESS,
    COL_DONE,
)

# --- observation dictionary keys (what envs return, what policies read) ----------------
OBS_STATE = "state"
OBS_EEF_POS = "eef_pos"
OBS_OBJECT_POSES = "object_poses"
OBS_AGENTVIEW_IMAGE = "agentview_image"
OBS_WRIST_IMAGE = "wrist_image"
CAMERA_KEYS = (OBS_AGENTVIEW_IMAGE, OBS_WRIST_IMAGE)

# --- LeRobot's names for the same observations (LeRobotDataset features, LeRobot envs) ------
LEROBOT_STATE = "observation.state"
LEROBOT_ENVIRONMENT_STATE = "observation.environment_state"
LEROBOT_CAMERA_KEYS = {
    OBS_AGENTVIEW_IMAGE: "observation.images.image",
    OBS_WRIST_IMAGE: "observation.images.wrist_image",
}
LEROBOT_TASK = "task"  # the language instruction, as LeRobot batches carry it

# --- env.reset options every backend understands ------------------------------------------
INIT_STATE_OPTION = "init_state_index"  # start from the task's fixed initial state i
# start where a recording started: the flattened simulator state before its first action
# (LIBERO's demo states[0]), robot control as in a running episode, no settle steps
# (backends whose recordings keep simulator states: libero)
RECORDED_START_OPTION = "recorded_start"

# --- manifest: how a generator produced the actions (generator_config[GENERATION_KEY]) ------
GENERATION_KEY = "generation"
EXECUTED_CHUNK_STEPS = "executed_chunk_steps"  # actions executed per policy decision

# --- entry-point groups ------------------------------------------------------------------
EP_GENERATORS = "diffrl_eval.generators"
EP_VLAS = "diffrl_eval.vlas"
EP_ENVS = "diffrl_eval.envs"
EP_REPORTS = "diffrl_eval.reports"
EP_DATASET_SOURCES = "diffrl_eval.dataset_sources"
# value: a function that receives the Typer app and adds the plug-in's commands to it
EP_COMMANDS = "diffrl_eval.commands"

# --- defaults ------------------------------------------------------------------------------
DEFAULT_VLA = "tiny-vla"  # the built-in VLA plug-in, trained when --vla is not given

# --- labels --------------------------------------------------------------------------------
SIMULATED_TELEOP_LABEL = "simulated teleoperation"
