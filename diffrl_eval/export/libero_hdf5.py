"""Export a dataset as LIBERO demonstration files (robomimic HDF5, one file per task).

The layout and its names are in :mod:`diffrl_eval.export.libero_layout`. What a dataset
of ours holds fills it as follows; what it does not hold is said in the files:

- ``obs/ee_pos``, ``obs/ee_ori``, ``obs/ee_states``, ``obs/gripper_states`` come from the
  8-D state, ``robot_states`` from the same values (orientation as a quaternion).
- ``states``: for an episode that records the simulator state it started from (LIBERO's
  demonstrations, imported), row 0 is that flattened MuJoCo state, also the demo's
  ``init_state`` attribute as in LIBERO's files, and the later rows are NaN (not
  recorded): a reader that starts from ``states[0]`` and replays the actions, as LIBERO's
  own scripts do, gets the episode back. Other episodes keep no simulator state: their
  ``states`` holds the 8-D state, which cannot reset a simulator. Each demo's
  ``diffrl_eval`` attribute says which (``"states"``), with its seed and initial-state
  index and whether its observations follow each action (``"obs_after_action"``).
- ``obs/joint_states`` is zeros: the tabletop gripper floats, it has no arm joints.
- camera images, when the dataset has them, are stored rows bottom to top as LIBERO's
  own files are (``macros_image_convention = "opengl"``).
- per-step rewards, success flags (``successes``, our addition) and done flags as they are.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import polars as pl

from diffrl_eval import __version__
from diffrl_eval import constants as C
from diffrl_eval.atomic import StagedDirectory
from diffrl_eval.dataset import load_dataset
from diffrl_eval.export import libero_layout as L
from diffrl_eval.interrupts import signals_deferred
from diffrl_eval.progress import progress_bar

STATES_NOTE = ("per demo (its 'states' entry): init_sim_state = row 0 the flattened simulator "
               "state before the first action, later rows NaN (not recorded); proprio = the "
               "8-D proprio state (ee_pos, ee axis-angle, gripper qpos), no simulator state")
JOINT_STATES_NOTE = "not recorded (floating gripper): zeros"


def bddl_file_name(suite: str | None, task_id: str) -> str:
    """Where LIBERO would keep the task's BDDL file: the suite folder names the suite."""
    name = f"{task_id}{L.BDDL_SUFFIX}"
    return f"{suite}/{name}" if suite else name


def _sim_states(init_sim_state: np.ndarray, n: int) -> np.ndarray:
    """(n, D) float64: the initial simulator state, then NaN rows (states not recorded)."""
    states = np.full((n, init_sim_state.size), np.nan)
    states[0] = init_sim_state
    return states


def _write_demo(group, rows: pl.DataFrame, images: dict[str, np.ndarray], *,
                seed: int | None, init_state_index: int | None,
                init_sim_state: np.ndarray | None, obs_after_action: bool) -> int:
    states = rows[C.COL_STATE].to_numpy().astype(np.float64)
    n = states.shape[0]
    ee_pos = states[:, :3]
    ee_ori = states[:, 3:6]
    gripper = states[:, 6:8]
    quat = L.axis_angle_to_quat(ee_ori)
    obs = group.create_group(L.OBS)
    obs.create_dataset(L.EE_POS, data=ee_pos)
    obs.create_dataset(L.EE_ORI, data=ee_ori)
    obs.create_dataset(L.EE_STATES, data=np.concatenate([ee_pos, ee_ori], axis=1))
    obs.create_dataset(L.GRIPPER_STATES, data=gripper)
    obs.create_dataset(L.JOINT_STATES, data=np.zeros((n, L.JOINT_DIM)))
    for camera, dataset_name in L.CAMERA_DATASETS.items():
        if camera in images:
            frames = np.ascontiguousarray(images[camera][:, ::-1], dtype=np.uint8)
            obs.create_dataset(dataset_name, data=frames, compression="gzip",
                               compression_opts=4, chunks=(1, *frames.shape[1:]))
    group.create_dataset(L.ACTIONS, data=rows[C.COL_ACTION].to_numpy().astype(np.float64))
    if init_sim_state is not None:
        group.create_dataset(L.STATES, data=_sim_states(init_sim_state, n))
        group.attrs[L.INIT_STATE] = init_sim_state
    else:
        group.create_dataset(L.STATES, data=states)
    group.create_dataset(L.ROBOT_STATES, data=np.concatenate([gripper, ee_pos, quat], axis=1))
    group.create_dataset(L.REWARDS, data=rows[C.COL_REWARD].to_numpy().astype(np.float32))
    group.create_dataset(L.DONES, data=rows[C.COL_DONE].to_numpy().astype(np.uint8))
    group.create_dataset(L.SUCCESSES, data=rows[C.COL_SUCCESS].to_numpy().astype(np.uint8))
    group.attrs[L.NUM_SAMPLES] = n
    group.attrs[L.PROVENANCE] = json.dumps({
        "seed": seed, "init_state_index": init_state_index,
        "states": L.STATES_PROPRIO if init_sim_state is None else L.STATES_INIT_SIM,
        "obs_after_action": obs_after_action,
    })
    return n


