"""Export a dataset as a LeRobotDataset v3, the layout LeRobot trains from.

Layout written (paths relative to OUT; LeRobot's codebase version "v3.0")::

    meta/info.json                 fps, totals, path templates, features (dtype/shape/names)
    meta/stats.json                normalization statistics per feature (see lerobot_stats)
    meta/tasks.parquet             one row per language instruction: task_index, task
    meta/episodes/chunk-000/file-000.parquet
                                   one row per episode: its tasks, length, frame range,
                                   where its data and video frames live, its own statistics
    data/chunk-CCC/file-FFF.parquet
                                   one row per frame (columns: the non-video features)
    videos/<camera feature>/chunk-CCC/file-FFF.mp4
                                   camera frames of many episodes back to back

Our columns map to LeRobot's feature names: ``state`` -> ``observation.state`` (8),
``action`` -> ``action`` (7), cameras -> ``observation.images.image`` (agent view) and
``observation.images.wrist_image``; the step's ``reward``/``done``/``success`` are the
reward and flags observed after the action, hence ``next.reward``/``next.done``/
``next.success``. Instructions are LeRobot's tasks. Files roll over to the next index
when they reach LeRobot's size limits, 1000 files per chunk, as LeRobot's own writer does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from diffrl_eval import __version__
from diffrl_eval import constants as C
from diffrl_eval.atomic import StagedDirectory
from diffrl_eval.dataset import Dataset, load_dataset
from diffrl_eval.export.lerobot_stats import (
    Stats,
    histogram_stats,
    image_histogram,
    stats_to_json,
    vector_stats,
)
from diffrl_eval.export.video import DEFAULT_VIDEO_CODEC, VideoFileWriter, video_stream_info
from diffrl_eval.progress import progress_bar

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # files per chunk directory
DATA_FILES_SIZE_IN_MB = 100
VIDEO_FILES_SIZE_IN_MB = 200
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
# Our own manifest, kept beside LeRobot's metadata so that provenance (the data source,
# "simulated teleoperation") travels with the export. LeRobot ignores the file.
SOURCE_MANIFEST_PATH = "meta/diffrl_eval_manifest.json"

# LeRobot feature names
STATE = C.LEROBOT_STATE
ACTION = "action"
NEXT_REWARD = "next.reward"
NEXT_DONE = "next.done"
NEXT_SUCCESS = "next.success"
TIMESTAMP = "timestamp"
FRAME_INDEX = "frame_index"
EPISODE_INDEX = "episode_index"
INDEX = "index"
TASK_INDEX = "task_index"
CAMERA_FEATURES = C.LEROBOT_CAMERA_KEYS
STATE_NAMES = [
    "eef_x", "eef_y", "eef_z",
    "eef_axis_angle_x", "eef_axis_angle_y", "eef_axis_angle_z",
    "gripper_qpos_left", "gripper_qpos_right",
]
ACTION_NAMES = ["dx", "dy", "dz", "drx", "dry", "drz", "gripper"]

_MB = 1024 * 1024


def lerobot_features(cameras: list[str], image_shape: tuple[int, int] | None) -> dict[str, dict]:
    """The ``features`` block of info.json (video ``info`` filled in after encoding)."""
    features: dict[str, dict] = {}
    for camera in cameras:
        height, width = image_shape or (0, 0)
        features[CAMERA_FEATURES[camera]] = {
            "dtype": "video",
            "shape": [height, width, 3],
            "names": ["height", "width", "channels"],
        }
    features[STATE] = {"dtype": "float32", "shape": [C.STATE_DIM], "names": list(STATE_NAMES)}
    features[ACTION] = {"dtype": "float32", "shape": [C.ACTION_DIM], "names": list(ACTION_NAMES)}
    features[NEXT_REWARD] = {"dtype": "float32", "shape": [1], "names": None}
    features[NEXT_DONE] = {"dtype": "bool", "shape": [1], "names": None}
    features[NEXT_SUCCESS] = {"dtype": "bool", "shape": [1], "names": None}
    features[TIMESTAMP] = {"dtype": "float32", "shape": [1], "names": None}
    for name in (FRAME_INDEX, EPISODE_INDEX, INDEX, TASK_INDEX):
        features[name] = {"dtype": "int64", "shape": [1], "names": None}
    return features


DATA_SCHEMA = pa.schema(
    [
        pa.field(STATE, pa.list_(pa.float32(), C.STATE_DIM)),
        pa.field(ACTION, pa.list_(pa.float32(), C.ACTION_DIM)),
        pa.field(NEXT_REWARD, pa.float32()),
        pa.field(NEXT_DONE, pa.bool_()),
        pa.field(NEXT_SUCCESS, pa.bool_()),
        pa.field(TIMESTAMP, pa.float32()),
        pa.field(FRAME_INDEX, pa.int64()),
        pa.field(EPISODE_INDEX, pa.int64()),
        pa.field(INDEX, pa.int64()),
        pa.field(TASK_INDEX, pa.int64()),
    ]
)


@dataclass
class _RollingFiles:
    """Which chunk/file the next episode goes to, moving on when a file is full."""

    limit_bytes: int
    counter: int = 0
    bytes_in_file: int = 0

    @property
    def chunk_file(self) -> tuple[int, int]:
        return divmod(self.counter, CHUNKS_SIZE)

    def must_roll(self, incoming_bytes: int) -> bool:
        return self.bytes_in_file > 0 and self.bytes_in_file + incoming_bytes > self.limit_bytes

    def roll(self) -> None:
        self.counter += 1
        self.bytes_in_file = 0


@dataclass
class _Episode:
    """One episode's slice of the frame table, as numpy arrays."""

    states: np.ndarray  # (T, 8) float32
    actions: np.ndarray  # (T, 7) float32
    rewards: np.ndarray  # (T,) float32
    dones: np.ndarray  # (T,) bool
    successes: np.ndarray  # (T,) bool
    instruction: str
    images: dict[str, np.ndarray] = field(default_factory=dict)  # camera -> (T, H, W, 3)

    @property
    def length(self) -> int:
        return int(self.actions.shape[0])


