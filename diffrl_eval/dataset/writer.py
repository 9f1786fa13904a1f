"""The one dataset writer: append episode by episode, then finalize atomically.

Everything is written into a hidden staging directory next to the destination
(:class:`~diffrl_eval.atomic.StagedDirectory`, which claims the destination while it is
written); the destination appears, complete, only when :meth:`DatasetWriter.finalize`
renames it into place. An exception (or a kill) leaves at most a ``.NAME.tmp-*``
directory behind, never a half-written dataset under the final name.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from diffrl_eval import __version__
from diffrl_eval import constants as C
from diffrl_eval.atomic import StagedDirectory, check_writable_parent
from diffrl_eval.dataset.episode import Episode
from diffrl_eval.dataset.format import (
    FRAME_SCHEMA,
    FRAMES_NAME,
    HASH_PREFIX,
    IMAGES_DIR,
    INIT_SIM_STATES_NAME,
    MANIFEST_NAME,
    content_hash,
    episode_key,
    image_episode_name,
)
from diffrl_eval.documents import DATASET_MANIFEST
from diffrl_eval.errors import DatasetError, UserError


def check_output_path(out: Path) -> Path:
    """Refuse an existing destination or an unwritable parent, before any work is done."""
    out = Path(out)
    if out.exists():
        raise UserError(f"output path already exists: {out} (choose a new path or remove it)")
    check_writable_parent(out)
    return out


def _episode_table(episode: Episode, episode_index: int) -> pa.Table:
    n = episode.length
    done = np.zeros(n, dtype=bool)
    done[-1] = True

    def vectors(values: np.ndarray, width: int) -> pa.FixedSizeListArray:
        flat = pa.array(np.ascontiguousarray(values, dtype=np.float32).reshape(-1))
        return pa.FixedSizeListArray.from_arrays(flat, width)

    columns = [
        pa.array(np.full(n, episode_index, dtype=np.int64)),
        pa.array(np.arange(n, dtype=np.int64)),
        pa.array([episode.task_id] * n, pa.string()),
        pa.array([episode.instruction] * n, pa.string()),
        vectors(episode.states, C.STATE_DIM),
        vectors(episode.eef_pos, C.EEF_POS_DIM),
        vectors(episode.actions, C.ACTION_DIM),
        pa.array(episode.rewards.astype(np.float32)),
        pa.array(episode.successes.astype(bool)),
        pa.array(done),
    ]
    return pa.Table.from_arrays(columns, schema=FRAME_SCHEMA)


class DatasetWriter:
    """Write one dataset. Use as a context manager; call :meth:`add` per episode.

    >>> with DatasetWriter(out, source="human", backend="tabletop", suite="s") as w:
    ...     for episode in episodes:
    ...         w.add(episode)
    ...     w.finalize()
    """

    def __init__(
        self,
        out: Path,
        *,
        source: str,
        backend: str,
        suite: str | None,
        source_label: str | None = None,
        seed: int | None = None,
        generator_config: dict[str, Any] | None = None,
        control_hz: int = C.DEFAULT_CONTROL_HZ,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self._staged = StagedDirectory(out, check=check_output_path)
        self.out = self._staged.out
        self.tmp = self._staged.path
        self._meta = {
            "source": source,
            "source_label": source_label or source,
            "backend": backend,
            "suite": suite,
            "seed": seed,
            "generator_config": generator_config or {},
            "control_hz": int(control_hz),
        }
        self._extra = dict(extra or {})
        self._parquet: pq.ParquetWriter | None = None
        self._tasks: dict[str, dict[str, Any]] = {}
        self._episode_seeds: list[int | None] = []
        self._episode_init_states: list[int | None] = []
        self._obs_after_action: list[bool] = []
        self._init_sim_states: dict[int, np.ndarray] = {}
        self._n_frames = 0
        self._cameras: tuple[str, ...] | None = None
        self._image_shape: tuple[int, int] | None = None
        self._image_digest = hashlib.sha256()
        self._finalized = False

    # -- appending ----------------------------------------------------------------------
    @property
    def n_episodes(self) -> int:
        return len(self._episode_seeds)

    def add(self, episode: Episode) -> int:
        """Append one episode; returns its episode index."""
        if self._finalized:
            raise RuntimeError("dataset already finalized")
        episode.validate()
        index = self.n_episodes
        self._write_images(episode, index)
        table = _episode_table(episode, index)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.tmp / FRAMES_NAME, FRAME_SCHEMA)
        self._parquet.write_table(table)
        task = self._tasks.setdefault(
            episode.task_id,
            {"task_id": episode.task_id, "instruction": episode.instruction, "n_episodes": 0},
        )
        if task["instruction"] != episode.instruction:
            raise DatasetError(
                f"task {episode.task_id!r} has two instructions: "
                f"{task['instruction']!r} and {episode.instruction!r}"
            )
        task["n_episodes"] += 1
        self._episode_seeds.append(episode.seed)
        self._episode_init_states.append(episode.init_state_index)
        self._obs_after_action.append(episode.obs_after_action)
        if episode.init_sim_state is not None:
            self._init_sim_states[index] = episode.init_sim_state.copy()
        self._n_frames += episode.length
        return index

    def _write_images(self, episode: Episode, index: int) -> None:
        cameras = tuple(sorted(episode.images))
        if self._cameras is None:
            self._cameras = cameras
        if cameras != self._cameras:
            raise DatasetError(
                f"episode {index} has cameras {list(cameras)}, the dataset has "
                f"{list(self._cameras)}"
            )
        if not cameras:
            return
        shape = episode.images[cameras[0]].shape[1:3]
        if self._image_shape is None:
            self._image_shape = tuple(shape)
        arrays = {}
        for camera in cameras:
            frames = np.ascontiguousarray(episode.images[camera], dtype=np.uint8)
            if tuple(frames.shape[1:3]) != self._image_shape:
                raise DatasetError(
                    f"episode {index} camera {camera!r} is {frames.shape[1:3]}, "
                    f"the dataset's images are {self._image_shape}"
                )
            self._image_digest.update(camera.encode())
            self._image_digest.update(frames.tobytes())
            arrays[camera] = frames
        images_dir = self.tmp / IMAGES_DIR
        images_dir.mkdir(exist_ok=True)
        np.savez_compressed(images_dir / image_episode_name(index), **arrays)

    # -- finishing ----------------------------------------------------------------------
    def finalize(self) -> Path:
        """Close the files, hash the frames, write the manifest, rename into place."""
        if self.n_episodes == 0:
            self.abort()
            raise DatasetError(f"no episodes to write: {self.out} was not created")
        assert self._parquet is not None
        self._parquet.close()
        frames = pl.read_parquet(self.tmp / FRAMES_NAME)
        images = None
        if self._cameras:
            height, width = self._image_shape or (0, 0)
            images = {
                "cameras": list(self._cameras),
                "height": int(height),
                "width": int(width),
                "content_hash": HASH_PREFIX + self._image_digest.hexdigest(),
            }
        init_sim_states = None
        if self._init_sim_states:
            np.savez(self.tmp / INIT_SIM_STATES_NAME,
                     **{episode_key(i): state for i, state in self._init_sim_states.items()})
            init_sim_states = {"file": INIT_SIM_STATES_NAME,
                               "episodes": sorted(self._init_sim_states)}
        manifest = {
            **DATASET_MANIFEST.header(),
            **{k: self._meta[k] for k in ("source", "source_label", "backend", "suite")},
            "tasks": list(self._tasks.values()),
            "seed": self._meta["seed"],
            "episode_seeds": self._episode_seeds,
            "episode_init_states": self._episode_init_states,
            "generator_config": self._meta["generator_config"],
            "tool_version": __version__,
            "control_hz": self._meta["control_hz"],
            "n_episodes": self.n_episodes,
            "n_frames": self._n_frames,
            "content_hash": content_hash(frames, self._init_sim_states),
            "images": images,
            "episode_obs_after_action": self._obs_after_action,
            "init_sim_states": init_sim_states,
            **self._extra,
        }
        manifest_path = self.tmp / MANIFEST_NAME
        manifest_path.write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n")
        try:
            self._staged.commit()
        except BaseException:
            self.abort()
            raise
        self._finalized = True
        return self.out

    def abort(self) -> None:
        """Remove everything written so far."""
        if self._parquet is not None:
            try:
                self._parquet.close()
            except Exception:  # noqa: BLE001 - best effort while cleaning up
                pass
        self._staged.abort()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._finalized:
            self.abort()


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (Path,)):
        return str(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def write_dataset(out: Path, episodes, **metadata: Any) -> Path:
    """Convenience: write an iterable of episodes as one dataset."""
    with DatasetWriter(out, **metadata) as writer:
        for episode in episodes:
            writer.add(episode)
        return writer.finalize()
