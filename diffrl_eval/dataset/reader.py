"""Load and validate a dataset directory.

Loading checks, in order, and stops at the first failure with a one-line
:class:`~diffrl_eval.errors.DatasetError`: the path, the manifest, the frame file, the
columns (missing and extra named), their types and vector widths, non-emptiness, finite
values, the initial simulator states when the manifest lists any, and the content hash
against the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.dataset.episode import Episode
from diffrl_eval.dataset.format import (
    FRAMES_NAME,
    IMAGES_DIR,
    INIT_SIM_STATES_NAME,
    MANIFEST_NAME,
    POLARS_DTYPES,
    VECTOR_COLUMNS,
    content_hash,
    episode_key,
    image_episode_name,
)
from diffrl_eval.dataset.manifest import check_agreement, check_manifest
from diffrl_eval.documents import DATASET_MANIFEST
from diffrl_eval.errors import DatasetError
from diffrl_eval.validation import JsonMessages, read_versioned_json

REQUIRED_MANIFEST_KEYS = ("schema_version", "source", "backend", "tasks", "content_hash")
_MANIFEST_MESSAGES = JsonMessages(
    missing=f"{{directory}}: not a dataset (no {MANIFEST_NAME})",
    unreadable="{path}",
    wrong_kind="{path}: must hold a JSON object",
    wrong_version="{path}: schema_version {found!r} is not supported (this version reads "
                  "{version})",
    missing_keys="{path}: missing key(s) {keys}")


@dataclass
class Dataset:
    """A validated dataset: its manifest and lazy access to frames and images."""

    path: Path
    manifest: dict[str, Any]

    def frames(self) -> pl.LazyFrame:
        """The frame table, one row per step (columns in :data:`constants.FRAME_COLUMNS`).

        Served from the validated, canonically typed table read at load time.
        """
        return self.frames_df.lazy()

    @cached_property
    def frames_df(self) -> pl.DataFrame:
        return validate_frames(pl.read_parquet(self.path / FRAMES_NAME), where=str(self.path))

    @property
    def source(self) -> str:
        return self.manifest["source"]

    @property
    def source_label(self) -> str:
        return self.manifest.get("source_label") or self.source

    @property
    def backend(self) -> str:
        return self.manifest["backend"]

    @property
    def suite(self) -> str | None:
        return self.manifest.get("suite")

    @property
    def control_hz(self) -> int:
        return int(self.manifest.get("control_hz") or C.DEFAULT_CONTROL_HZ)

    @property
    def content_hash(self) -> str:
        return self.manifest["content_hash"]

    @property
    def task_instructions(self) -> dict[str, str]:
        return {t["task_id"]: t["instruction"] for t in self.manifest["tasks"]}

    @property
    def cameras(self) -> list[str]:
        images = self.manifest.get("images") or {}
        return list(images.get("cameras") or [])

    def images(self, episode_index: int) -> dict[str, np.ndarray]:
        """Camera frames of one episode: name -> (T, H, W, 3) uint8 (empty if none)."""
        if not self.cameras:
            return {}
        path = self.path / IMAGES_DIR / image_episode_name(episode_index)
        if not path.exists():
            raise DatasetError(f"{self.path}: image file missing for episode {episode_index}")
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}

    @cached_property
    def init_sim_states(self) -> dict[int, np.ndarray]:
        """Episode index -> the flattened simulator state it started from, (D,) float64,
        for the episodes that record one (empty for most datasets)."""
        return read_init_sim_states(self.path, self.manifest)

    def init_sim_state(self, episode_index: int) -> np.ndarray | None:
        """The simulator state episode ``episode_index`` started from, (D,) float64, or None."""
        return self.init_sim_states.get(int(episode_index))

    def obs_after_action(self, episode_index: int) -> bool:
        """Whether the episode's observations were recorded after each action (LIBERO's
        demonstration files) rather than before it."""
        flags = self.manifest.get("episode_obs_after_action") or []
        return bool(flags[episode_index]) if episode_index < len(flags) else False

    def episode(self, episode_index: int, rows: pl.DataFrame) -> Episode:
        """Episode ``episode_index`` as an :class:`Episode`, from its step ``rows`` (in step
        order) and what the manifest records of its start: seed, fixed initial state,
        simulator state, and whether it observes after each action. Without images."""
        index = int(episode_index)
        seeds = self.manifest.get("episode_seeds") or []
        starts = self.manifest.get("episode_init_states") or []
        return Episode(
            task_id=rows[C.COL_TASK][0],
            instruction=rows[C.COL_INSTRUCTION][0],
            states=rows[C.COL_STATE].to_numpy(),
            eef_pos=rows[C.COL_EEF_POS].to_numpy(),
            actions=rows[C.COL_ACTION].to_numpy(),
            rewards=rows[C.COL_REWARD].to_numpy(),
            successes=rows[C.COL_SUCCESS].to_numpy(),
            seed=seeds[index] if index < len(seeds) else None,
            init_state_index=starts[index] if index < len(starts) else None,
            init_sim_state=self.init_sim_state(index),
            obs_after_action=self.obs_after_action(index),
        )


def _read_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path / MANIFEST_NAME
    manifest = read_versioned_json(manifest_path, DATASET_MANIFEST, _MANIFEST_MESSAGES,
                                   required=REQUIRED_MANIFEST_KEYS, error=DatasetError)
    check_manifest(manifest, manifest_path)
    return manifest


def read_init_sim_states(path: Path, manifest: dict[str, Any]) -> dict[int, np.ndarray]:
    """The initial simulator states the manifest lists, checked: episode index -> (D,)."""
    listed = manifest.get("init_sim_states")
    if not listed:
        return {}
    where = path / INIT_SIM_STATES_NAME
    try:
        episodes = [int(i) for i in listed["episodes"]]
    except (KeyError, TypeError, ValueError):
        raise DatasetError(f"{path / MANIFEST_NAME}: init_sim_states must list its episodes "
                           "as integers") from None
    if not where.is_file():
        raise DatasetError(f"{path}: {INIT_SIM_STATES_NAME} is missing (the manifest lists "
                           f"initial simulator states for {len(episodes)} episode(s))")
    try:
        with np.load(where, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{where}: unreadable ({exc})") from exc
    expected = {episode_key(i): i for i in episodes}
    if set(arrays) != set(expected):
        raise DatasetError(f"{where}: holds {len(arrays)} state(s), the manifest lists "
                           f"{len(expected)} episode(s) ({INIT_SIM_STATES_NAME} and manifest "
                           "disagree)")
    states = {}
    for name, index in expected.items():
        state = arrays[name]
        if state.ndim != 1 or state.size == 0 or not np.issubdtype(state.dtype, np.floating):
            raise DatasetError(f"{where}: {name} must be a (D,) float vector, found "
                               f"{state.dtype} {state.shape}")
        if not np.isfinite(state).all():
            raise DatasetError(f"{where}: {name} has NaN or inf")
        states[index] = state.astype(np.float64)
    return states


def _check_columns(frames: pl.DataFrame, where: str) -> None:
    columns = set(frames.columns)
    missing = [c for c in C.FRAME_COLUMNS if c not in columns]
    extra = sorted(columns - set(C.FRAME_COLUMNS))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected column(s) {', '.join(extra)}")
        raise DatasetError(f"{where}: {'; '.join(parts)}")


def _vector_column(series: pl.Series, width: int, where: str) -> pl.Series:
    """A fixed-width float32 vector column from an Array or List of numbers of ``width``."""
    dtype = series.dtype
    name = series.name
    expected = f"{where}: column {name!r} must be {width}-D float vectors"
    if isinstance(dtype, pl.Array):
        actual_width = getattr(dtype, "size", None) or getattr(dtype, "width", None)
        if actual_width != width:
            raise DatasetError(f"{expected}, found {actual_width}-D ({dtype})")
        inner = dtype.inner
    elif isinstance(dtype, pl.List):
        lengths = series.list.len()
        wrong = lengths.filter(lengths != width)
        if len(wrong) or series.null_count():
            found = sorted(set(wrong.drop_nulls().to_list()))[:3]
            raise DatasetError(f"{expected}, found rows of length {found or 'null'}")
        inner = dtype.inner
    else:
        raise DatasetError(f"{expected}, found {dtype}")
    if not inner.is_numeric():
        raise DatasetError(f"{expected}, found elements of type {inner}")
    return series.cast(pl.Array(pl.Float32, width))


def coerce_frames(frames: pl.DataFrame, where: str = "frames") -> pl.DataFrame:
    """The frame table in the canonical column order and types.

    Tables written by other tools are accepted when their values fit: integer indices of
    any width, float64 numbers, variable-length lists holding exactly the right number of
    elements, 0/1 flags. Anything else is a :class:`DatasetError` naming the column.
    """
    _check_columns(frames, where)
    columns = []
    for name, dtype in POLARS_DTYPES.items():
        series = frames[name]
        actual = series.dtype
        if name in VECTOR_COLUMNS:
            columns.append(_vector_column(series, VECTOR_COLUMNS[name], where))
            continue
        if dtype == pl.String:
            ok = actual in (pl.String, pl.Categorical) or isinstance(actual, pl.Enum)
        elif dtype == pl.Int64:
            ok = actual.is_integer()
        elif dtype == pl.Boolean:
            ok = actual == pl.Boolean or (
                actual.is_integer() and series.drop_nulls().is_in([0, 1]).all()
            )
        else:
            ok = actual.is_numeric()
        if not ok:
            raise DatasetError(f"{where}: column {name!r} must be {dtype}, found {actual}")
        columns.append(series.cast(dtype))
    return pl.DataFrame(columns)


def validate_frames(frames: pl.DataFrame, where: str = "frames") -> pl.DataFrame:
    """Check columns, types, widths, emptiness and finiteness; return the canonical table."""
    frames = coerce_frames(frames, where)
    if frames.height == 0:
        raise DatasetError(f"{where}: the dataset is empty (no frames)")
    if frames.null_count().sum_horizontal().item() > 0:
        raise DatasetError(f"{where}: null values present")
    for name in (*VECTOR_COLUMNS, C.COL_REWARD):
        values = frames[name].to_numpy()
        if not np.isfinite(values).all():
            bad = int((~np.isfinite(values.reshape(values.shape[0], -1))).any(axis=1).sum())
            raise DatasetError(f"{where}: column {name!r} has NaN or inf in {bad} row(s)")
    return frames


def load_dataset(path: str | Path, *, verify_hash: bool = True) -> Dataset:
    """Open and validate the dataset at ``path``."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"dataset not found: {path}")
    if not path.is_dir():
        raise DatasetError(f"{path}: a dataset is a directory, this is a file")
    manifest = _read_manifest(path)
    frames_path = path / FRAMES_NAME
    if not frames_path.is_file():
        raise DatasetError(f"{path}: frame file {FRAMES_NAME} is missing")
    try:
        frames = pl.read_parquet(frames_path)
    except Exception as exc:  # noqa: BLE001 - polars raises many kinds for a broken file
        raise DatasetError(f"{frames_path}: unreadable Parquet ({type(exc).__name__})") from exc
    frames = validate_frames(frames, where=str(path))
    check_agreement(manifest, frames, path)
    init_sim_states = read_init_sim_states(path, manifest)
    if verify_hash:
        actual = content_hash(frames, init_sim_states)
        if actual != manifest["content_hash"]:
            raise DatasetError(
                f"{path}: content hash mismatch (manifest {manifest['content_hash'][:19]}..., "
                f"content {actual[:19]}...): the frames"
                f"{' or initial simulator states' if init_sim_states else ''} were modified or "
                "the manifest is stale"
            )
    dataset = Dataset(path=path, manifest=manifest)
    dataset.__dict__["frames_df"] = frames  # already read: keep it
    dataset.__dict__["init_sim_states"] = init_sim_states
    return dataset
