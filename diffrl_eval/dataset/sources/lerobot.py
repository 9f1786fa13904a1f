"""LeRobotDataset directories, codebase versions v2.0, v2.1 and v3.0 (tables only).

Layouts (paths relative to the dataset root), as LeRobot's ``datasets/utils.py`` and its
v2.1 -> v3.0 conversion script define them::

    v3.0  meta/info.json                       codebase_version, fps, features, data_path
          meta/tasks.parquet                   task_index, task (the instruction)
          meta/episodes/chunk-CCC/file-FFF.parquet
                                               episode_index, length, tasks,
                                               data/chunk_index, data/file_index, ...
          data/chunk-CCC/file-FFF.parquet      many episodes per file
    v2.x  meta/info.json                       as above; data_path has {episode_chunk}
          meta/episodes.jsonl                  {"episode_index", "tasks", "length"}
          meta/tasks.jsonl                     {"task_index", "task"}
          data/chunk-CCC/episode_EEEEEE.parquet
                                               one episode per file

Every frame row holds ``episode_index``, ``frame_index``, ``timestamp``, ``task_index``,
``index`` and one column per non-video feature. Videos are never read: the metrics need
the tables only. Frames are scanned lazily (polars), so only the columns a measurement
uses are ever loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from diffrl_eval import constants as C
from diffrl_eval.dataset.sources.base import (
    DELTA,
    TIMESTAMP,
    DatasetSource,
    Profile,
    SourceFrames,
)
from diffrl_eval.dataset.sources.native import native_profile
from diffrl_eval.documents import JSON_OBJECT, DocumentKind
from diffrl_eval.errors import DatasetError
from diffrl_eval.registry import dataset_sources
from diffrl_eval.validation import JsonMessages, read_versioned_json

LEROBOT_FORMAT = "lerobot"
INFO_PATH = "meta/info.json"
TASKS_PARQUET = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
LEGACY_EPISODES = "meta/episodes.jsonl"
LEGACY_TASKS = "meta/tasks.jsonl"
# written beside LeRobot's metadata by this tool's exporter (diffrl_eval.export.lerobot)
EXPORT_MANIFEST = "meta/diffrl_eval_manifest.json"
SUPPORTED_VERSIONS = ("v2.0", "v2.1", "v3.0")
# meta/info.json: LeRobot's own document (no kind), versioned by its codebase
INFO_DOCUMENT = DocumentKind(None, SUPPORTED_VERSIONS[-1], version_key="codebase_version",
                             readable=SUPPORTED_VERSIONS)
_INFO_MESSAGES = JsonMessages(
    missing="{path}: missing (a LeRobot dataset describes itself there)",
    unreadable="{path}:",
    wrong_kind="{path}: must hold a JSON object",
    wrong_version="{path}: codebase_version {found!r} is not supported (readable: {versions})",
    missing_keys="")
_MANIFEST_MESSAGES = JsonMessages(missing="{path}: missing", unreadable="{path}:",
                                  wrong_kind="{path}: must hold a JSON object",
                                  wrong_version="", missing_keys="")

EPISODE_INDEX = "episode_index"
FRAME_INDEX = "frame_index"
TASK_INDEX = "task_index"
INDEX = "index"
NEXT_SUCCESS = "next.success"
STATE = "observation.state"
_BOOKKEEPING = {EPISODE_INDEX, FRAME_INDEX, TASK_INDEX, INDEX, TIMESTAMP}
_FLOAT_DTYPES = {"float32", "float64", "float16"}

# LIBERO: robosuite's OSC controller at control_freq 20; the Hub's LIBERO conversions
# declare fps 10 although every controller step is a row.
LIBERO_CONTROL_HZ = 20.0
LIBERO_STATE_DIM = C.STATE_DIM  # eef position (3), axis-angle (3), gripper qpos (2)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DatasetError(f"{path}: missing (a LeRobot v2.x dataset lists its episodes and tasks there)")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: line {number} is not JSON ({exc.msg})") from None
    return rows


def read_info(root: Path) -> dict[str, Any]:
    """``meta/info.json``, checked for the fields the reader relies on."""
    where = root / INFO_PATH
    info = read_versioned_json(where, INFO_DOCUMENT, _INFO_MESSAGES, error=DatasetError)
    fps = info.get("fps")
    if not isinstance(fps, (int, float)) or fps <= 0:
        raise DatasetError(f"{where}: fps must be a positive number, found {fps!r}")
    features = info.get("features")
    if not isinstance(features, dict) or "action" not in features:
        raise DatasetError(f"{where}: features must be an object with an 'action' feature")
    if not isinstance(info.get("data_path"), str):
        raise DatasetError(f"{where}: data_path (the data file template) is missing")
    return info


def vector_features(features: dict[str, Any]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Numeric 1-D features (videos, images and bookkeeping left out): widths and names."""
    widths: dict[str, int] = {}
    names: dict[str, list[str]] = {}
    for key, spec in features.items():
        if key in _BOOKKEEPING or not isinstance(spec, dict):
            continue
        shape = spec.get("shape")
        if spec.get("dtype") not in _FLOAT_DTYPES or not isinstance(shape, list) or len(shape) != 1:
            continue
        widths[key] = int(shape[0])
        declared = spec.get("names")
        if isinstance(declared, dict):  # {"motors": [...]} in many Hub datasets
            declared = next((v for v in declared.values() if isinstance(v, list)), None)
        if isinstance(declared, list) and len(declared) == widths[key]:
            names[key] = [str(n) for n in declared]
    return widths, names


