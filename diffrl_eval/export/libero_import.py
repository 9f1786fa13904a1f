"""Read LIBERO demonstration files (robomimic HDF5) into a dataset of ours.

Each file holds the demonstrations of one task (layout: :mod:`diffrl_eval.export.
libero_layout`). A demonstration becomes an episode: state = ee_pos (3) + ee_ori as
axis-angle (3) + gripper_states (2), eef_pos = ee_pos, actions as they are, the
instruction from ``problem_info``. Files without ``ee_pos``/``ee_ori`` are read through
``ee_states`` or, failing that, ``robot_states`` (orientation converted from its
quaternion).

Each demonstration's first simulator state (``states[0]``, MuJoCo's flattened state) is
kept as the episode's initial simulator state, from which it can be replayed (the RL
experts recover object poses so), and the episode is marked as observed after each
action, as LIBERO's dataset script records (see :mod:`~diffrl_eval.export.
libero_layout`). Files written by our exporter say in their provenance what their
``states`` hold and when their observations were made.

Every file is checked before anything is written, so bad input fails in one line and
leaves nothing behind. No-op steps (OpenVLA's rule, :func:`diffrl_eval.metrics.no_op_mask`)
are counted and, on request, dropped as OpenVLA drops them before training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.dataset import DatasetWriter, Episode, check_output_path
from diffrl_eval.envs.base import get_backend
from diffrl_eval.errors import DatasetError, UserError
from diffrl_eval.export import libero_layout as L
from diffrl_eval.metrics.no_op import no_op_mask
from diffrl_eval.progress import progress_bar

IMPORTED_SOURCE = "human"
LIBERO_SOURCE_LABEL = "human teleoperation (LIBERO)"
LIBERO_BACKEND = "libero"


@dataclass
class DemoFile:
    """One checked task file: what it is about and which demos it holds, in order."""

    path: Path
    task_id: str
    instruction: str
    suite: str | None
    demos: list[str]
    control_hz: int
    provenance: dict[str, Any] = field(default_factory=dict)
    image_convention: str | None = None
    # written by our exporter (its provenance attribute on ``data``): each demo's own
    # provenance says what its ``states`` hold; LIBERO's files hold simulator states
    exported_here: bool = False


@dataclass
class ImportSummary:
    path: Path
    n_files: int
    n_episodes: int
    n_frames: int
    n_no_ops: int
    no_ops_dropped: bool
    n_empty_episodes: int = 0


def _json_attr(attrs, key: str, where: str) -> dict[str, Any]:
    if key not in attrs:
        raise DatasetError(f"{where}: 'data' has no {key!r} attribute")
    raw = attrs[key]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        value = json.loads(raw)
    except (TypeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{where}: attribute {key!r} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise DatasetError(f"{where}: attribute {key!r} must hold a JSON object")
    return value


def _text_attr(attrs, key: str) -> str | None:
    if key not in attrs:
        return None
    value = attrs[key]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def demo_files(paths: list[Path]) -> list[Path]:
    """The .hdf5 files named, folders expanded to the files they hold (sorted)."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise UserError(f"not found: {path}")
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".hdf5", ".h5") and p.is_file())
            if not found:
                raise UserError(f"{path}: no .hdf5 files in this folder")
            files.extend(found)
        else:
            files.append(path)
    if len(set(files)) != len(files):
        raise UserError("the same file is named twice")
    return files


def _proprio_shape_problem(demo, name: str, n: int) -> str | None:
    obs = demo[L.OBS]
    has_split = L.EE_POS in obs and L.EE_ORI in obs
    needs = [L.GRIPPER_STATES]
    if has_split:
        needs += [L.EE_POS, L.EE_ORI]
    elif L.EE_STATES in obs:
        needs += [L.EE_STATES]
    elif L.ROBOT_STATES in demo:
        pass
    else:
        return f"{name}/obs lacks {L.EE_POS}/{L.EE_ORI} (and {L.EE_STATES}, {L.ROBOT_STATES})"
    widths = {L.GRIPPER_STATES: L.GRIPPER_QPOS_DIM, L.EE_POS: 3, L.EE_ORI: 3, L.EE_STATES: 6}
    for key in needs:
        if key not in obs:
            return f"{name}/obs lacks {key}"
        shape = obs[key].shape
        if shape != (n, widths[key]):
            return f"{name}/obs/{key} has shape {shape}, expected ({n}, {widths[key]})"
    if not has_split and L.EE_STATES not in obs:
        shape = demo[L.ROBOT_STATES].shape
        if shape != (n, L.ROBOT_STATE_DIM):
            return f"{name}/{L.ROBOT_STATES} has shape {shape}, expected ({n}, {L.ROBOT_STATE_DIM})"
    for camera in L.CAMERA_DATASETS.values():
        if camera in obs:
            shape = obs[camera].shape
            if len(shape) != 4 or shape[0] != n or shape[-1] != 3:
                return f"{name}/obs/{camera} has shape {shape}, expected ({n}, H, W, 3)"
    return None


