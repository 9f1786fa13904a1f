"""The on-disk dataset format: schema, content hash, manifest fields.

A dataset is a directory::

    DATASET/
      manifest.json        small JSON: provenance, tasks, seeds, hashes (see MANIFEST_FIELDS)
      frames.parquet       one row per environment step (columns: FRAME_SCHEMA)
      images/              optional sidecar, one ``episode_NNNNNN.npz`` per episode,
                           arrays (T, H, W, 3) uint8 keyed by camera name
      init_sim_states.npz  optional: the flattened simulator state each episode started
                           from, (D,) float64 keyed ``episode_NNNNNN``, for the episodes
                           that record one (LIBERO's demonstrations: their ``states[0]``)

The content hash covers the frames' values (not the Parquet bytes, not timestamps), so
the same seed gives the same hash whatever library version wrote the file, and the
initial simulator states when the dataset has any: a dataset without them keeps the hash
of its frames alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import polars as pl
import pyarrow as pa

from diffrl_eval import constants as C
from diffrl_eval.documents import DATASET_MANIFEST

SCHEMA_VERSION = DATASET_MANIFEST.version
MANIFEST_NAME = "manifest.json"
FRAMES_NAME = "frames.parquet"
IMAGES_DIR = "images"
INIT_SIM_STATES_NAME = "init_sim_states.npz"
HASH_PREFIX = "sha256:"

# Fixed-width vector columns and their widths.
VECTOR_COLUMNS = {C.COL_STATE: C.STATE_DIM, C.COL_EEF_POS: C.EEF_POS_DIM, C.COL_ACTION: C.ACTION_DIM}

FRAME_SCHEMA = pa.schema(
    [
        pa.field(C.COL_EPISODE, pa.int64(), nullable=False),
        pa.field(C.COL_STEP, pa.int64(), nullable=False),
        pa.field(C.COL_TASK, pa.string(), nullable=False),
        pa.field(C.COL_INSTRUCTION, pa.string(), nullable=False),
        pa.field(C.COL_STATE, pa.list_(pa.float32(), C.STATE_DIM), nullable=False),
        pa.field(C.COL_EEF_POS, pa.list_(pa.float32(), C.EEF_POS_DIM), nullable=False),
        pa.field(C.COL_ACTION, pa.list_(pa.float32(), C.ACTION_DIM), nullable=False),
        pa.field(C.COL_REWARD, pa.float32(), nullable=False),
        pa.field(C.COL_SUCCESS, pa.bool_(), nullable=False),
        pa.field(C.COL_DONE, pa.bool_(), nullable=False),
    ]
)

# The polars dtypes the reader expects after loading.
POLARS_DTYPES = {
    C.COL_EPISODE: pl.Int64,
    C.COL_STEP: pl.Int64,
    C.COL_TASK: pl.String,
    C.COL_INSTRUCTION: pl.String,
    C.COL_STATE: pl.Array(pl.Float32, C.STATE_DIM),
    C.COL_EEF_POS: pl.Array(pl.Float32, C.EEF_POS_DIM),
    C.COL_ACTION: pl.Array(pl.Float32, C.ACTION_DIM),
    C.COL_REWARD: pl.Float32,
    C.COL_SUCCESS: pl.Boolean,
    C.COL_DONE: pl.Boolean,
}

MANIFEST_FIELDS = (
    "schema_version",  # int, SCHEMA_VERSION
    "source",  # generator name, e.g. "human"
    "source_label",  # how reports name it, e.g. "simulated teleoperation"
    "backend",  # "tabletop" | "libero" | ...
    "suite",  # suite name, or null for a hand-picked task list
    "tasks",  # [{"task_id", "instruction", "n_episodes"}]
    "seed",  # base seed of the generation run (null for imported data)
    "episode_seeds",  # per-episode env reset seeds, in episode order (null entries allowed)
    "episode_init_states",  # per-episode fixed init-state index, or null when sampled
    "generator_config",  # dict written by the generator
    "tool_version",  # diffrl-eval version that wrote the dataset
    "control_hz",  # control rate of the actions (for jerk)
    "n_episodes",
    "n_frames",
    "content_hash",  # HASH_PREFIX + sha256 of the frames' values
    "images",  # null, or {"cameras": [...], "height", "width", "content_hash"}
    # per-episode bool: observations recorded after each action, not before it (LIBERO's
    # files); absent in older datasets (all before)
    "episode_obs_after_action",
    # null, or {"file": INIT_SIM_STATES_NAME, "episodes": [indices that have one]};
    # absent in older datasets
    "init_sim_states",
)


def _vector_bytes(series: pl.Series, width: int) -> bytes:
    values = series.to_numpy()
    return np.ascontiguousarray(values.reshape(-1, width), dtype="<f4").tobytes()


def _string_bytes(series: pl.Series) -> bytes:
    lengths = series.str.len_bytes().to_numpy().astype("<i8")
    return lengths.tobytes() + "".join(series.to_list()).encode("utf-8")


def frames_content_hash(frames: pl.DataFrame) -> str:
    """Hash of the frame table's values, independent of the file that stores them."""
    return HASH_PREFIX + _frames_digest(frames).hexdigest()


def content_hash(frames: pl.DataFrame, init_sim_states: Mapping[int, np.ndarray] | None = None) -> str:
    """The dataset's content hash: its frames' values, then its initial simulator states
    (episode index -> (D,) float64) in episode order when there are any."""
    digest = _frames_digest(frames)
    if init_sim_states:
        digest.update(b"init_sim_states")
        for index in sorted(init_sim_states):
            state = np.ascontiguousarray(init_sim_states[index], dtype="<f8").reshape(-1)
            digest.update(np.array([index, state.size], dtype="<i8").tobytes())
            digest.update(state.tobytes())
    return HASH_PREFIX + digest.hexdigest()


def _frames_digest(frames: pl.DataFrame):
    digest = hashlib.sha256()
    for name in C.FRAME_COLUMNS:
        series = frames[name]
        digest.update(name.encode())
        if name in VECTOR_COLUMNS:
            digest.update(_vector_bytes(series, VECTOR_COLUMNS[name]))
        elif series.dtype == pl.String:
            digest.update(_string_bytes(series))
        elif series.dtype == pl.Boolean:
            digest.update(series.cast(pl.UInt8).to_numpy().astype("u1").tobytes())
        elif series.dtype == pl.Int64:
            digest.update(series.to_numpy().astype("<i8").tobytes())
        else:
            digest.update(series.to_numpy().astype("<f4").tobytes())
    return digest


def image_episode_name(episode_index: int) -> str:
    return f"{episode_key(episode_index)}.npz"


def episode_key(episode_index: int) -> str:
    """An episode's name in the sidecar files: ``episode_NNNNNN``."""
    return f"episode_{episode_index:06d}"
