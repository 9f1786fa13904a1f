"""What a dataset's manifest must say, and how it must agree with its frames.

Loading a dataset checks the manifest's fields and their types (provenance strings, the
task list, the control rate, the per-episode seeds, initial-state indices and flags) and
then that the frames say the same thing: episodes numbered 0..N-1 with steps 0..T-1, one
task per episode and every task listed, the instruction the manifest gives its task, and
each episode ending with ``done`` on its last step and nowhere else. A content hash that
was recomputed after editing passes the hash check; it does not pass these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.errors import DatasetError
from diffrl_eval.validation import non_finite_path


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _per_episode(manifest: Mapping[str, Any], key: str, n_episodes: int, where: str,
                 fits, what: str) -> None:
    values = manifest.get(key)
    if values is None:
        return
    if not isinstance(values, list):
        raise DatasetError(f"{where}: {key} must be a list (one entry per episode)")
    if len(values) != n_episodes:
        raise DatasetError(f"{where}: {key} has {len(values)} entries for {n_episodes} "
                           "episode(s)")
    for index, value in enumerate(values):
        if not fits(value):
            raise DatasetError(f"{where}: {key}[{index}] must be {what}, got {value!r}")


def check_manifest(manifest: Mapping[str, Any], where: str | Path) -> None:
    """The manifest's fields and types; a one-line :class:`DatasetError` names the field."""
    where = str(where)
    for key in ("source", "backend"):
        if not isinstance(manifest[key], str) or not manifest[key].strip():
            raise DatasetError(f"{where}: {key} must be a non-empty string, got "
                               f"{manifest[key]!r}")
    for key in ("suite", "source_label"):
        if manifest.get(key) is not None and not isinstance(manifest[key], str):
            raise DatasetError(f"{where}: {key} must be a string or null, got {manifest[key]!r}")
    if not isinstance(manifest["content_hash"], str):
        raise DatasetError(f"{where}: content_hash must be a string")
    found = non_finite_path(dict(manifest))
    if found is not None:
        raise DatasetError(f"{where}: {found} is not a finite number")
    tasks = manifest["tasks"]
    if not isinstance(tasks, list) or not tasks:
        raise DatasetError(f"{where}: tasks must be a non-empty list of "
                           "{task_id, instruction, n_episodes} objects")
    seen = set()
    for index, task in enumerate(tasks):
        if not isinstance(task, Mapping):
            raise DatasetError(f"{where}: tasks[{index}] must be an object, got {task!r}")
        for key in ("task_id", "instruction"):
            if not isinstance(task.get(key), str) or not task[key]:
                raise DatasetError(f"{where}: tasks[{index}].{key} must be a non-empty string")
        if "n_episodes" in task and not (_is_int(task["n_episodes"]) and task["n_episodes"] >= 0):
            raise DatasetError(f"{where}: tasks[{index}].n_episodes must be a count, got "
                               f"{task['n_episodes']!r}")
        if task["task_id"] in seen:
            raise DatasetError(f"{where}: task {task['task_id']!r} is listed twice")
        seen.add(task["task_id"])
    hz = manifest.get("control_hz")
    if hz is not None and not (isinstance(hz, (int, float)) and not isinstance(hz, bool)
                               and math.isfinite(hz) and hz > 0):
        raise DatasetError(f"{where}: control_hz must be a positive number of steps per "
                           f"second, got {hz!r}")
    for key in ("n_episodes", "n_frames", "seed"):
        value = manifest.get(key)
        if value is not None and not (_is_int(value) and (key == "seed" or value >= 1)):
            raise DatasetError(f"{where}: {key} must be a positive integer, got {value!r}")
    if manifest.get("generator_config") is not None and not isinstance(
            manifest["generator_config"], Mapping):
        raise DatasetError(f"{where}: generator_config must be an object")
    images = manifest.get("images")
    if images is not None:
        if not isinstance(images, Mapping) or not isinstance(images.get("cameras"), list) \
                or not all(isinstance(c, str) for c in images["cameras"]):
            raise DatasetError(f"{where}: images must be null or an object with a list of "
                               "camera names")
        for key in ("height", "width"):
            if not (_is_int(images.get(key)) and images[key] > 0):
                raise DatasetError(f"{where}: images.{key} must be a positive integer")