def export_libero_hdf5(dataset_path: Path, out: Path, *, overwrite: bool = False,
                       show_progress: bool = True) -> Path:
    """Write the dataset at ``dataset_path`` as a folder ``out`` of LIBERO demo files."""
    import h5py

    dataset = load_dataset(dataset_path)
    manifest = dataset.manifest
    frames = dataset.frames_df.sort([C.COL_EPISODE, C.COL_STEP])
    seeds = manifest.get("episode_seeds") or []
    init_states = manifest.get("episode_init_states") or []
    images_meta = manifest.get("images") or {}
    control_hz = dataset.control_hz
    by_task = frames.partition_by(C.COL_TASK, maintain_order=True, as_dict=True)
    n_episodes = int(frames[C.COL_EPISODE].n_unique())
    with StagedDirectory(out, sources=[Path(dataset_path)], overwrite=overwrite) as staged:
        with progress_bar(transient=None if show_progress else True) as progress:
            bar = progress.add_task("export libero-hdf5", total=n_episodes, status="",
                                    visible=show_progress)
            for (task_id,), task_rows in by_task.items():
                instruction = task_rows[C.COL_INSTRUCTION][0]
                bddl = bddl_file_name(dataset.suite, task_id)
                path = staged.path / f"{task_id}{L.DEMO_FILE_SUFFIX}"
                # built in memory, written by Python: HDF5's own writes to a full disk
                # leave its objects half-closed, and freeing them then crashes the process.
                # HDF5 writes into the buffer by calling back into Python, where an
                # exception raised by a signal handler would be swallowed: SIGINT/SIGTERM
                # are held while the file is open and delivered between episodes.
                image = io.BytesIO()
                with signals_deferred() as deferred, h5py.File(image, "w") as handle:
                    data = handle.create_group(L.DATA)
                    total = 0
                    episodes = task_rows.partition_by(C.COL_EPISODE, maintain_order=True)
                    for demo_index, rows in enumerate(episodes):
                        episode_index = int(rows[C.COL_EPISODE][0])
                        total += _write_demo(
                            data.create_group(L.demo_name(demo_index)),
                            rows,
                            dataset.images(episode_index) if dataset.cameras else {},
                            seed=seeds[episode_index] if episode_index < len(seeds) else None,
                            init_state_index=init_states[episode_index]
                            if episode_index < len(init_states) else None,
                            init_sim_state=dataset.init_sim_state(episode_index),
                            obs_after_action=dataset.obs_after_action(episode_index),
                        )
                        progress.advance(bar)
                        deferred.deliver()  # a held signal interrupts here
                    env_kwargs = {"control_freq": control_hz}
                    if dataset.cameras:
                        env_kwargs.update(
                            camera_names=[L.CAMERA_DATASETS[c] for c in dataset.cameras
                                          if c in L.CAMERA_DATASETS],
                            camera_heights=images_meta.get("height"),
                            camera_widths=images_meta.get("width"),
                        )
                    data.attrs[L.PROBLEM_INFO] = json.dumps({
                        L.PROBLEM_NAME: task_id,
                        L.DOMAIN_NAME: dataset.backend,
                        L.LANGUAGE_INSTRUCTION: instruction,
                    })
                    data.attrs[L.ENV_NAME] = dataset.backend
                    data.attrs[L.ENV_ARGS] = json.dumps({
                        "type": 2,  # robomimic's code for a gym(nasium) environment
                        "env_name": dataset.backend,
                        "problem_name": task_id,
                        "bddl_file": bddl,
                        "env_kwargs": env_kwargs,
                    })
                    data.attrs[L.BDDL_FILE_NAME] = bddl
                    data.attrs[L.BDDL_FILE_CONTENT] = ""
                    data.attrs[L.IMAGE_CONVENTION] = L.OPENGL
                    data.attrs[L.NUM_DEMOS] = len(episodes)
                    data.attrs[L.TOTAL] = total
                    data.attrs[L.PROVENANCE] = json.dumps({
                        "backend": dataset.backend,
                        "suite": dataset.suite,
                        "task_id": task_id,
                        "source": dataset.source,
                        "source_label": dataset.source_label,
                        "content_hash": dataset.content_hash,
                        "states": STATES_NOTE,
                        "joint_states": JOINT_STATES_NOTE,
                        "exported_by": f"diffrl-eval {__version__}",
                    })
                path.write_bytes(image.getbuffer())
                del image
        return staged.commit()
