"""A synthetic LeRobotDataset v3.0 the size of the Hub's ``lerobot/libero`` (tables only).

1,693 episodes over 40 tasks, 100-223 steps each (about 273k frames, as the real one),
LIBERO's features (8-D ``observation.state``, 7-D ``action``), fps 10 as the Hub declares:
minimum-jerk reaches with hand jitter, reaction pauses, a gripper closing mid-way. Written
with pyarrow in LeRobot's layout, several episodes per data file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

N_EPISODES = 1693
N_TASKS = 40
FPS = 10


def _vectors(values: np.ndarray) -> pa.FixedSizeListArray:
    values = np.ascontiguousarray(values, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])


def episode_arrays(rng: np.random.Generator, lengths: np.ndarray):
    n = int(lengths.sum())
    n_episodes = len(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    episode = np.repeat(np.arange(n_episodes), lengths)
    step = np.arange(n) - np.repeat(starts, lengths)
    tau = step / np.repeat(lengths - 1, lengths)
    reach = (10 * tau**3 - 15 * tau**4 + 6 * tau**5)[:, None]
    target = np.repeat(rng.uniform(-0.3, 0.3, (n_episodes, 3)), lengths, axis=0)
    eef = reach * target + rng.normal(0, 2e-4, (n, 3))
    actions = np.clip(np.diff(eef, axis=0, prepend=eef[:1]) * 40, -1, 1)
    actions = np.hstack([actions, rng.normal(0, 0.05, (n, 3)), np.zeros((n, 1))])
    actions[:, 6] = np.where(tau > rng.uniform(0.3, 0.6), 1.0, -1.0)
    actions[rng.random(n) < 0.08, :6] = 0.0
    state = np.hstack([eef, rng.normal(0, 0.1, (n, 3)), rng.uniform(0, 0.04, (n, 2))])
    return episode, step, state, actions


def write_libero_sized_v3(out: Path, *, n_episodes: int = N_EPISODES, seed: int = 0,
                          episodes_per_file: int = 400) -> Path:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(100, 224, n_episodes)
    episode, step, state, actions = episode_arrays(rng, lengths)
    task = np.arange(n_episodes) % N_TASKS
    starts = np.concatenate([[0], np.cumsum(lengths)])
    (out / "data/chunk-000").mkdir(parents=True)
    (out / "meta/episodes/chunk-000").mkdir(parents=True)
    rows = []
    for file_index, first in enumerate(range(0, n_episodes, episodes_per_file)):
        last = min(first + episodes_per_file, n_episodes)
        lo, hi = starts[first], starts[last]
        pq.write_table(pa.table({
            "observation.state": _vectors(state[lo:hi]), "action": _vectors(actions[lo:hi]),
            "timestamp": pa.array((step[lo:hi] / FPS).astype(np.float32)),
            "frame_index": pa.array(step[lo:hi]), "episode_index": pa.array(episode[lo:hi]),
            "index": pa.array(np.arange(lo, hi)),
            "task_index": pa.array(task[episode[lo:hi]]),
        }), out / f"data/chunk-000/file-{file_index:03d}.parquet")
        rows += [{"episode_index": e, "tasks": [f"task {task[e]}"], "length": int(lengths[e]),
                  "data/chunk_index": 0, "data/file_index": file_index,
                  "dataset_from_index": int(starts[e]), "dataset_to_index": int(starts[e + 1])}
                 for e in range(first, last)]
    pl.DataFrame(rows).write_parquet(out / "meta/episodes/chunk-000/file-000.parquet")
    pl.DataFrame({"task_index": list(range(N_TASKS)),
                  "task": [f"task {i}" for i in range(N_TASKS)]}).write_parquet(out / "meta/tasks.parquet")
    vector = lambda width: {"dtype": "float32", "shape": [width], "names": None}  # noqa: E731
    scalar = lambda dtype: {"dtype": dtype, "shape": [1], "names": None}  # noqa: E731
    info = {
        "codebase_version": "v3.0", "robot_type": "panda", "fps": FPS,
        "total_episodes": n_episodes, "total_frames": int(starts[-1]), "total_tasks": N_TASKS,
        "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 200,
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": None, "splits": {"train": f"0:{n_episodes}"},
        "features": {"observation.state": vector(8), "action": vector(7),
                     "timestamp": scalar("float32"), "frame_index": scalar("int64"),
                     "episode_index": scalar("int64"), "index": scalar("int64"),
                     "task_index": scalar("int64")},
    }
    (out / "meta/info.json").write_text(json.dumps(info, indent=2))
    return out