def _data_files_v3(root: Path, info: dict[str, Any]) -> list[Path]:
    episode_files = sorted((root / EPISODES_DIR).glob("chunk-*/file-*.parquet"))
    if not episode_files:
        raise DatasetError(f"{root}: no {EPISODES_DIR}/chunk-*/file-*.parquet (LeRobot v3.0 "
                           "lists its episodes there)")
    episodes = pl.scan_parquet(episode_files).select(
        EPISODE_INDEX, "data/chunk_index", "data/file_index"
    ).collect()
    total = info.get("total_episodes")
    if isinstance(total, int) and total != episodes.height:
        raise DatasetError(f"{root / INFO_PATH}: total_episodes is {total}, but "
                           f"{EPISODES_DIR} lists {episodes.height} episode(s)")
    pairs = episodes.select("data/chunk_index", "data/file_index").unique().sort(
        "data/chunk_index", "data/file_index"
    )
    files = []
    for chunk, file in pairs.iter_rows():
        path = root / info["data_path"].format(chunk_index=chunk, file_index=file)
        if not path.is_file():
            raise DatasetError(f"{root}: data file {path.relative_to(root)} is missing "
                               f"({EPISODES_DIR} lists episodes in it)")
        files.append(path)
    return files


def _tasks_v3(root: Path) -> dict[int, str]:
    path = root / TASKS_PARQUET
    if not path.is_file():
        raise DatasetError(f"{root}: {TASKS_PARQUET} is missing")
    table = pl.read_parquet(path)
    # pandas writes the task strings as its index: a column "task" (or an unnamed index)
    text = "task" if "task" in table.columns else next(
        (c for c in table.columns if table[c].dtype == pl.String), None)
    if text is None or TASK_INDEX not in table.columns:
        raise DatasetError(f"{path}: expected columns task_index and task, found "
                           f"{', '.join(table.columns)}")
    return dict(zip(table[TASK_INDEX].to_list(), table[text].to_list()))


def _legacy_tables(root: Path, info: dict[str, Any]) -> tuple[list[Path], dict[int, str]]:
    episodes = _read_jsonl(root / LEGACY_EPISODES)
    try:
        tasks = {int(row["task_index"]): str(row["task"]) for row in _read_jsonl(root / LEGACY_TASKS)}
        indices = sorted(int(row[EPISODE_INDEX]) for row in episodes)
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{root}: {LEGACY_TASKS} rows need task_index and task, "
                           f"{LEGACY_EPISODES} rows episode_index ({type(exc).__name__}: {exc})") from None
    total = info.get("total_episodes")
    if isinstance(total, int) and total != len(episodes):
        raise DatasetError(f"{root / INFO_PATH}: total_episodes is {total}, but "
                           f"{LEGACY_EPISODES} lists {len(episodes)} episode(s)")
    chunks_size = int(info.get("chunks_size") or 1000)
    files = []
    for index in indices:
        path = root / info["data_path"].format(episode_chunk=index // chunks_size,
                                               episode_index=index)
        if not path.is_file():
            raise DatasetError(f"{root}: data file {path.relative_to(root)} of episode "
                               f"{index} is missing")
        files.append(path)
    return files, tasks


