"""Data-quality checks beside the paper's metrics: what makes a recorded dataset suspect.

Pure functions of the measurement frame table (see
:func:`diffrl_eval.dataset.sources.semantics.measurement_frames`); each states its
threshold in the results, so a reader knows what was counted.

- **non-finite values**: rows whose action or end-effector position holds NaN or inf.
- **zero-variance dimensions**: action dims constant over the whole dataset.
- **clipped dimensions**: action dims with more than ``CLIP_FRACTION`` of their values at
  the dim's minimum or maximum (dims with at most two distinct values, binary gripper
  commands, are not counted: they sit at their extremes by design).
- **action jumps**: steps where some action dim changes by more than ``JUMP_SCALE`` times
  its typical change (1.4826 × the median absolute step change, a robust standard
  deviation) and by more than ``JUMP_FLOOR`` of the dim's range.
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


def dimension_checks(actions: np.ndarray) -> dict[str, Any]:
    """Zero-variance and clipped action dims of a (Da, N) array."""
    zero_variance, clipped = [], {}
    for dim, values in enumerate(actions):
        values = values[np.isfinite(values)]
        if values.size == 0 or values.min() == values.max():
            zero_variance.append(dim)
            continue
        if np.unique(values).size <= 2:
            continue
        at_edge = float(((values == values.min()) | (values == values.max())).mean())
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
    limit = np.maximum(JUMP_SCALE * typical, floor)[:, None]
    with np.errstate(invalid="ignore"):
        return (change > limit).any(axis=0)


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


def near_duplicate_pairs(segments: EpisodeSegments) -> list[tuple[int, int, float]]:
    """(episode_index, episode_index, rms) of episode pairs of one task that nearly coincide."""
    from scipy.spatial.distance import pdist

    scale = _ranges(segments.actions_by_dim)
    pairs = []
    for task in dict.fromkeys(segments.task_id.tolist()):
        members = np.flatnonzero(segments.task_id == task)
        if members.size < 2:
            continue
        paths = resample_actions(segments, members, DUPLICATE_POINTS) / scale  # (K, P, Da)
        flat = paths.reshape(members.size, -1)
        rms = pdist(flat) / np.sqrt(flat.shape[1])
        first, second = np.triu_indices(members.size, k=1)
        for i in np.flatnonzero(rms < DUPLICATE_RMS):
            pairs.append((int(segments.episode_index[members[first[i]]]),
                          int(segments.episode_index[members[second[i]]]), float(rms[i])))
    return pairs


def quality_checks(frames: pl.DataFrame, semantics, declared_fps: float | None = None) -> dict[str, Any]:
    """Every check of the module docstring, as the ``quality`` block of the metrics JSON."""
    segments = EpisodeSegments.from_frames(frames)
    has_eef = semantics.eef is not None
    hz = semantics.control_hz
    reasons: dict[int, list[str]] = {}

    def flag(rows: np.ndarray, text: str) -> int:
        counts = segments.per_episode_sum(rows.astype(np.int64))
        for position in np.flatnonzero(counts):
            reasons.setdefault(int(segments.episode_index[position]), []).append(
                f"{int(counts[position])} {text}")
        return int(rows.sum())

    non_finite = non_finite_rows(segments, has_eef)
    jumps = action_jump_rows(segments)
    idle, idle_rule = idle_rows(segments, hz, has_eef)
    idle_fraction = segments.per_episode_sum(idle.astype(np.int64)) / segments.lengths
    result: dict[str, Any] = {
        "non_finite_rows": flag(non_finite, "row(s) with NaN or inf"),
        **dimension_checks(segments.actions_by_dim),
        "action_jumps": {"count": flag(jumps, "action jump(s)"),
                         "rule": f"|Δa| > max({JUMP_SCALE:g} × robust std of the dim's step "
                                 f"change, {JUMP_FLOOR:g} × its range)"},
        "idle": {"steps": int(idle.sum()), "fraction": float(idle.mean()), "rule": idle_rule},
    }
    for position in np.flatnonzero(idle_fraction > 0.5):
        reasons.setdefault(int(segments.episode_index[position]), []).append(
            f"idle {idle_fraction[position]:.0%} of the episode")
    stamps = timestamp_problems(frames, declared_fps)
    if stamps is not None:
        block = {"non_increasing": int(stamps["non_increasing"].sum())}
        if "dropped" in stamps.columns:
            block["dropped_frames"] = int(stamps["dropped"].sum())
            block["rule"] = f"gap > {DROP_FACTOR:g} / fps (fps {declared_fps:g})"
        for row in stamps.iter_rows(named=True):
            for key, text in (("non_increasing", "non-increasing timestamp(s)"),
                              ("dropped", "dropped frame gap(s)")):
                if row.get(key):
                    reasons.setdefault(int(row[C.COL_EPISODE]), []).append(f"{row[key]} {text}")
        result["timestamps"] = block
    duplicates = near_duplicate_pairs(segments)
    for first, second, _ in duplicates:
        reasons.setdefault(second, []).append(f"near-duplicate of episode {first}")
    result["near_duplicates"] = {
        "pairs": [[a, b] for a, b, _ in duplicates],
        "rule": f"RMS action difference < {DUPLICATE_RMS:g} of the range after resampling "
                f"to {DUPLICATE_POINTS} points",
    }
    short = np.flatnonzero(segments.lengths < 4)
    for position in short:
        reasons.setdefault(int(segments.episode_index[position]), []).append(
            f"only {int(segments.lengths[position])} step(s)")
    result["flagged_episodes"] = {str(k): v for k, v in sorted(reasons.items())}
    from diffrl_eval.metrics.diversity import diversity

    result["diversity"] = diversity(segments, has_eef)
    return result