def _vectors(values: np.ndarray, width: int) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(values, dtype=np.float32).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, width)


class LeRobotWriter:
    """Write a LeRobotDataset v3 into ``root`` episode by episode; :meth:`finish` at the end."""

    def __init__(self, root: Path, *, fps: int, cameras: list[str],
                 image_shape: tuple[int, int] | None, robot_type: str | None,
                 video_codec: str = DEFAULT_VIDEO_CODEC) -> None:
        self.root = root
        self.fps = int(fps)
        self.cameras = list(cameras)
        self.image_shape = image_shape
        self.robot_type = robot_type
        self.video_codec = video_codec
        self.features = lerobot_features(self.cameras, image_shape)
        self.tasks: dict[str, int] = {}
        self.episode_rows: list[dict] = []
        self.n_frames = 0
        self._data = _RollingFiles(DATA_FILES_SIZE_IN_MB * _MB)
        self._data_writer: pq.ParquetWriter | None = None
        self._videos = {c: _RollingFiles(VIDEO_FILES_SIZE_IN_MB * _MB) for c in self.cameras}
        self._video_writers: dict[str, VideoFileWriter] = {}
        self._image_histograms: dict[str, np.ndarray] = {}  # camera -> (3, 256) counts

    # -- episodes -------------------------------------------------------------------------
    def add_episode(self, episode: _Episode) -> int:
        index = len(self.episode_rows)
        n = episode.length
        task_index = self.tasks.setdefault(episode.instruction, len(self.tasks))
        frame_index = np.arange(n, dtype=np.int64)
        table = pa.Table.from_arrays(
            [
                _vectors(episode.states, C.STATE_DIM),
                _vectors(episode.actions, C.ACTION_DIM),
                pa.array(episode.rewards.astype(np.float32)),
                pa.array(episode.dones.astype(bool)),
                pa.array(episode.successes.astype(bool)),
                pa.array((frame_index / self.fps).astype(np.float32)),
                pa.array(frame_index),
                pa.array(np.full(n, index, dtype=np.int64)),
                pa.array(self.n_frames + frame_index),
                pa.array(np.full(n, task_index, dtype=np.int64)),
            ],
            schema=DATA_SCHEMA,
        )
        row = {
            "episode_index": index,
            "tasks": [episode.instruction],
            "length": n,
            **self._write_data(table),
            "dataset_from_index": self.n_frames,
            "dataset_to_index": self.n_frames + n,
        }
        stats: dict[str, Stats] = {}
        for camera in self.cameras:
            key = CAMERA_FEATURES[camera]
            frames = episode.images[camera]
            row.update(self._write_video(camera, frames))
            histogram = image_histogram(frames)
            self._image_histograms[camera] = self._image_histograms.get(camera, 0) + histogram
            stats[key] = histogram_stats(histogram, n)
        stats.update(self._vector_stats(table))
        row["meta/episodes/chunk_index"] = 0
        row["meta/episodes/file_index"] = 0
        for feature, feature_stats in stats.items():
            for name, value in feature_stats.items():
                row[f"stats/{feature}/{name}"] = np.asarray(value).tolist()
        self.episode_rows.append(row)
        self.n_frames += n
        return index

    @staticmethod
    def _vector_stats(table: pa.Table) -> dict[str, Stats]:
        stats = {}
        for name in DATA_SCHEMA.names:
            column = table.column(name).combine_chunks()
            if pa.types.is_fixed_size_list(column.type):
                values = column.flatten().to_numpy().reshape(len(column), column.type.list_size)
            else:
                values = column.to_numpy(zero_copy_only=False).astype(np.float64)
            stats[name] = vector_stats(values)
        return stats

    def _write_data(self, table: pa.Table) -> dict[str, int]:
        if self._data.must_roll(table.nbytes):
            self._data_writer.close()
            self._data_writer = None
            self._data.roll()
        chunk_index, file_index = self._data.chunk_file
        if self._data_writer is None:
            path = self.root / DATA_PATH.format(chunk_index=chunk_index, file_index=file_index)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._data_writer = pq.ParquetWriter(path, DATA_SCHEMA, compression="snappy")
        self._data_writer.write_table(table)
        self._data.bytes_in_file += table.nbytes
        return {"data/chunk_index": chunk_index, "data/file_index": file_index}

    def _write_video(self, camera: str, frames: np.ndarray) -> dict:
        key = CAMERA_FEATURES[camera]
        files = self._videos[camera]
        writer = self._video_writers.get(camera)
        if writer is not None and files.must_roll(0):
            writer.close()
            writer = None
            files.roll()
        chunk_index, file_index = files.chunk_file
        if writer is None:
            path = self.root / VIDEO_PATH.format(
                video_key=key, chunk_index=chunk_index, file_index=file_index
            )
            height, width = frames.shape[1:3]
            writer = VideoFileWriter(path, fps=self.fps, height=height, width=width,
                                     codec=self.video_codec)
            self._video_writers[camera] = writer
        start = writer.n_frames / self.fps
        writer.append(frames)
        files.bytes_in_file = max(writer.bytes_written, 1)
        return {
            f"videos/{key}/chunk_index": chunk_index,
            f"videos/{key}/file_index": file_index,
            f"videos/{key}/from_timestamp": start,
            f"videos/{key}/to_timestamp": writer.n_frames / self.fps,
        }

    # -- metadata -------------------------------------------------------------------------
    def finish(self, source_manifest: dict | None = None) -> None:
        """Close the files and write meta/ (info, stats, tasks, episodes)."""
        if self._data_writer is not None:
            self._data_writer.close()
        for writer in self._video_writers.values():
            writer.close()
        meta = self.root / "meta"
        meta.mkdir(parents=True, exist_ok=True)
        self._write_tasks()
        episodes_path = self.root / EPISODES_PATH.format(chunk_index=0, file_index=0)
        episodes_path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(self.episode_rows), episodes_path, compression="snappy")
        # Exact over all frames: cameras from their summed pixel counts, everything else
        # read back from the data files.
        stats = {
            CAMERA_FEATURES[c]: histogram_stats(self._image_histograms[c], self.n_frames)
            for c in self.cameras
        }
        data_files = sorted((self.root / "data").glob("*/*.parquet"))
        stats.update(self._vector_stats(pa.concat_tables(pq.read_table(p) for p in data_files)))
        (self.root / STATS_PATH).write_text(json.dumps(stats_to_json(stats), indent=2) + "\n")
        for camera in self.cameras:
            key = CAMERA_FEATURES[camera]
            first = self.root / VIDEO_PATH.format(video_key=key, chunk_index=0, file_index=0)
            self.features[key]["info"] = video_stream_info(first)
        n_episodes = len(self.episode_rows)
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": n_episodes,
            "total_frames": self.n_frames,
            "total_tasks": len(self.tasks),
            "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": DATA_FILES_SIZE_IN_MB,
            "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB,
            "fps": self.fps,
            "splits": {"train": f"0:{n_episodes}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if self.cameras else None,
            "features": self.features,
        }
        (self.root / INFO_PATH).write_text(json.dumps(info, indent=4) + "\n")
        if source_manifest is not None:
            (self.root / SOURCE_MANIFEST_PATH).write_text(
                json.dumps({**source_manifest, "exported_by": f"diffrl-eval {__version__}"},
                           indent=2) + "\n"
            )

    def _write_tasks(self) -> None:
        """meta/tasks.parquet: column task_index, indexed by the task text.

        LeRobot reads this file with pandas and looks tasks up by the index, so the table
        carries the pandas metadata that makes ``task`` the index.
        """
        names = sorted(self.tasks, key=self.tasks.get)
        pandas_metadata = {
            "index_columns": ["task"],
            "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode",
                                "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
            "columns": [
                {"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
                 "numpy_type": "int64", "metadata": None},
                {"name": "task", "field_name": "task", "pandas_type": "unicode",
                 "numpy_type": "object", "metadata": None},
            ],
            "creator": {"library": "pyarrow", "version": pa.__version__},
            "pandas_version": "2.2.3",
        }
        schema = pa.schema([pa.field("task_index", pa.int64()), pa.field("task", pa.string())],
                           metadata={b"pandas": json.dumps(pandas_metadata).encode()})
        table = pa.Table.from_arrays(
            [pa.array([self.tasks[n] for n in names], pa.int64()), pa.array(names, pa.string())],
            schema=schema,
        )
        pq.write_table(table, self.root / TASKS_PATH)

    def abort(self) -> None:
        if self._data_writer is not None:
            try:
                self._data_writer.close()
            except Exception:  # noqa: BLE001 - best effort while cleaning up
                pass
        for writer in self._video_writers.values():
            writer.discard()