def _demo_provenance(demo, where: str) -> dict[str, Any]:
    return _json_attr(demo.attrs, L.PROVENANCE, where) if L.PROVENANCE in demo.attrs else {}


def _holds_sim_states(demo, exported_here: bool, where: str) -> bool:
    """Whether the demo's ``states`` are simulator states (LIBERO's files always; ours
    when their provenance says so)."""
    if exported_here:
        return _demo_provenance(demo, where).get("states") == L.STATES_INIT_SIM
    return L.STATES in demo


def _sim_states_problem(demo, name: str, n: int) -> str | None:
    if L.STATES not in demo:
        return f"{name} lacks {L.STATES} (its provenance says it holds simulator states)"
    shape = demo[L.STATES].shape
    if len(shape) != 2 or shape[0] != n or shape[1] == 0:
        return (f"{name}/{L.STATES} has shape {shape}, expected ({n}, D): the flattened "
                "simulator state before each action")
    if not np.isfinite(demo[L.STATES][0]).all():
        return f"{name}/{L.STATES} has NaN or inf in its first state"
    return None


def inspect_demo_file(path: Path, *, suite: str | None = None) -> DemoFile:
    """Check one file's layout (groups, shapes, attributes) without reading its arrays."""
    import h5py

    where = str(path)
    if not h5py.is_hdf5(path):
        raise DatasetError(f"{where}: not an HDF5 file")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(f"{where}: unreadable HDF5 file ({exc})") from exc
    with handle:
        if L.DATA not in handle or not isinstance(handle[L.DATA], h5py.Group):
            raise DatasetError(f"{where}: no 'data' group (not a LIBERO/robomimic demo file)")
        data = handle[L.DATA]
        problem = _json_attr(data.attrs, L.PROBLEM_INFO, where)
        instruction = problem.get(L.LANGUAGE_INSTRUCTION)
        if not isinstance(instruction, str) or not instruction.strip():
            raise DatasetError(f"{where}: problem_info has no language_instruction")
        provenance = {}
        if L.PROVENANCE in data.attrs:
            provenance = _json_attr(data.attrs, L.PROVENANCE, where)
        bddl = _text_attr(data.attrs, L.BDDL_FILE_NAME)
        task_id = provenance.get("task_id")
        if not task_id and bddl:
            task_id = Path(bddl).name.removesuffix(L.BDDL_SUFFIX)
        if not task_id:
            task_id = path.name.removesuffix(L.DEMO_FILE_SUFFIX).removesuffix(path.suffix)
        file_suite = provenance.get("suite")
        if not file_suite and bddl and len(Path(bddl).parts) > 1:
            file_suite = Path(bddl).parent.name
        if suite is not None and file_suite is not None and file_suite != suite:
            raise UserError(f"{where}: a demo file of suite {file_suite!r}, not --suite {suite}")
        control_hz = C.DEFAULT_CONTROL_HZ
        if L.ENV_ARGS in data.attrs:
            env_args = _json_attr(data.attrs, L.ENV_ARGS, where)
            control_hz = int((env_args.get("env_kwargs") or {}).get("control_freq") or control_hz)
        demos = sorted(
            (name for name in data if L.demo_number(name) is not None), key=L.demo_number
        )
        if not demos:
            raise DatasetError(f"{where}: 'data' holds no demo_N groups")
        for name in demos:
            demo = data[name]
            if L.ACTIONS not in demo:
                raise DatasetError(f"{where}: data/{name} lacks {L.ACTIONS}")
            shape = demo[L.ACTIONS].shape
            if len(shape) != 2 or shape[1] != C.ACTION_DIM or shape[0] == 0:
                raise DatasetError(
                    f"{where}: data/{name}/{L.ACTIONS} has shape {shape}, expected (T, {C.ACTION_DIM})"
                )
            if L.OBS not in demo:
                raise DatasetError(f"{where}: data/{name} lacks the obs group")
            problem_text = _proprio_shape_problem(demo, f"data/{name}", shape[0])
            if problem_text is None and _holds_sim_states(demo, L.PROVENANCE in data.attrs,
                                                          f"{where}: data/{name}"):
                problem_text = _sim_states_problem(demo, f"data/{name}", shape[0])
            if problem_text:
                raise DatasetError(f"{where}: {problem_text}")
        return DemoFile(
            path=path,
            task_id=str(task_id),
            instruction=instruction.strip(),
            suite=file_suite,
            demos=demos,
            control_hz=control_hz,
            provenance=provenance,
            image_convention=_text_attr(data.attrs, L.IMAGE_CONVENTION),
            exported_here=L.PROVENANCE in data.attrs,
        )