def check_agreement(manifest: Mapping[str, Any], frames: pl.DataFrame, where: str | Path) -> None:
    """The frames (canonical table, see the reader) agree with the manifest."""
    where = str(where)
    episodes = (
        frames.group_by(C.COL_EPISODE)
        .agg(
            pl.len().alias("length"),
            pl.col(C.COL_STEP).min().alias("first_step"),
            pl.col(C.COL_STEP).max().alias("last_step"),
            pl.col(C.COL_STEP).n_unique().alias("steps"),
            pl.col(C.COL_TASK).n_unique().alias("n_tasks"),
            pl.col(C.COL_TASK).first().alias("task"),
            pl.col(C.COL_INSTRUCTION).n_unique().alias("n_instructions"),
            pl.col(C.COL_INSTRUCTION).first().alias("instruction"),
            pl.col(C.COL_DONE).sum().alias("n_done"),
            pl.col(C.COL_DONE).filter(pl.col(C.COL_STEP) == pl.col(C.COL_STEP).max())
            .first().alias("done_last"),
        )
        .sort(C.COL_EPISODE)
    )
    indices = episodes[C.COL_EPISODE]
    n_episodes = episodes.height
    if indices.min() < 0:
        raise DatasetError(f"{where}: episode index {indices.min()} is negative (episodes "
                           "are numbered 0..N-1)")
    if indices.max() != n_episodes - 1:
        missing = sorted(set(range(int(indices.max()) + 1)) - set(indices.to_list()))[:3]
        raise DatasetError(f"{where}: episodes must be numbered 0..{n_episodes - 1}; "
                           f"index {missing[0] if missing else indices.max()} is missing")
    listed = manifest.get("n_episodes")
    if listed is not None and listed != n_episodes:
        raise DatasetError(f"{where}: the manifest lists {listed} episode(s), the frames "
                           f"hold {n_episodes}")
    if manifest.get("n_frames") is not None and manifest["n_frames"] != frames.height:
        raise DatasetError(f"{where}: the manifest lists {manifest['n_frames']} frame(s), "
                           f"the frames hold {frames.height}")
    for row in episodes.iter_rows(named=True):
        episode = row[C.COL_EPISODE]
        if row["first_step"] != 0 or row["last_step"] != row["length"] - 1 \
                or row["steps"] != row["length"]:
            raise DatasetError(f"{where}: episode {episode} must have steps 0..{row['length'] - 1} "
                               "each once")
        if row["n_tasks"] != 1 or row["n_instructions"] != 1:
            raise DatasetError(f"{where}: episode {episode} changes task or instruction "
                               "part-way")
        if not row["done_last"] or row["n_done"] != 1:
            raise DatasetError(f"{where}: episode {episode} must end with done=True on its last "
                               f"step and nowhere else ({row['n_done']} done flag(s))")
    instructions = {t["task_id"]: t["instruction"] for t in manifest["tasks"]}
    for task, instruction in episodes.select("task", "instruction").unique().iter_rows():
        if task not in instructions:
            raise DatasetError(f"{where}: task {task!r} is in the frames but not in the "
                               f"manifest's tasks ({', '.join(sorted(instructions))})")
        if instructions[task] != instruction:
            raise DatasetError(f"{where}: task {task!r} has the instruction {instruction!r} "
                               f"in the frames, {instructions[task]!r} in the manifest")
    counts = dict(episodes.group_by("task").len().iter_rows())
    for task in manifest["tasks"]:
        if "n_episodes" in task and task["n_episodes"] != counts.get(task["task_id"], 0):
            raise DatasetError(f"{where}: task {task['task_id']!r} lists {task['n_episodes']} "
                               f"episode(s), the frames hold {counts.get(task['task_id'], 0)}")
    n = n_episodes
    _per_episode(manifest, "episode_seeds", n, where, lambda v: v is None or _is_int(v),
                 "an integer or null")
    _per_episode(manifest, "episode_init_states", n, where,
                 lambda v: v is None or (_is_int(v) and v >= 0), "a non-negative integer or null")
    _per_episode(manifest, "episode_obs_after_action", n, where,
                 lambda v: isinstance(v, bool), "true or false")
