"""Fixed evaluation initial states: sampled once from a seed, stored with the package.

Like LIBERO's ``.pruned_init`` files, every task has :data:`N_INIT_STATES` initial states
that evaluations reset to by index. They are drawn from the task's placement
distribution by :func:`sample_init_states` with a seed derived from the task id, and
stored in ``init_states/<suite>.npz`` (one array per task). The files are the reference:
``python -m diffrl_eval.envs.tabletop.init_states`` rewrites them, and a test checks that
regenerating gives the stored arrays bit for bit.

Layout of one initial state, (3 * n_objects + 1,) float64: for each object of the task's
scene in order, its table position x, y and yaw; then the drawer opening of the scene's
cabinet (0 when there is none). The gripper always starts at :data:`HOME`.
"""

from __future__ import annotations

import zlib
from functools import cache
from pathlib import Path

import numpy as np

from diffrl_eval.envs.tabletop.objects import Kind, ObjectSpec
from diffrl_eval.envs.tabletop.predicates import subgoals
from diffrl_eval.envs.tabletop.tasks import SUITES, TASKS, TaskDef, suite_tasks
from diffrl_eval.errors import UserError

N_INIT_STATES = 50
INIT_STATE_SEED = 20240611
HOME = np.array([-0.12, 0.0, 0.22])  # gripper start (grasp point, metres), pointing down
STORE = Path(__file__).with_name("init_states")
_MAX_TRIES = 2000
# The space an open drawer sweeps, as an extra keep-out disc in front of a cabinet.
_DRAWER_SWEEP_OFFSET, _DRAWER_SWEEP_RADIUS = -0.2, 0.1


def task_seed(task_id: str) -> int:
    """The seed the task's initial states are drawn with (stable across Python runs)."""
    return INIT_STATE_SEED ^ zlib.crc32(task_id.encode())


def _keep_out(spec: ObjectSpec, x: float, y: float) -> list[tuple[float, float, float]]:
    discs = [(x, y, spec.geometry.clearance)]
    if spec.kind is Kind.CABINET:
        discs.append((x + _DRAWER_SWEEP_OFFSET, y, _DRAWER_SWEEP_RADIUS))
    return discs


class _PlacementView:
    """What goal predicates read, answered from a placement instead of the simulator:
    everything rests on the table at its sampled pose."""

    def __init__(self, task: TaskDef, poses: dict[str, tuple[float, float, float]],
                 opening: float) -> None:
        self.objects = {o.name: o for o in task.objects}
        self._poses = poses
        self._opening = opening

    def xyz(self, name: str) -> list[float]:
        x, y, _ = self._poses[name]
        spec = self.objects[name]
        return [x, y, spec.geometry.half_height if spec.movable else 0.0]

    def yaw(self, name: str) -> float:
        return self._poses[name][2]

    def drawer_opening(self, name: str) -> float:
        return self._opening


def sample_placement(task: TaskDef, rng: np.random.Generator) -> np.ndarray:
    """One initial state of ``task`` (layout in the module docstring): no overlaps, and
    none of the goal's stages already achieved."""
    for _ in range(_MAX_TRIES):
        placed: dict[str, tuple[float, float]] = {}
        discs: list[tuple[float, float, float]] = []
        poses: dict[str, tuple[float, float, float]] = {}
        opening = 0.0
        ok = True
        # objects placed relative to another are drawn after it
        order = sorted(task.objects, key=lambda o: task.region(o).relative_to is not None)
        for spec in order:
            region = task.region(spec)
            x, y = rng.uniform(*region.x), rng.uniform(*region.y)
            yaw = rng.uniform(*region.yaw)
            if region.relative_to is not None:
                bx, by = placed[region.relative_to]
                x, y = x + bx, y + by
            if spec.kind is Kind.CABINET:
                opening = rng.uniform(*region.opening)
            mine = _keep_out(spec, x, y)
            if any(np.hypot(ax - bx, ay - by) < ar + br
                   for ax, ay, ar in mine for bx, by, br in discs):
                ok = False
                break
            placed[spec.name] = (x, y)
            discs.extend(mine)
            poses[spec.name] = (x, y, yaw)
        view = _PlacementView(task, poses, opening) if ok else None
        if ok and not any(stage.holds(view) for stage in subgoals(task.goal)):
            values = [v for spec in task.objects for v in poses[spec.name]]
            return np.array([*values, opening], dtype=np.float64)
    raise RuntimeError(f"task {task.task_id}: no collision-free placement in {_MAX_TRIES} tries")


def sample_init_states(task: TaskDef, n: int = N_INIT_STATES) -> np.ndarray:
    """(n, 3 * n_objects + 1) initial states drawn with :func:`task_seed`."""
    rng = np.random.default_rng(task_seed(task.task_id))
    return np.stack([sample_placement(task, rng) for _ in range(n)])


def store_path(suite: str) -> Path:
    return STORE / f"{suite}.npz"


def write_init_states(suite: str) -> Path:
    """Regenerate and store the initial states of every task of ``suite``."""
    STORE.mkdir(exist_ok=True)
    path = store_path(suite)
    np.savez_compressed(path, **{t.task_id: sample_init_states(t) for t in suite_tasks(suite)})
    return path


@cache
def _load_suite(suite: str) -> dict[str, np.ndarray]:
    path = store_path(suite)
    if not path.exists():
        raise UserError(f"initial states of {suite} are missing ({path}); reinstall the package")
    with np.load(path) as stored:
        return {k: stored[k] for k in stored.files}


def load_init_states(task_id: str) -> np.ndarray:
    """The stored initial states of ``task_id``, (N_INIT_STATES, 3 * n_objects + 1)."""
    task = TASKS[task_id]
    stored = _load_suite(task.suite)
    if task_id not in stored:
        raise UserError(f"no stored initial states for task {task_id!r}")
    states = stored[task_id].copy()
    states.setflags(write=False)
    return states


if __name__ == "__main__":
    for name in SUITES:
        print(write_init_states(name))