def read_demo(handle, demo_file: DemoFile, name: str, *, images: bool) -> Episode:
    """One demonstration as an :class:`Episode` (all steps, nothing dropped)."""
    demo = handle[L.DATA][name]
    obs = demo[L.OBS]
    actions = demo[L.ACTIONS][()]
    n = actions.shape[0]
    if L.EE_POS in obs and L.EE_ORI in obs:
        ee_pos, ee_ori = obs[L.EE_POS][()], obs[L.EE_ORI][()]
    elif L.EE_STATES in obs:
        ee_states = obs[L.EE_STATES][()]
        ee_pos, ee_ori = ee_states[:, :3], ee_states[:, 3:6]
    else:
        robot_states = demo[L.ROBOT_STATES][()]
        ee_pos = robot_states[:, 2:5]
        ee_ori = L.quat_to_axis_angle(robot_states[:, 5:9])
    gripper = obs[L.GRIPPER_STATES][()]
    rewards = demo[L.REWARDS][()].astype(np.float32) if L.REWARDS in demo else np.zeros(n)
    if L.SUCCESSES in demo:
        successes = demo[L.SUCCESSES][()].astype(bool)
    else:  # LIBERO's demonstrations succeed, and their reward says when
        successes = rewards > 0
    camera_frames = {}
    if images:
        for camera, dataset_name in L.CAMERA_DATASETS.items():
            if dataset_name in obs:
                frames = obs[dataset_name][()]
                if demo_file.image_convention == L.OPENGL:
                    frames = frames[:, ::-1]
                camera_frames[camera] = np.ascontiguousarray(frames, dtype=np.uint8)
    where = f"{demo_file.path}: data/{name}"
    for key, array in (("rewards", rewards), ("successes", successes)):
        if array.shape != (n,):
            raise DatasetError(f"{where}/{key} has shape {array.shape}, expected ({n},)")
    provenance = _demo_provenance(demo, where)
    init_sim_state = None
    if _holds_sim_states(demo, demo_file.exported_here, where):
        init_sim_state = demo[L.STATES][0].astype(np.float64)
    # LIBERO's dataset script observed after each action; our exporter says what it wrote
    obs_after_action = (bool(provenance.get("obs_after_action")) if demo_file.exported_here
                        else True)
    return Episode(
        task_id=demo_file.task_id,
        instruction=demo_file.instruction,
        states=np.concatenate([ee_pos, ee_ori, gripper], axis=1),
        eef_pos=ee_pos,
        actions=actions,
        rewards=rewards,
        successes=successes,
        seed=provenance.get("seed"),
        images=camera_frames,
        init_state_index=provenance.get("init_state_index"),
        init_sim_state=init_sim_state,
        obs_after_action=obs_after_action,
    )


