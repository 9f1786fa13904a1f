"""The frame table as contiguous numpy arrays cut into episodes.

Every metric works on the same layout: rows sorted by (episode, step), one flat array per
column, and the offsets where each episode starts. Per-episode reductions are then single
``np.*.reduceat`` calls instead of Python loops.

Shapes (N = number of frames, E = number of episodes):
    starts, lengths, episode_index, task_id, instruction: (E,)
    episode_of_row, step_in_episode, success: (N,)
    actions_by_dim: (Da, N) float64 (Da = 7 in this tool's datasets; other formats'
    actions keep their width, the gripper command last), eef_pos_by_dim: (3, N) float64

Vectors are stored dimension-major (one contiguous row per dimension): every metric works
along time, and contiguous time series make the differences and gathers several times faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.errors import DatasetError

FrameTable = pl.DataFrame | pl.LazyFrame

_NEEDED_COLUMNS = (
    C.COL_EPISODE,
    C.COL_STEP,
    C.COL_TASK,
    C.COL_INSTRUCTION,
    C.COL_EEF_POS,
    C.COL_ACTION,
    C.COL_SUCCESS,
)


@dataclass(frozen=True)
class EpisodeSegments:
    """Frame columns as flat arrays plus the episode boundaries (see the module docstring)."""

    episode_index: np.ndarray
    task_id: np.ndarray  # (E,) object array of str
    instruction: np.ndarray  # (E,) object array of str
    starts: np.ndarray
    lengths: np.ndarray
    episode_of_row: np.ndarray
    step_in_episode: np.ndarray
    actions_by_dim: np.ndarray
    eef_pos_by_dim: np.ndarray
    success: np.ndarray

    @property
    def n_episodes(self) -> int:
        return int(self.starts.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.success.shape[0])

    @classmethod
    def of(cls, frames: FrameTable | EpisodeSegments) -> EpisodeSegments:
        """Accept either a frame table or an already built :class:`EpisodeSegments`."""
        if isinstance(frames, EpisodeSegments):
            return frames
        return cls.from_frames(frames)

    @classmethod
    def from_frames(cls, frames: FrameTable) -> EpisodeSegments:
        """Build the layout from a polars frame table (DataFrame or LazyFrame)."""
        if isinstance(frames, pl.LazyFrame):
            frames = frames.select(_NEEDED_COLUMNS).collect()
        missing = [c for c in _NEEDED_COLUMNS if c not in frames.columns]
        if missing:
            raise DatasetError(f"frame table lacks column(s) {', '.join(missing)}")
        frames = frames.select(_NEEDED_COLUMNS)
        episode = frames[C.COL_EPISODE].to_numpy()
        step = frames[C.COL_STEP].to_numpy()
        if not _is_sorted(episode, step):
            frames = frames.sort(C.COL_EPISODE, C.COL_STEP)
            episode = frames[C.COL_EPISODE].to_numpy()
            step = frames[C.COL_STEP].to_numpy()
        n = episode.shape[0]
        if n == 0:
            empty_int = np.zeros(0, dtype=np.int64)
            return cls(
                episode_index=empty_int,
                task_id=np.zeros(0, dtype=object),
                instruction=np.zeros(0, dtype=object),
                starts=empty_int,
                lengths=empty_int,
                episode_of_row=empty_int,
                step_in_episode=empty_int,
                actions_by_dim=np.zeros((C.ACTION_DIM, 0)),
                eef_pos_by_dim=np.zeros((C.EEF_POS_DIM, 0)),
                success=np.zeros(0, dtype=bool),
            )
        is_start = np.empty(n, dtype=bool)
        is_start[0] = True
        np.not_equal(episode[1:], episode[:-1], out=is_start[1:])
        starts = np.flatnonzero(is_start)
        lengths = np.diff(np.append(starts, n))
        episode_of_row = np.cumsum(is_start) - 1
        step_in_episode = np.arange(n) - starts[episode_of_row]
        if not np.array_equal(step, step_in_episode):
            bad = int(episode[np.flatnonzero(step != step_in_episode)[0]])
            raise DatasetError(
                f"episode {bad}: step_index must run 0, 1, 2, ... without gaps or repeats"
            )
        task_id = np.asarray(frames[C.COL_TASK].gather(starts).to_list(), dtype=object)
        instruction = np.asarray(frames[C.COL_INSTRUCTION].gather(starts).to_list(), dtype=object)
        return cls(
            episode_index=episode[starts].astype(np.int64),
            task_id=task_id,
            instruction=instruction,
            starts=starts,
            lengths=lengths,
            episode_of_row=episode_of_row,
            step_in_episode=step_in_episode,
            # float64: finite differences of float32 positions lose too many digits for jerk
            actions_by_dim=_by_dim(frames[C.COL_ACTION], _width(frames[C.COL_ACTION])),
            eef_pos_by_dim=_by_dim(frames[C.COL_EEF_POS], C.EEF_POS_DIM),
            success=frames[C.COL_SUCCESS].to_numpy().astype(bool, copy=False),
        )

    def per_episode_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of a per-row quantity within each episode: (N,) -> (E,)."""
        if self.n_episodes == 0:
            return np.zeros(0, dtype=values.dtype)
        return np.add.reduceat(values, self.starts)

    def per_row(self, values: np.ndarray) -> np.ndarray:
        """Broadcast a per-episode quantity to the episode's rows: (E,) -> (N,)."""
        return np.repeat(values, self.lengths)


def _is_sorted(episode: np.ndarray, step: np.ndarray) -> bool:
    if episode.shape[0] < 2:
        return True
    d_episode = np.diff(episode)
    if (d_episode < 0).any():
        return False
    return bool(((d_episode > 0) | (np.diff(step) > 0)).all())


def _width(series: pl.Series) -> int:
    """The width of a vector column (Array, or List whose rows share one length)."""
    if isinstance(series.dtype, pl.Array):
        return int(series.dtype.size)
    return int(series.list.len().max() or 0)


def _by_dim(series: pl.Series, width: int) -> np.ndarray:
    """A fixed-width vector column as a (width, N) float64 array."""
    values = np.asarray(series.to_numpy()).reshape(-1, width)
    return np.ascontiguousarray(values.T, dtype=np.float64)
