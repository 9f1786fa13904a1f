"""Data-quality checks beside the paper's metrics: what makes a recorded dataset suspect.

Pure functions of the measurement frame table (see
:func:`diffrl_eval.dataset.sources.semantics.measurement_frames`); each states its
threshold in the results, so a reader knows what was counted.

- **non-finite values**: rows whose action or end-effector position holds NaN or inf.
- **zero-variance dimensions**: action dims constant over the whole dataset.
- **clipped dimensions**: action dims with more than ``CLIP_FRACTION`` of their values
  repeating the dim's minimum or maximum (dims with at most two distinct values, binary gripper
  commands, are not counted: they sit at their extremes by design).
- **action jumps**: steps where some action dim changes by more than ``JUMP_SCALE`` times
  its typical change (1.4826 × the median absolute step change, a robust standard
  deviation) and by more than ``JUMP_FLOOR`` of the dim's range; binary dims (open/close
  gripper commands) are left out.
- **idle spans** (velocity-based, for absolute actions too): runs of at least
  ``IDLE_MIN_SECONDS`` where the end-effector speed stays below ``IDLE_SPEED`` m/s (without
  an end-effector: the action's rate of change below ``IDLE_ACTION_RATE`` of its range per
  second). OpenVLA's no-op rule, for delta actions, is the ``no_op_count`` metric.
- **timestamps**: per episode, non-increasing timestamps and gaps longer than
  ``DROP_FACTOR`` frame periods (dropped frames), when the format records timestamps.
- **near-duplicate episodes**: pairs of episodes of one task whose actions, resampled to
  ``DUPLICATE_POINTS`` samples, differ by an RMS below ``DUPLICATE_RMS`` of the action range.
- **per-episode flags**: each episode with one of the above, with its reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.metrics.action_variance import resample_actions
from diffrl_eval.metrics.segments import EpisodeSegments

CLIP_FRACTION = 0.05
JUMP_SCALE = 10.0
JUMP_FLOOR = 0.1
ROBUST_STD = 1.4826  # median absolute deviation -> standard deviation for a normal law
IDLE_SPEED = 0.005  # m/s
IDLE_ACTION_RATE = 0.01  # of the action range per second
IDLE_MIN_SECONDS = 0.5
DROP_FACTOR = 1.5
DUPLICATE_POINTS = 32
DUPLICATE_RMS = 1e-3


def _ranges(values: np.ndarray) -> np.ndarray:
    """Per-dim range of a (D, N) array, ignoring non-finite values; 1 where it is 0."""
    finite = np.where(np.isfinite(values), values, np.nan)
    span = np.nanmax(finite, axis=1) - np.nanmin(finite, axis=1)
    return np.where(np.isfinite(span) & (span > 0), span, 1.0)


def non_finite_rows(segments: EpisodeSegments, has_eef: bool) -> np.ndarray:
    """(N,) bool: the action (or the end-effector, when there is one) has NaN or inf."""
    bad = ~np.isfinite(segments.actions_by_dim).all(axis=0)
    if has_eef:
        bad |= ~np.isfinite(segments.eef_pos_by_dim).all(axis=0)
    return bad


@dataclass
class DimensionStats:
    """Mergeable per-dim statistics of the actions: extremes, how often each is hit, and
    up to three distinct values (enough to tell binary dims apart)."""

    low: np.ndarray
    high: np.ndarray
    at_low: np.ndarray
    at_high: np.ndarray
    count: np.ndarray
    distinct: list[set[float]]

    @classmethod
    def of(cls, actions: np.ndarray) -> DimensionStats:
        """Statistics of a (Da, N) array (non-finite values left out)."""
        finite = np.isfinite(actions)
        low = np.where(finite, actions, np.inf).min(axis=1)
        high = np.where(finite, actions, -np.inf).max(axis=1)
        distinct = [set(np.unique(values[np.isfinite(values)])[:3].tolist()) for values in actions]
        return cls(low, high, (actions == low[:, None]).sum(axis=1),
                   (actions == high[:, None]).sum(axis=1), finite.sum(axis=1), distinct)

    def merge(self, other: DimensionStats) -> DimensionStats:
        low, high = np.minimum(self.low, other.low), np.maximum(self.high, other.high)
        at_low = np.where(self.low == low, self.at_low, 0) + np.where(other.low == low, other.at_low, 0)
        at_high = np.where(self.high == high, self.at_high, 0) + np.where(other.high == high, other.at_high, 0)
        distinct = [set(sorted(a | b)[:3]) for a, b in zip(self.distinct, other.distinct)]
        return DimensionStats(low, high, at_low, at_high, self.count + other.count, distinct)

    @property
    def ranges(self) -> np.ndarray:
        """Per-dim range, 1 where it is 0 or undefined (a scale to divide by)."""
        span = self.high - self.low
        return np.where(np.isfinite(span) & (span > 0), span, 1.0)


def dimension_checks(actions: np.ndarray | DimensionStats) -> dict[str, Any]:
    """Zero-variance and clipped action dims of a (Da, N) array (or of its statistics)."""
    stats = actions if isinstance(actions, DimensionStats) else DimensionStats.of(actions)
    zero_variance, clipped = [], {}
    for dim in range(stats.low.shape[0]):
        if stats.count[dim] == 0 or stats.low[dim] == stats.high[dim]:
            zero_variance.append(dim)
            continue
        if len(stats.distinct[dim]) <= 2:
            continue
        # the row that sets each extreme does not count: clipping repeats the extreme
        at_edge = float((stats.at_low[dim] + stats.at_high[dim] - 2) / stats.count[dim])
        if at_edge > CLIP_FRACTION:
            clipped[str(dim)] = at_edge
    return {"zero_variance_dims": zero_variance, "clipped_dims": clipped,
            "clip_fraction_threshold": CLIP_FRACTION}


def action_jump_rows(segments: EpisodeSegments) -> np.ndarray:
    """(N,) bool: the step into this row is a jump (see the module docstring)."""
    actions = segments.actions_by_dim
    change = np.abs(np.diff(actions, axis=1, prepend=actions[:, :1]))  # (Da, N)
    change[:, segments.step_in_episode == 0] = 0.0  # no step into an episode's first row
    inside = change[:, segments.step_in_episode > 0]
    typical = ROBUST_STD * np.median(inside, axis=1) if inside.size else np.zeros(len(actions))
    floor = JUMP_FLOOR * _ranges(actions)
    limit = np.maximum(JUMP_SCALE * typical, floor)
    # a binary dim (an open/close gripper command) changes only by jumping: not a fault
    binary = np.array([np.unique(values[np.isfinite(values)]).size <= 2 for values in actions])
    limit[binary] = np.inf
    with np.errstate(invalid="ignore"):
        return (change > limit[:, None]).any(axis=0)


def idle_rows(segments: EpisodeSegments, control_hz: float, has_eef: bool) -> tuple[np.ndarray, str]:
    """(N,) bool: the row belongs to an idle span; and the rule that was applied."""
    signal = segments.eef_pos_by_dim if has_eef else segments.actions_by_dim
    step = np.diff(signal, axis=1, prepend=signal[:, :1])
    if has_eef:
        rate = np.sqrt((step**2).sum(axis=0)) * control_hz
        slow = rate < IDLE_SPEED
        rule = f"end-effector speed < {IDLE_SPEED} m/s"
    else:
        rate = (np.abs(step) / _ranges(signal)[:, None]).max(axis=0) * control_hz
        slow = rate < IDLE_ACTION_RATE
        rule = f"every action dim changes < {IDLE_ACTION_RATE:.0%} of its range per second"
    slow[segments.step_in_episode == 0] = False
    min_steps = max(2, int(np.ceil(IDLE_MIN_SECONDS * control_hz)))
    # run lengths of consecutive slow rows: a run id changes whenever slow does
    run_id = np.cumsum(np.concatenate([[True], slow[1:] != slow[:-1]]))
    run_length = np.bincount(run_id)[run_id]
    return slow & (run_length >= min_steps), f"{rule} for >= {min_steps} steps ({IDLE_MIN_SECONDS} s)"


def timestamp_problems(frames: pl.DataFrame, fps: float | None) -> pl.DataFrame | None:
    """Per episode: non-increasing timestamps and dropped frames (None without timestamps)."""
    if "timestamp" not in frames.columns:
        return None
    gap = pl.col("timestamp").diff().over(C.COL_EPISODE)
    checks = [(gap <= 0).sum().alias("non_increasing")]
    if fps:
        checks.append((gap > DROP_FACTOR / fps).sum().alias("dropped"))
    return frames.group_by(C.COL_EPISODE, maintain_order=True).agg(checks)


def near_duplicate_pairs(episode_index: np.ndarray, paths: np.ndarray,
                         scale: np.ndarray) -> list[tuple[int, int, float]]:
    """(episode_index, episode_index, rms) of the pairs among one task's resampled action
    paths (K, P, Da), each dim divided by ``scale`` (Da,), that nearly coincide."""
    from scipy.spatial.distance import pdist

    if paths.shape[0] < 2:
        return []
    flat = (paths / scale).reshape(paths.shape[0], -1)
    rms = pdist(flat) / np.sqrt(flat.shape[1])
    first, second = np.triu_indices(paths.shape[0], k=1)
    return [(int(episode_index[first[i]]), int(episode_index[second[i]]), float(rms[i]))
            for i in np.flatnonzero(rms < DUPLICATE_RMS)]


class QualityAccumulator:
    """The quality block built batch by batch: each batch holds whole episodes, and only
    per-episode results, mergeable statistics and resampled paths are kept, so memory grows
    with the number of episodes, not of frames. Action jumps are judged against the typical
    change and range of their batch (the whole dataset when it fits one batch)."""

    def __init__(self, semantics, declared_fps: float | None = None) -> None:
        from diffrl_eval.metrics.diversity import DiversityAccumulator

        self.has_eef = semantics.eef is not None
        self.hz = semantics.control_hz
        self.fps = declared_fps
        self.reasons: dict[int, list[str]] = {}
        self.counts = {"non_finite": 0, "jumps": 0, "idle": 0, "steps": 0}
        self.idle_rule = ""
        self.dims: DimensionStats | None = None
        self.stamps: dict[str, int] | None = None
        self.paths: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.diversity = DiversityAccumulator(self.has_eef)

    def _flag(self, segments: EpisodeSegments, rows: np.ndarray, text: str) -> int:
        counts = segments.per_episode_sum(rows.astype(np.int64))
        for position in np.flatnonzero(counts):
            self.reasons.setdefault(int(segments.episode_index[position]), []).append(
                f"{int(counts[position])} {text}")
        return int(rows.sum())

    def add(self, frames: pl.DataFrame, segments: EpisodeSegments | None = None) -> None:
        """One batch of measurement frames (whole episodes)."""
        segments = segments or EpisodeSegments.from_frames(frames)
        self.counts["non_finite"] += self._flag(
            segments, non_finite_rows(segments, self.has_eef), "row(s) with NaN or inf")
        self.counts["jumps"] += self._flag(segments, action_jump_rows(segments), "action jump(s)")
        idle, self.idle_rule = idle_rows(segments, self.hz, self.has_eef)
        self.counts["idle"] += int(idle.sum())
        self.counts["steps"] += segments.n_frames
        idle_fraction = segments.per_episode_sum(idle.astype(np.int64)) / segments.lengths
        for position in np.flatnonzero(idle_fraction > 0.5):
            self.reasons.setdefault(int(segments.episode_index[position]), []).append(
                f"idle {idle_fraction[position]:.0%} of the episode")
        for position in np.flatnonzero(segments.lengths < 4):
            self.reasons.setdefault(int(segments.episode_index[position]), []).append(
                f"only {int(segments.lengths[position])} step(s)")
        stats = DimensionStats.of(segments.actions_by_dim)
        self.dims = stats if self.dims is None else self.dims.merge(stats)
        self._add_timestamps(frames)
        for task in dict.fromkeys(segments.task_id.tolist()):
            members = np.flatnonzero(segments.task_id == task)
            self.paths.setdefault(task, []).append(
                (segments.episode_index[members],
                 resample_actions(segments, members, DUPLICATE_POINTS)))
        self.diversity.add(segments)

    def _add_timestamps(self, frames: pl.DataFrame) -> None:
        stamps = timestamp_problems(frames, self.fps)
        if stamps is None:
            return
        totals = self.stamps or {}
        for row in stamps.iter_rows(named=True):
            for key, text in (("non_increasing", "non-increasing timestamp(s)"),
                              ("dropped", "dropped frame gap(s)")):
                if key in row:
                    totals[key] = totals.get(key, 0) + int(row[key])
                if row.get(key):
                    self.reasons.setdefault(int(row[C.COL_EPISODE]), []).append(f"{row[key]} {text}")
        self.stamps = totals

    def result(self) -> dict[str, Any]:
        """The ``quality`` block of the metrics JSON (see the module docstring)."""
        steps = max(self.counts["steps"], 1)
        result: dict[str, Any] = {
            "non_finite_rows": self.counts["non_finite"],
            **dimension_checks(self.dims),
            "action_jumps": {"count": self.counts["jumps"],
                             "rule": f"|Δa| > max({JUMP_SCALE:g} × robust std of the dim's "
                                     f"step change, {JUMP_FLOOR:g} × its range)"},
            "idle": {"steps": self.counts["idle"], "fraction": self.counts["idle"] / steps,
                     "rule": self.idle_rule},
        }
        if self.stamps is not None:
            block = {"non_increasing": self.stamps.get("non_increasing", 0)}
            if "dropped" in self.stamps:
                block["dropped_frames"] = self.stamps["dropped"]
                block["rule"] = f"gap > {DROP_FACTOR:g} / fps (fps {self.fps:g})"
            result["timestamps"] = block
        duplicates = []
        for parts in self.paths.values():
            indices = np.concatenate([p[0] for p in parts])
            paths = np.concatenate([p[1] for p in parts])
            duplicates += near_duplicate_pairs(indices, paths, self.dims.ranges)
        for first, second, _ in duplicates:
            self.reasons.setdefault(second, []).append(f"near-duplicate of episode {first}")
        result["near_duplicates"] = {
            "pairs": [[a, b] for a, b, _ in duplicates],
            "rule": f"RMS action difference < {DUPLICATE_RMS:g} of the range after resampling "
                    f"to {DUPLICATE_POINTS} points",
        }
        result["flagged_episodes"] = {str(k): v for k, v in sorted(self.reasons.items())}
        result["diversity"] = self.diversity.result()
        return result


def quality_checks(frames: pl.DataFrame, semantics, declared_fps: float | None = None) -> dict[str, Any]:
    """Every check of the module docstring on one in-memory frame table."""
    accumulator = QualityAccumulator(semantics, declared_fps)
    accumulator.add(frames)
    return accumulator.result()
