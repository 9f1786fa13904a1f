"""Action variance across the successful demonstrations of one task.

Each successful episode's action sequence (T_i, 7) is resampled by linear interpolation to
``n_points`` samples of normalized time s in [0, 1] (sample j sits at step j / (n_points-1)
· (T_i - 1)), so that episodes of different lengths line up. The population variance
(ddof = 0) across episodes at each sample and dimension gives the task's curve
(n_points, 7); its mean is the task's scalar. Low variance means the demonstrations of a
task are consistent (unimodal); high variance means diverse strategies or noisy control.
A task needs at least ``MIN_EPISODES_FOR_VARIANCE`` successful episodes.
"""

from __future__ import annotations

import numpy as np

from diffrl_eval.metrics.segments import EpisodeSegments, FrameTable
from diffrl_eval.metrics.success import episode_success

DEFAULT_N_POINTS = 100
MIN_EPISODES_FOR_VARIANCE = 2


def _resample_by_dim(segments: EpisodeSegments, episodes: np.ndarray, n_points: int) -> np.ndarray:
    """Resampled actions, dimension-major: (7, len(episodes), n_points)."""
    return resample_signal(segments.actions_by_dim, segments, episodes, n_points)


def resample_signal(values: np.ndarray, segments: EpisodeSegments, episodes: np.ndarray,
                    n_points: int) -> np.ndarray:
    """A (D, N) per-row signal of the chosen episodes on a common normalized-time grid,
    dimension-major: (D, len(episodes), n_points)."""
    lengths = segments.lengths[episodes]
    last = (lengths - 1)[:, None]
    position = np.linspace(0.0, 1.0, n_points)[None, :] * last  # (K, n_points), in steps
    lower = np.minimum(np.floor(position).astype(np.int64), last)
    weight = position - lower
    base = segments.starts[episodes][:, None]
    before = np.take(values, base + lower, axis=1)
    after = np.take(values, base + np.minimum(lower + 1, last), axis=1)
    return before + (after - before) * weight


def resample_actions(
    segments: EpisodeSegments, episodes: np.ndarray, n_points: int = DEFAULT_N_POINTS
) -> np.ndarray:
    """Actions of the chosen episodes on a common time grid: (len(episodes), n_points, 7).

    ``episodes`` holds positions into ``segments`` (0..E-1), not episode_index values.
    """
    if n_points < 2:
        raise ValueError(f"n_points must be at least 2, got {n_points}")
    return np.moveaxis(_resample_by_dim(segments, episodes, n_points), 0, -1)


def action_variance_curves(
    frames: FrameTable | EpisodeSegments, n_points: int = DEFAULT_N_POINTS
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Per-task variance curves and the number of successful episodes behind each.

    Returns ``(curves, counts)``: ``curves[task_id]`` is (n_points, 7) float64 for every task
    with at least two successful episodes; ``counts[task_id]`` is the number of successful
    episodes of every task in the frames (0 included).
    """
    if n_points < 2:
        raise ValueError(f"n_points must be at least 2, got {n_points}")
    segments = EpisodeSegments.of(frames)
    counts = {str(task): 0 for task in dict.fromkeys(segments.task_id.tolist())}
    chosen = np.flatnonzero(episode_success(segments))
    if chosen.size == 0:
        return {}, counts
    # group the chosen episodes by task, so that each task is one contiguous slice
    chosen = chosen[np.argsort(segments.task_id[chosen], kind="stable")]
    names, first, sizes = np.unique(segments.task_id[chosen], return_index=True, return_counts=True)
    resampled = _resample_by_dim(segments, chosen, n_points)  # (7, K, n_points)
    curves: dict[str, np.ndarray] = {}
    for name, begin, size in zip(names.tolist(), first.tolist(), sizes.tolist()):
        counts[name] = size
        if size >= MIN_EPISODES_FOR_VARIANCE:
            curves[name] = resampled[:, begin : begin + size].var(axis=1).T
    return curves, counts


def mean_action_variance(curve: np.ndarray | None) -> float | None:
    """A task's scalar: the mean of its (n_points, 7) curve over time and action dims."""
    if curve is None:
        return None
    return float(curve.mean())


class VarianceAccumulator:
    """:func:`action_variance_curves` over batches of whole episodes, in bounded memory.

    Per task it keeps the count, mean and sum of squared deviations of the resampled
    successful actions, (n_points, Da) each, and merges batches with Chan et al.'s
    pairwise update, so the variance is the one of all episodes together.
    """

    def __init__(self, n_points: int = DEFAULT_N_POINTS) -> None:
        if n_points < 2:
            raise ValueError(f"n_points must be at least 2, got {n_points}")
        self.n_points = n_points
        self.counts: dict[str, int] = {}
        self._mean: dict[str, np.ndarray] = {}
        self._m2: dict[str, np.ndarray] = {}

    def add(self, segments: EpisodeSegments) -> None:
        for task in dict.fromkeys(segments.task_id.tolist()):
            self.counts.setdefault(str(task), 0)
        chosen = np.flatnonzero(episode_success(segments))
        for task in dict.fromkeys(segments.task_id[chosen].tolist()):
            members = chosen[segments.task_id[chosen] == task]
            batch = resample_actions(segments, members, self.n_points)  # (K, P, Da)
            n_b, mean_b = batch.shape[0], batch.mean(axis=0)
            m2_b = ((batch - mean_b) ** 2).sum(axis=0)
            n_a = self.counts[task]
            if n_a == 0:
                self._mean[task], self._m2[task] = mean_b, m2_b
            else:
                delta = mean_b - self._mean[task]
                total = n_a + n_b
                self._mean[task] = self._mean[task] + delta * (n_b / total)
                self._m2[task] = self._m2[task] + m2_b + delta**2 * (n_a * n_b / total)
            self.counts[task] = n_a + n_b

    def curves(self) -> dict[str, np.ndarray]:
        """Population variance curves (n_points, Da) of the tasks with enough episodes."""
        return {task: self._m2[task] / count for task, count in self.counts.items()
                if count >= MIN_EPISODES_FOR_VARIANCE}
