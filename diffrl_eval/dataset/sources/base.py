"""The dataset-source contract: how a format on disk (or on the Hub) becomes episodes.

A source reads one format into :class:`SourceFrames`: a lazy frame table in the format's
own feature names, cut into episodes, plus what the format declares about itself (vector
widths, dimension names, frame rate) and, when the reader recognizes a known layout
(LIBERO, robomimic, this tool's), a :class:`Profile` saying what the features mean.
What the metrics need (end-effector position, control rate, action layout) is decided
from that by :mod:`diffrl_eval.dataset.sources.semantics`, never inside a reader.

Columns of ``SourceFrames.frames`` (one row per step, in (episode, step) order):
    episode_index i64, step_index i64, task_id str, instruction str,
    success bool (only when the format records it), timestamp f64 (only when recorded),
    and one column per vector feature (Array or List of numbers), named as the format
    names it; the commanded action is always the column ``action``.
"""

from __future__ import annotations

import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

if TYPE_CHECKING:
    from diffrl_eval.dataset.reader import Dataset

ACTION_FEATURE = "action"
TIMESTAMP = "timestamp"
DELTA = "delta"
ABSOLUTE = "absolute"
ACTION_KINDS = (DELTA, ABSOLUTE)


@dataclass(frozen=True)
class Profile:
    """A known layout a reader recognized, and what it implies for the metrics.

    ``control_hz`` is the rate the actions were issued at; ``reason`` says how the layout
    was recognized, ``control_hz_reason`` where the rate comes from.
    """

    name: str
    reason: str
    eef_key: str | None = None
    control_hz: float | None = None
    control_hz_reason: str | None = None
    gripper_index: int | None = None
    action_kind: str | None = None
    # features whose concatenation is this tool's 8-D proprio state (eef position,
    # axis-angle, gripper qpos), for layouts that hold one; empty otherwise
    state_keys: tuple[str, ...] = ()


@dataclass
class SourceFrames:
    """One dataset as a source read it (see the module docstring for the columns)."""

    location: str
    format: str  # the source's name and version, e.g. "lerobot v3.0"
    frames: pl.LazyFrame
    features: dict[str, int]  # vector feature -> width
    feature_names: dict[str, list[str]] = field(default_factory=dict)  # feature -> dim names
    declared_fps: float | None = None
    profile: Profile | None = None
    # descriptive fields of the metrics' dataset block (source, backend, suite, ...)
    info: dict[str, Any] = field(default_factory=dict)
    # this tool's own datasets keep their validated form, manifest included
    dataset: Dataset | None = None
    # the same frames in parts that each hold whole episodes, with their row counts (one per
    # data file), so that large datasets are measured part by part; None: one part
    parts: list[tuple[pl.LazyFrame, int]] | None = None
    # what must live as long as the lazy frames do (the folder of spilled parts)
    keepalive: Any = None

    @property
    def columns(self) -> list[str]:
        return self.frames.collect_schema().names()


SPILL_ROWS = 250_000  # rows per spilled part: ~0.1 GB in memory for LIBERO-like widths


class EpisodeSpill:
    """Whole episodes of a format polars cannot scan lazily (HDF5, TFRecord), gathered in
    memory and, once more than ``max_rows`` are held, written out as Parquet parts in a
    temporary folder, so that a large dataset is read with memory bounded by one part.

    ``add`` one episode's table at a time (every table of one spill has the same schema);
    ``frames()`` returns the lazy table and its parts. A dataset that never reaches
    ``max_rows`` stays in memory (no disk round trip).
    """

    def __init__(self, max_rows: int | None = None) -> None:
        self.max_rows = SPILL_ROWS if max_rows is None else max_rows
        self._pending: list[pl.DataFrame] = []
        self._pending_rows = 0
        self._parts: list[tuple[pl.LazyFrame, int]] = []
        self._folder: tempfile.TemporaryDirectory | None = None
        self.n_episodes = 0

    def add(self, table: pl.DataFrame) -> None:
        self._pending.append(table)
        self._pending_rows += table.height
        self.n_episodes += 1
        if self._pending_rows >= self.max_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="diffrl-eval-source-")
        path = Path(self._folder.name) / f"part-{len(self._parts):05d}.parquet"
        pl.concat(self._pending, how="vertical").write_parquet(path)
        self._parts.append((pl.scan_parquet(path), self._pending_rows))
        self._pending, self._pending_rows = [], 0

    def frames(self) -> tuple[pl.LazyFrame, list[tuple[pl.LazyFrame, int]] | None, Any]:
        """(the whole lazy table, its parts or None when held in memory, the keep-alive
        object for :attr:`SourceFrames.keepalive`)."""
        if not self._parts:
            return pl.concat(self._pending, how="vertical").lazy(), None, None
        self._flush()
        parts = self._parts
        return pl.concat([lazy for lazy, _ in parts], how="vertical"), parts, self._folder


class DatasetSource(ABC):
    """One dataset format. Subclasses are registered in ``registry.dataset_sources``.

    ``recognizes`` must be cheap (look at names and small metadata files only) and never
    raise for a location of another format; ``read`` validates and raises a one-line
    :class:`~diffrl_eval.errors.DatasetError` for a damaged dataset of its format.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def recognizes(cls, location: str) -> bool:
        """Whether ``location`` (a path or an id) looks like this format."""

    @classmethod
    @abstractmethod
    def read(cls, location: str) -> SourceFrames:
        """Read ``location`` into episodes (lazily where the format allows)."""
