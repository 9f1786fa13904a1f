"""The project's environments as gymnasium ids: ``tabletop/<task>-v0`` and ``libero/<task>-v0``.

Registering is cheap and imports neither MuJoCo nor hf-libero: every id points at a string
entry point that builds the env only when ``gymnasium.make`` is called. The tabletop ids come
from :data:`TABLETOP_TASK_IDS` (a test keeps it equal to the task table); the LIBERO ids are
read from hf-libero's task map file without importing hf-libero, and only when the ``libero``
extra is installed.

Three ways lead here, so that ``import gymnasium; gymnasium.make("tabletop/<task>-v0")``
works in a fresh interpreter:

* the installed start-up hook (:mod:`diffrl_eval.envs.gymnasium_startup`, shipped as
  ``_diffrl_eval_gymnasium`` with a ``.pth`` file) calls :func:`register_envs` right after
  gymnasium is first imported (gymnasium 1.x loads no plug-ins itself);
* the ``gymnasium.envs`` entry-point group names :func:`register_envs`, for gymnasium
  releases that load plug-ins from it (0.26 to 0.29);
* ``import diffrl_eval`` registers when gymnasium is already imported, which is what
  gymnasium's own ``gymnasium.make("diffrl_eval:tabletop/<task>-v0")`` syntax relies on.

Keyword arguments of ``gymnasium.make`` reach the env constructor (``images=True``,
``image_size=...``) except ``observation_keys``: ``"lerobot"`` renames the observation keys
to LeRobot's (:mod:`diffrl_eval.envs.lerobot_keys`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path

TABLETOP_NAMESPACE = "tabletop"
LIBERO_NAMESPACE = "libero"
OBSERVATION_KEYS_OPTION = "observation_keys"

# Every tabletop task, suite by suite (kept equal to ``tabletop.tasks.TASKS`` by a test), so
# that registering needs no MuJoCo.
TABLETOP_TASK_IDS = (
    # tabletop-spatial
    "spatial_left_cube_on_plate", "spatial_right_cube_in_bowl", "spatial_front_cube_on_plate",
    "spatial_back_cube_in_bowl", "spatial_between_cube_on_plate",
    "spatial_cube_before_plate_in_bowl",
    # tabletop-object
    "object_red_cube_in_basket", "object_blue_can_in_basket", "object_yellow_cube_in_basket",
    "object_orange_can_in_basket", "object_purple_cube_in_basket", "object_white_can_in_basket",
    # tabletop-goal
    "goal_red_cube_in_bowl", "goal_blue_cube_on_plate", "goal_open_drawer",
    "goal_stack_red_on_blue", "goal_blue_cube_left_of_red_cube", "goal_red_cube_on_plate",
    # tabletop-long
    "long_red_in_bowl_and_blue_on_plate", "long_open_drawer_and_red_on_plate",
    "long_can_in_basket_and_close_drawer", "long_stack_blue_on_red_and_can_on_plate",
    "long_both_cubes_in_basket",
    # tabletop-90
    "t90_purple_cube_on_pink_plate", "t90_orange_cube_in_black_bowl",
    "t90_pink_can_in_white_basket", "t90_black_cube_on_green_plate",
    "t90_white_cube_in_orange_bowl", "t90_red_can_on_pink_plate", "t90_green_cube_in_black_bowl",
    "t90_blue_can_in_white_basket", "t90_orange_cube_right_of_black_bowl",
    "t90_pink_can_left_of_green_plate", "t90_yellow_cube_right_of_purple_cube",
    "t90_white_cube_left_of_orange_bowl", "t90_open_black_cabinet", "t90_close_white_cabinet",
    "t90_open_pink_cabinet", "t90_close_purple_cabinet", "t90_stack_yellow_cube_on_green_cube",
    "t90_stack_purple_cube_on_white_cube", "t90_stack_black_cube_on_orange_cube",
    "t90_stack_green_cube_on_purple_cube",
    "t90_purple_cube_on_pink_plate_and_orange_cube_in_black_bowl",
    "t90_open_black_drawer_and_pink_can_in_white_basket",
    "t90_stack_orange_on_purple_and_pink_can_left_of_them", "t90_both_cubes_on_green_plate",
)

# hf-libero's task map, relative to its top-level ``libero`` package: a plain dict literal
# (suite -> task names) that is parsed here rather than imported, since importing hf-libero's
# benchmark package imports torch and may prompt on stdin.
LIBERO_TASK_MAP_FILE = Path("libero", "benchmark", "libero_suite_task_map.py")
LIBERO_TASK_MAP_NAME = "libero_task_map"


def env_id(namespace: str, task_id: str) -> str:
    """The gymnasium id of a task, e.g. ``tabletop/goal_open_drawer-v0``."""
    return f"{namespace}/{task_id}-v0"


def register_tasks(namespace: str, task_ids: Iterable[str], entry_point: str) -> None:
    """Register ``namespace/<task>-v0`` for every task (idempotent); ``entry_point`` is a
    ``"module:function"`` string taking ``task_id`` and the ``gymnasium.make`` keywords."""
    # From the registration module: gymnasium 0.29 calls this while its package is still
    # being imported. The specs go straight into gymnasium's registry (a dict of EnvSpec)
    # because ``gymnasium.register`` scans the whole registry for every id it adds, which
    # made registering the 177 ids cost more than importing gymnasium's registration module;
    # its one check that can concern these ids (a versioned id beside an unversioned one of
    # the same name) is made here, once for all of them.
    from gymnasium import error
    from gymnasium.envs.registration import EnvSpec, registry

    unversioned = {(spec.namespace, spec.name) for spec in registry.values()
                   if spec.version is None}
    for task_id in task_ids:
        spec = EnvSpec(
            id=env_id(namespace, task_id),
            entry_point=entry_point,
            kwargs={"task_id": task_id},
            max_episode_steps=None,  # every env truncates at its suite's budget itself
            disable_env_checker=True,
        )
        if spec.id in registry:
            continue
        if (spec.namespace, spec.name) in unversioned:
            raise error.RegistrationError(
                f"cannot register {spec.id}: the unversioned {namespace}/{task_id} exists "
                "(gymnasium does not allow both)")
        registry[spec.id] = spec


def register_tabletop() -> None:
    register_tasks(TABLETOP_NAMESPACE, TABLETOP_TASK_IDS,
                   "diffrl_eval.envs.tabletop.backend:make_task_env")


def libero_task_ids() -> list[str]:
    """LIBERO's 130 task names from hf-libero's task map, without importing hf-libero
    (empty when hf-libero is not installed or its map cannot be read)."""
    import ast

    try:
        spec = importlib.util.find_spec("libero")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    path = Path(next(iter(spec.submodule_search_locations))) / LIBERO_TASK_MAP_FILE
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        task_map = next(ast.literal_eval(node.value) for node in tree.body
                        if isinstance(node, ast.Assign)
                        and any(getattr(t, "id", None) == LIBERO_TASK_MAP_NAME
                                for t in node.targets))
    except (OSError, SyntaxError, ValueError, StopIteration):
        return []
    return [name for names in task_map.values() for name in names]


def register_libero(task_ids: Iterable[str] | None = None) -> None:
    """Register the LIBERO tasks (by default those of the installed hf-libero, if any)."""
    register_tasks(LIBERO_NAMESPACE, libero_task_ids() if task_ids is None else task_ids,
                   "diffrl_eval.envs.libero.backend:make_task_env")


def register_envs() -> None:
    """Register every environment of the project with gymnasium (idempotent)."""
    register_tabletop()
    register_libero()