def no_op_steps(actions: np.ndarray) -> np.ndarray:
    """(T,) bool: which steps of one demonstration's actions (T, 7) are no-ops (OpenVLA's rule)."""
    n = actions.shape[0]
    frames = pl.DataFrame({
        C.COL_EPISODE: np.zeros(n, dtype=np.int64),
        C.COL_STEP: np.arange(n, dtype=np.int64),
        C.COL_TASK: [""] * n,
        C.COL_INSTRUCTION: [""] * n,
        C.COL_EEF_POS: np.zeros((n, C.EEF_POS_DIM), dtype=np.float32),
        C.COL_ACTION: np.asarray(actions, dtype=np.float32),
        C.COL_SUCCESS: np.zeros(n, dtype=bool),
    })
    return no_op_mask(frames)


def drop_steps(episode: Episode, drop: np.ndarray) -> Episode | None:
    """The episode without the steps flagged in ``drop`` (None when none is left).

    Its recorded start stays: whether the kept actions still replay the recording from
    there is for the replay check to say (it refuses one that drifts away).
    """
    keep = ~drop
    if not keep.any():
        return None
    return Episode(
        task_id=episode.task_id,
        instruction=episode.instruction,
        states=episode.states[keep],
        eef_pos=episode.eef_pos[keep],
        actions=episode.actions[keep],
        rewards=episode.rewards[keep],
        successes=episode.successes[keep],
        seed=episode.seed,
        images={camera: frames[keep] for camera, frames in episode.images.items()},
        init_state_index=episode.init_state_index,
        init_sim_state=episode.init_sim_state,
        obs_after_action=episode.obs_after_action,
    )


def _common(values: list) -> Any:
    distinct = {v for v in values}
    return distinct.pop() if len(distinct) == 1 else None


def import_libero_hdf5(paths: list[Path], out: Path, *, suite: str | None = None,
                       drop_no_ops: bool = False, images: bool = True,
                       show_progress: bool = True) -> ImportSummary:
    """Write the demonstrations of LIBERO demo files (or folders of them) as dataset ``out``."""
    import h5py

    check_output_path(Path(out))
    files = [inspect_demo_file(p, suite=suite) for p in demo_files(paths)]
    provenance = [f.provenance for f in files]
    backend = _common([p.get("backend") or LIBERO_BACKEND for p in provenance])
    if backend is None:
        raise UserError("the files come from different backends; import them separately")
    if suite is not None:  # files that do not name their suite would record any name
        get_backend(backend).check_suite(suite)
    source_label = _common([p.get("source_label") or LIBERO_SOURCE_LABEL for p in provenance])
    control_hz = _common([f.control_hz for f in files])
    if control_hz is None:
        raise UserError("the files have different control rates; import them separately")
    # The no-ops are counted before writing, so that the manifest can record them.
    no_ops: dict[tuple[Path, str], np.ndarray] = {}
    for demo_file in files:
        with h5py.File(demo_file.path, "r") as handle:
            for name in demo_file.demos:
                actions = handle[L.DATA][name][L.ACTIONS][()]
                no_ops[demo_file.path, name] = no_op_steps(actions)
    n_no_ops = int(sum(mask.sum() for mask in no_ops.values()))
    n_frames = n_empty = 0
    with DatasetWriter(
        Path(out),
        source=IMPORTED_SOURCE,
        source_label=source_label or LIBERO_SOURCE_LABEL,
        backend=backend,
        suite=suite or _common([f.suite for f in files]),
        generator_config={"imported_from": "libero-hdf5", "files": [f.path.name for f in files],
                          "drop_no_ops": drop_no_ops, "no_op_steps": n_no_ops},
        control_hz=control_hz,
    ) as writer:
        with progress_bar(transient=None if show_progress else True) as progress:
            bar = progress.add_task("import libero-hdf5", total=len(no_ops), status="",
                                    visible=show_progress)
            for demo_file in files:
                with h5py.File(demo_file.path, "r") as handle:
                    for name in demo_file.demos:
                        episode = read_demo(handle, demo_file, name, images=images)
                        if drop_no_ops:
                            episode = drop_steps(episode, no_ops[demo_file.path, name])
                        if episode is None:
                            n_empty += 1
                        else:
                            writer.add(episode)
                            n_frames += episode.length
                        progress.advance(bar)
        path = writer.finalize()
    return ImportSummary(path=path, n_files=len(files), n_episodes=len(no_ops) - n_empty,
                         n_frames=n_frames, n_no_ops=n_no_ops, no_ops_dropped=drop_no_ops,
                         n_empty_episodes=n_empty)
