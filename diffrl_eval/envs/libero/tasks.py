"""LIBERO's five suites and 130 tasks, read from hf-libero's own task map.

A task is named by LIBERO's own name for it (the stem of its BDDL file, e.g.
``KITCHEN_SCENE3_turn_on_the_stove_and_put_the_moka_pot_on_it``); the names are unique
across the suites, so they are the project's task ids as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from diffrl_eval.envs.libero.runtime import import_benchmark
from diffrl_eval.errors import UserError, unknown_choice

# Suite -> episode step budget, as LIBERO's evaluations use them (the longest training
# demonstration of the suite plus a margin). Display order of the suites.
SUITE_MAX_STEPS = {
    "libero_spatial": 220,
    "libero_object": 280,
    "libero_goal": 300,
    "libero_10": 520,
    "libero_90": 400,
}
SUITES = tuple(SUITE_MAX_STEPS)


@dataclass(frozen=True)
class LiberoTask:
    """One LIBERO task: where its BDDL problem and its fixed initial states live."""

    task_id: str
    suite: str
    index: int  # position in its suite, LIBERO's task order
    instruction: str
    bddl_file: Path
    init_states_file: Path

    @property
    def max_steps(self) -> int:
        return SUITE_MAX_STEPS[self.suite]


@cache
def all_tasks() -> dict[str, LiberoTask]:
    """Every task of the five suites by id, suites in display order."""
    benchmark = import_benchmark()
    root = Path(benchmark.get_libero_path("benchmark_root"))
    tasks: dict[str, LiberoTask] = {}
    for suite in SUITES:
        for index, name in enumerate(benchmark.libero_task_map[suite]):
            entry = benchmark.task_maps[suite][name]
            tasks[name] = LiberoTask(
                task_id=name,
                suite=suite,
                index=index,
                instruction=entry.language,
                bddl_file=root / "bddl_files" / entry.problem_folder / entry.bddl_file,
                init_states_file=root / "init_files" / entry.problem_folder
                / entry.init_states_file,
            )
    return tasks


def suite_tasks(suite: str) -> list[LiberoTask]:
    if suite not in SUITE_MAX_STEPS:
        raise unknown_choice("libero suite", suite, SUITES)
    return [task for task in all_tasks().values() if task.suite == suite]


def get_task(task_id: str) -> LiberoTask:
    tasks = all_tasks()
    if task_id not in tasks:
        raise unknown_choice("LIBERO task", task_id, tasks)
    return tasks[task_id]


@cache
def load_init_states(task_id: str) -> np.ndarray:
    """The task's official evaluation initial states: (50, D) flattened MuJoCo states
    (time, qpos, qvel), D depending on the scene."""
    import torch  # LIBERO stores them with torch.save

    path = get_task(task_id).init_states_file
    if not path.is_file():
        raise UserError(f"initial states of LIBERO task {task_id!r} not found at {path}; "
                        "reinstall hf-libero")
    # pickled numpy arrays, which torch's weights-only loader refuses; the files come with
    # the installed hf-libero, whose own loader reads them the same way
    states = torch.load(path, weights_only=False)
    states = np.asarray(states, dtype=np.float64)
    states.setflags(write=False)  # cached and shared: nobody may change them in place
    return states
