"""The ``libero`` backend: the real LIBERO benchmark through hf-libero.

Public API:

* :class:`LiberoBackend` - the ``libero`` env backend (five suites, 130 tasks, official
  initial states, ``make_env`` / ``make_vector_env``, ``replay_frames``).
* :class:`LiberoEnv` - one task as a ``gymnasium.Env`` in the project's observation
  schema; :func:`register_gym_envs` registers all 130 as ``libero/<task_id>-v0``; ``env.unwrapped.sim_state()`` / ``model_xml()`` give what LIBERO's HDF5 files
  record, ``env.unwrapped.libero_env`` hf-libero's own environment.
* :func:`replay_check` - replay a recorded episode from its first state and compare.
* :mod:`.runtime` - finding hf-libero and its assets, importing it offline without
  prompts (:func:`import_libero`, :func:`find_assets`, :func:`asset_candidates`).

Importing this package does not import hf-libero: the backend can be listed (and
``diffrl-eval doctor`` can explain what is missing) on machines without the ``libero``
extra. Headless camera rendering uses EGL, which robosuite selects itself on Linux.
"""

from diffrl_eval.envs.libero.backend import LiberoBackend, gym_id, register_gym_envs
from diffrl_eval.envs.libero.env import (
    DUMMY_ACTION,
    INIT_SIM_STATE_OPTION,
    INIT_STATE_OPTION,
    MODEL_XML_OPTION,
    RECORDED_START_OPTION,
    SETTLE_STEPS,
    SETTLE_STEPS_OPTION,
    LiberoEnv,
)
from diffrl_eval.envs.libero.replay import ReplayCheck, render_episode, replay_check
from diffrl_eval.envs.libero.runtime import (
    asset_candidates,
    find_assets,
    import_libero,
    installed,
    portable_model_xml,
)
from diffrl_eval.envs.libero.tasks import SUITE_MAX_STEPS, SUITES, LiberoTask

__all__ = [
    "DUMMY_ACTION",
    "INIT_SIM_STATE_OPTION",
    "INIT_STATE_OPTION",
    "MODEL_XML_OPTION",
    "RECORDED_START_OPTION",
    "SETTLE_STEPS",
    "SETTLE_STEPS_OPTION",
    "SUITES",
    "SUITE_MAX_STEPS",
    "LiberoBackend",
    "LiberoEnv",
    "LiberoTask",
    "ReplayCheck",
    "asset_candidates",
    "find_assets",
    "gym_id",
    "import_libero",
    "installed",
    "portable_model_xml",
    "register_gym_envs",
    "render_episode",
    "replay_check",
]