def _episodes_of(dataset: Dataset):
    """Yield (episode_index, rows) with rows in step order, episodes in index order."""
    frames = dataset.frames_df.sort([C.COL_EPISODE, C.COL_STEP])
    for rows in frames.partition_by(C.COL_EPISODE, maintain_order=True):
        yield int(rows[C.COL_EPISODE][0]), rows


def _episode_from_rows(rows: pl.DataFrame, images: dict[str, np.ndarray]) -> _Episode:
    return _Episode(
        states=rows[C.COL_STATE].to_numpy(),
        actions=rows[C.COL_ACTION].to_numpy(),
        rewards=rows[C.COL_REWARD].to_numpy(),
        dones=rows[C.COL_DONE].to_numpy(),
        successes=rows[C.COL_SUCCESS].to_numpy(),
        instruction=rows[C.COL_INSTRUCTION][0],
        images=images,
    )


def export_lerobot(dataset_path: Path, out: Path, *, overwrite: bool = False,
                   video_codec: str = DEFAULT_VIDEO_CODEC, show_progress: bool = True) -> Path:
    """Write the dataset at ``dataset_path`` as a LeRobotDataset v3 directory ``out``."""
    dataset = load_dataset(dataset_path)
    cameras = [c for c in CAMERA_FEATURES if c in dataset.cameras]
    images_meta = dataset.manifest.get("images") or {}
    image_shape = (int(images_meta["height"]), int(images_meta["width"])) if cameras else None
    if cameras:
        from diffrl_eval.export.video import check_video_codec, require_pyav

        require_pyav()
        check_video_codec(video_codec)
    n_episodes = int(dataset.frames_df[C.COL_EPISODE].n_unique())
    with StagedDirectory(out, sources=[Path(dataset_path)], overwrite=overwrite) as staged:
        writer = LeRobotWriter(staged.path, fps=dataset.control_hz, cameras=cameras,
                               image_shape=image_shape, robot_type=dataset.backend,
                               video_codec=video_codec)
        try:
            with progress_bar(transient=None if show_progress else True) as progress:
                bar = progress.add_task("export lerobot", total=n_episodes, status="",
                                        visible=show_progress)
                for episode_index, rows in _episodes_of(dataset):
                    images = dataset.images(episode_index) if cameras else {}
                    writer.add_episode(_episode_from_rows(rows, images))
                    progress.advance(bar)
            writer.finish(source_manifest=dataset.manifest)
        except BaseException:
            writer.abort()
            raise
        return staged.commit()
