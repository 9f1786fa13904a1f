"""Writers of small datasets in other tools' layouts, for the source readers' tests.

Each follows the layout its tool documents (LeRobot's ``datasets/utils.py`` and v3.0
conversion script; robomimic's dataset conventions), from the episodes of one of our
datasets, so that the same episodes can be measured in every format.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from diffrl_eval import constants as C
from diffrl_eval.dataset import load_dataset


def _vectors(values: np.ndarray) -> pa.FixedSizeListArray:
    values = np.ascontiguousarray(values, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])


def _episode_tables(dataset_path: Path, fps: float):
    frames = load_dataset(dataset_path).frames_df.sort(C.COL_EPISODE, C.COL_STEP)
    instructions = list(dict.fromkeys(frames[C.COL_INSTRUCTION].to_list()))
    index = 0
    for (episode,), rows in frames.group_by(C.COL_EPISODE, maintain_order=True):
        n = rows.height
        table = pa.table({
            "observation.state": _vectors(rows[C.COL_STATE].to_numpy()),
            "action": _vectors(rows[C.COL_ACTION].to_numpy()),
            "timestamp": pa.array(np.arange(n, dtype=np.float32) / fps),
            "frame_index": pa.array(np.arange(n, dtype=np.int64)),
            "episode_index": pa.array(np.full(n, episode, dtype=np.int64)),
            "index": pa.array(np.arange(index, index + n, dtype=np.int64)),
            "task_index": pa.array(np.full(n, instructions.index(rows[C.COL_INSTRUCTION][0]), dtype=np.int64)),
        })
        index += n
        yield int(episode), rows[C.COL_INSTRUCTION][0], table
    return instructions


def _features(fps: float) -> dict:
    vector = lambda width, names: {"dtype": "float32", "shape": [width], "names": names}  # noqa: E731
    return {
        "observation.state": vector(8, {"motors": ["x", "y", "z", "rx", "ry", "rz", "g0", "g1"]}),
        "action": vector(7, {"motors": ["x", "y", "z", "roll", "pitch", "yaw", "gripper"]}),
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
    }


def write_lerobot_v21(dataset_path: Path, out: Path, *, fps: float = 20) -> Path:
    """A LeRobot v2.1 directory: one parquet file per episode, episodes/tasks as JSON lines."""
    episodes, tasks, total = [], {}, 0
    for episode, instruction, table in _episode_tables(dataset_path, fps):
        path = out / f"data/chunk-{episode // 1000:03d}/episode_{episode:06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        tasks.setdefault(instruction, len(tasks))
        episodes.append({"episode_index": episode, "tasks": [instruction], "length": table.num_rows})
        total += table.num_rows
    meta = out / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "episodes.jsonl").write_text("".join(json.dumps(e) + "\n" for e in episodes))
    (meta / "tasks.jsonl").write_text("".join(
        json.dumps({"task_index": i, "task": t}) + "\n" for t, i in tasks.items()))
    info = {
        "codebase_version": "v2.1", "robot_type": "panda", "fps": fps,
        "total_episodes": len(episodes), "total_frames": total, "total_tasks": len(tasks),
        "chunks_size": 1000, "total_chunks": 1, "splits": {"train": f"0:{len(episodes)}"},
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": None, "features": _features(fps),
    }
    (meta / "info.json").write_text(json.dumps(info, indent=2))
    return out


def write_lerobot_v3(dataset_path: Path, out: Path, *, fps: float = 10,
                     episodes_per_file: int = 4) -> Path:
    """A LeRobot v3.0 directory as the Hub's LIBERO conversions hold it: several episodes
    per data file, episodes and tasks as parquet, no provenance of ours."""
    tables, rows, tasks = [], [], {}
    for episode, instruction, table in _episode_tables(dataset_path, fps):
        tasks.setdefault(instruction, len(tasks))
        tables.append(table)
        rows.append({"episode_index": episode, "tasks": [instruction], "length": table.num_rows})
    start = 0
    for file_index in range(0, len(tables), episodes_per_file):
        group = tables[file_index:file_index + episodes_per_file]
        path = out / f"data/chunk-000/file-{file_index // episodes_per_file:03d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(group), path)
        for offset, table in enumerate(group):
            row = rows[file_index + offset]
            row.update({"data/chunk_index": 0, "data/file_index": file_index // episodes_per_file,
                        "dataset_from_index": start, "dataset_to_index": start + table.num_rows})
            start += table.num_rows
    meta = out / "meta"
    (meta / "episodes/chunk-000").mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows).write_parquet(meta / "episodes/chunk-000/file-000.parquet")
    pl.DataFrame({"task_index": list(tasks.values()), "task": list(tasks)}).write_parquet(
        meta / "tasks.parquet")
    info = {
        "codebase_version": "v3.0", "robot_type": "panda", "fps": fps,
        "total_episodes": len(rows), "total_frames": start, "total_tasks": len(tasks),
        "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 200,
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": None, "splits": {"train": f"0:{len(rows)}"}, "features": _features(fps),
    }
    (meta / "info.json").write_text(json.dumps(info, indent=2))
    return out


def write_robomimic(dataset_path: Path, out: Path, *, control_freq: int | None = 20) -> Path:
    """A folder of robomimic HDF5 files, one per task (env_name = the task id):
    data/demo_N/{actions, rewards, dones, obs/robot0_eef_pos, obs/robot0_gripper_qpos, ...}."""
    frames = load_dataset(dataset_path).frames_df.sort(C.COL_EPISODE, C.COL_STEP)
    out.mkdir(parents=True)
    for (task,), task_frames in frames.group_by(C.COL_TASK, maintain_order=True):
        _write_robomimic_file(task_frames, out / f"{task}.hdf5", str(task), control_freq)
    return out


def _write_robomimic_file(frames: pl.DataFrame, path: Path, env_name: str,
                          control_freq: int | None) -> None:
    with h5py.File(path, "w") as handle:
        data = handle.create_group("data")
        env_kwargs = {"controller_configs": {"type": "OSC_POSE", "control_delta": True}}
        if control_freq is not None:
            env_kwargs["control_freq"] = control_freq
        data.attrs["env_args"] = json.dumps({"env_name": env_name, "type": 1, "env_kwargs": env_kwargs})
        total = 0
        for number, ((_,), rows) in enumerate(frames.group_by(C.COL_EPISODE, maintain_order=True)):
            demo = data.create_group(f"demo_{number}")
            state = rows[C.COL_STATE].to_numpy().astype(np.float64)
            demo.create_dataset("actions", data=rows[C.COL_ACTION].to_numpy().astype(np.float64))
            demo.create_dataset("rewards", data=rows[C.COL_SUCCESS].to_numpy().astype(np.float64))
            demo.create_dataset("dones", data=rows[C.COL_DONE].to_numpy().astype(np.int64))
            demo.create_dataset("obs/robot0_eef_pos", data=rows[C.COL_EEF_POS].to_numpy().astype(np.float64))
            demo.create_dataset("obs/robot0_gripper_qpos", data=state[:, 6:8])
            demo.create_dataset("obs/agentview_image", data=np.zeros((rows.height, 4, 4, 3), np.uint8))
            demo.attrs["num_samples"] = rows.height
            total += rows.height
        data.attrs["total"] = total
