"""Write a dataset of another format as one of this tool's, for the commands that train
on or replay datasets (``compare --demos-from``, ``vla train --data``, ``export``).

Those commands need this tool's full frame table: the 8-D proprio state (eef position,
axis-angle, gripper qpos: LIBERO's), the 3-D end-effector position and 7-D delta actions.
A layout that holds them (LIBERO's, this tool's LeRobot exports) converts; any other is a
one-line error saying what is missing. Instructions are matched to the backend's task ids
when the backend has a task with that instruction, so that the episodes meet its tasks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffrl_eval import constants as C
from diffrl_eval.atomic import ScratchDir
from diffrl_eval.dataset.episode import Episode
from diffrl_eval.dataset.sources import OpenedDataset, open_source
from diffrl_eval.dataset.sources.base import DELTA
from diffrl_eval.dataset.sources.hub import parse_repo_id
from diffrl_eval.dataset.sources.native import NativeSource
from diffrl_eval.dataset.sources.semantics import vector_matrix
from diffrl_eval.dataset.writer import write_dataset
from diffrl_eval.errors import DatasetError

HUMAN = "human"


def convertible_problem(opened: OpenedDataset) -> str | None:
    """Why ``opened`` cannot become one of this tool's datasets, or None."""
    profile = opened.source.profile
    semantics = opened.semantics
    if profile is None or not profile.state_keys:
        return ("no known layout with an 8-D proprio state (eef position, axis-angle, "
                "gripper qpos) was recognized")
    widths = opened.source.features
    if sum(widths[k] for k in profile.state_keys) != C.STATE_DIM:
        return f"the state {'+'.join(profile.state_keys)} is not {C.STATE_DIM}-D"
    if widths["action"] != C.ACTION_DIM or semantics.action_kind != DELTA \
            or semantics.gripper_index is None or semantics.eef is None:
        return f"the actions are not {C.ACTION_DIM}-D delta actions with a gripper command"
    return None


def _instruction_task_ids(backend: str | None) -> dict[str, str]:
    if backend is None:
        return {}
    from diffrl_eval.envs.base import get_backend

    try:
        tasks = get_backend(backend).tasks()
    except Exception:  # noqa: BLE001 - a backend without its extra installed lists nothing
        return {}
    by_instruction: dict[str, list[str]] = {}
    for task in tasks:
        by_instruction.setdefault(task.instruction.strip().lower(), []).append(task.task_id)
    return {text: ids[0] for text, ids in by_instruction.items() if len(ids) == 1}


def write_native(opened: OpenedDataset, out: Path, *, backend: str, suite: str | None = None,
                 source: str = HUMAN) -> Path:
    """``opened`` written as this tool's dataset at ``out`` (see the module docstring)."""
    problem = convertible_problem(opened)
    if problem is not None:
        raise DatasetError(f"{opened.source.location} ({opened.source.format}) cannot be used "
                           f"here: {problem}; metrics and check read it as it is")
    profile = opened.source.profile
    frames = opened.frames
    keys = list(profile.state_keys)
    raw = opened.source.frames.select(C.COL_EPISODE, C.COL_STEP, *keys).sort(
        C.COL_EPISODE, C.COL_STEP).collect()  # the measurement frames' order
    state = np.concatenate([vector_matrix(raw[k], opened.source.features[k]) for k in keys], axis=1)
    task_ids = _instruction_task_ids(backend)
    starts = np.flatnonzero(np.r_[True, np.diff(frames[C.COL_EPISODE].to_numpy()) != 0])
    ends = np.r_[starts[1:], frames.height]
    eef = np.stack(frames[C.COL_EEF_POS].to_numpy())
    action = np.stack(frames[C.COL_ACTION].to_numpy())
    success = frames[C.COL_SUCCESS].to_numpy()
    tasks = frames[C.COL_TASK].to_list()
    instructions = frames[C.COL_INSTRUCTION].to_list()

    def episodes():
        for begin, end in zip(starts, ends):
            instruction = instructions[begin]
            yield Episode(
                task_id=task_ids.get(instruction.strip().lower(), tasks[begin]),
                instruction=instruction,
                states=state[begin:end], eef_pos=eef[begin:end], actions=action[begin:end],
                rewards=success[begin:end].astype(np.float32), successes=success[begin:end],
            )

    return write_dataset(
        Path(out), episodes(), source=source,
        source_label=f"{source} ({opened.source.format}: {opened.source.location})",
        backend=backend, suite=suite, control_hz=int(round(opened.semantics.control_hz)),
        extra={"converted_from": {"location": opened.source.location,
                                  "format": opened.source.format,
                                  "semantics": opened.disclosure()}},
    )


def native_path(location: str | Path, workdir: Path | ScratchDir, *, backend: str | None = None,
                source: str = HUMAN) -> tuple[Path, bool]:
    """This tool's dataset for ``location``: itself when it is one, else a conversion
    written under ``workdir`` (a :class:`ScratchDir` is made only then). Returns (path,
    converted). A location that is neither a path nor a Hub id comes back as it is, for the
    caller's loader to name the problem."""
    exists = Path(location).exists()
    if NativeSource.recognizes(str(location)) or (not exists and parse_repo_id(str(location)) is None):
        return Path(location), False
    opened = open_source(location)
    backend = backend or opened.source.info.get("backend") or "libero"
    name = "converted-" + "".join(c if c.isalnum() else "-" for c in str(location)).strip("-")[-60:]
    out = (workdir.path if isinstance(workdir, ScratchDir) else Path(workdir)) / name
    if NativeSource.recognizes(str(out)):
        return out, True  # converted before (a resumed run)
    return write_native(opened, out, backend=backend, source=source), True


__all__ = ["convertible_problem", "native_path", "write_native"]