def _parquet_metadata(path: Path):
    try:
        return pq.read_metadata(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DatasetError(f"{path}: unreadable Parquet ({type(exc).__name__})") from None


def _check_frames(root: Path, info: dict[str, Any], files: list[Path], widths: dict[str, int]) -> None:
    """info.json against the data files' own metadata (no frame is read)."""
    schema = _parquet_metadata(files[0]).schema.to_arrow_schema()
    missing = [k for k in (EPISODE_INDEX, FRAME_INDEX, TASK_INDEX, *widths) if k not in schema.names]
    if missing:
        raise DatasetError(f"{files[0]}: lacks column(s) {', '.join(missing)} that "
                           f"{INFO_PATH} declares")
    for key, width in widths.items():
        kind = schema.field(key).type
        if pa.types.is_fixed_size_list(kind) and kind.list_size != width:
            raise DatasetError(f"{root / INFO_PATH}: feature {key} is declared {width} wide, "
                               f"the data files hold {kind.list_size}")
    total = info.get("total_frames")
    rows = sum(_parquet_metadata(f).num_rows for f in files)
    if isinstance(total, int) and total != rows:
        raise DatasetError(f"{root / INFO_PATH}: total_frames is {total}, but the data "
                           f"files hold {rows} row(s)")


def _profile(root: Path, widths: dict[str, int], fps: float) -> tuple[Profile | None, dict[str, Any], dict[str, str]]:
    """A known layout (this tool's export, LIBERO) with the info it brings along."""
    manifest_path = root / EXPORT_MANIFEST
    if manifest_path.is_file():
        manifest = read_versioned_json(manifest_path, JSON_OBJECT, _MANIFEST_MESSAGES,
                                       error=DatasetError)
        hz = float(manifest.get("control_hz") or fps)
        profile = native_profile(hz, f"{EXPORT_MANIFEST} written by this tool's exporter")
        profile = Profile(**{**profile.__dict__, "eef_key": f"{STATE}[0:3]", "state_keys": (STATE,)})
        info = {k: manifest.get(k) for k in ("source", "source_label", "backend", "suite",
                                              "content_hash", "tool_version")}
        instruction_to_task = {t["instruction"]: t["task_id"] for t in manifest.get("tasks") or []}
        return profile, info, instruction_to_task
    profile = libero_profile(STATE, widths, f"info.json declares fps {fps:g}")
    return profile, ({"backend": "libero"} if profile else {}), {}


def libero_profile(state: str, widths: dict[str, int], declared: str) -> Profile | None:
    """LIBERO's layout when ``state`` is 8-D and the action 7-D (LeRobot's and OpenVLA's
    conversions of LIBERO keep it); ``declared`` says what rate the format claims."""
    if widths.get(state) != LIBERO_STATE_DIM or widths.get("action") != C.ACTION_DIM:
        return None
    return Profile(
        name="libero",
        reason=f"{state} is {LIBERO_STATE_DIM}-D and action {C.ACTION_DIM}-D: LIBERO's "
               "proprioception (eef position, axis-angle, gripper) and delta-pose actions",
        eef_key=f"{state}[0:3]",
        control_hz=LIBERO_CONTROL_HZ,
        control_hz_reason=f"LIBERO's controller runs at {LIBERO_CONTROL_HZ:g} Hz and every "
                          f"controller step is a row; {declared}",
        gripper_index=C.GRIPPER_ACTION_INDEX,
        action_kind=DELTA,
        state_keys=(state,),
    )


def read_lerobot(root: Path, location: str | None = None) -> SourceFrames:
    """A LeRobot dataset directory as episodes (see the module docstring)."""
    info = read_info(root)
    version = info["codebase_version"]
    if version == "v3.0":
        files = _data_files_v3(root, info)
        tasks = _tasks_v3(root)
    else:
        files, tasks = _legacy_tables(root, info)
    if not files:
        raise DatasetError(f"{root}: the dataset lists no episodes")
    widths, names = vector_features(info["features"])
    _check_frames(root, info, files, widths)
    fps = float(info["fps"])
    profile, extra, instruction_to_task = _profile(root, widths, fps)
    schema = _parquet_metadata(files[0]).schema.to_arrow_schema().names
    task_table = pl.DataFrame(
        {TASK_INDEX: list(tasks), C.COL_INSTRUCTION: list(tasks.values())},
        schema={TASK_INDEX: pl.Int64, C.COL_INSTRUCTION: pl.String},
    ).with_columns(
        pl.col(C.COL_INSTRUCTION).replace(instruction_to_task).alias(C.COL_TASK)
    )
    columns = [
        pl.col(EPISODE_INDEX).cast(pl.Int64).alias(C.COL_EPISODE),
        pl.col(FRAME_INDEX).cast(pl.Int64).alias(C.COL_STEP),
        pl.col(TASK_INDEX).cast(pl.Int64),
        *[pl.col(k) for k in widths],
    ]
    if TIMESTAMP in schema:
        columns.append(pl.col(TIMESTAMP).cast(pl.Float64))
    if NEXT_SUCCESS in schema:
        columns.append(pl.col(NEXT_SUCCESS).cast(pl.Boolean).alias(C.COL_SUCCESS))

    def scan(paths: list[Path]) -> pl.LazyFrame:
        return (
            pl.scan_parquet(paths)
            .select(columns)
            .join(task_table.lazy(), on=TASK_INDEX, how="left", maintain_order="left")
            .drop(TASK_INDEX)
        )

    # an episode never spans two data files (LeRobot starts a new file between episodes)
    parts = [(scan([path]), _parquet_metadata(path).num_rows) for path in files]
    return SourceFrames(
        location=location or str(root),
        format=f"{LEROBOT_FORMAT} {version}",
        frames=scan(files),
        features=widths,
        feature_names=names,
        declared_fps=fps,
        profile=profile,
        info={"path": location or str(root), **{k: v for k, v in extra.items() if v is not None}},
        parts=parts,
    )


@dataset_sources.register(LEROBOT_FORMAT)
class LeRobotSource(DatasetSource):
    """LeRobotDataset directory, v2.0/v2.1 (episode files) or v3.0 (chunked files)."""

    @classmethod
    def recognizes(cls, location: str) -> bool:
        return (Path(location) / INFO_PATH).is_file()

    @classmethod
    def read(cls, location: str) -> SourceFrames:
        return read_lerobot(Path(location))
