"""Diversity of a dataset: how many distinct ways each task is done, how much space is covered.

RL-generated data is said to collapse onto one execution pattern per task; these two
numbers show it.

- **strategies** (per task): the task's paths (end-effector positions, or actions without
  an end-effector), resampled to ``PATH_POINTS`` samples of normalized time and flattened,
  are clustered by Ward linkage; the number of strategies is the cluster count k in
  2..``MAX_STRATEGIES`` with the best silhouette when that silhouette reaches
  ``MIN_SILHOUETTE`` (well-separated groups), else 1. Needs ``MIN_EPISODES`` episodes.
- **coverage** (per task, needs an end-effector): the number of distinct cubes of
  ``VOXEL_M`` metres the task's end-effector paths pass through.

Dataset-level values are means over tasks, each with a percentile bootstrap interval over
tasks (``scipy.stats.bootstrap``, 95%), null with fewer than two tasks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffrl_eval.metrics.action_variance import resample_signal
from diffrl_eval.metrics.segments import EpisodeSegments

PATH_POINTS = 32
MAX_STRATEGIES = 6
MIN_SILHOUETTE = 0.5
MIN_EPISODES = 4
VOXEL_M = 0.02
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000


def resample_paths(values: np.ndarray, segments: EpisodeSegments, episodes: np.ndarray,
                   n_points: int = PATH_POINTS) -> np.ndarray:
    """A (D, N) signal of the chosen episodes on a common time grid: (K, n_points, D)."""
    return np.moveaxis(resample_signal(values, segments, episodes, n_points), 0, -1)


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of a clustering from its (K, K) distance matrix and (K,) labels.

    For point i in cluster A: a = mean distance to the other members of A, b = the least
    mean distance to the members of another cluster, s = (b - a) / max(a, b); a point alone
    in its cluster has s = 0 (Rousseeuw 1987, as scikit-learn computes it).
    """
    _, labels = np.unique(labels, return_inverse=True)
    members = np.eye(labels.max() + 1)[labels]  # (K, C) one-hot
    sizes = members.sum(axis=0)
    sums = distances @ members  # (K, C): total distance to each cluster
    own = sizes[labels] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        a = sums[np.arange(labels.size), labels] / own
        means = sums / sizes
    means[np.arange(labels.size), labels] = np.inf
    b = means.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(own > 0, (b - a) / np.maximum(a, b), 0.0)
    return float(np.nan_to_num(s).mean())


def count_strategies(paths: np.ndarray) -> int | None:
    """Distinct strategies among (K, P, D) paths (see the module docstring); None if K is small."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist, squareform

    k_paths = paths.shape[0]
    if k_paths < MIN_EPISODES:
        return None
    flat = paths.reshape(k_paths, -1)
    if not np.isfinite(flat).all() or np.ptp(flat, axis=0).max() == 0:
        return 1
    condensed = pdist(flat)
    distances = squareform(condensed)
    tree = linkage(flat, method="ward")
    best_k, best_score = 1, MIN_SILHOUETTE
    for k in range(2, min(MAX_STRATEGIES, k_paths - 1) + 1):
        labels = fcluster(tree, k, criterion="maxclust")
        if np.unique(labels).size < 2:
            continue
        score = silhouette(distances, labels)
        if score >= best_score:
            best_k, best_score = int(np.unique(labels).size), score
    return best_k


_VOXEL_OFFSET = 1 << 20  # cube indices within ±2^20 (±21 km at 2 cm) fit one int64 key


def voxel_keys(points: np.ndarray, voxel: float = VOXEL_M) -> np.ndarray:
    """The distinct cubes of side ``voxel`` that (M, 3) points fall in, one int64 key each."""
    finite = points[np.isfinite(points).all(axis=1)]
    cells = np.floor(finite / voxel).astype(np.int64) + _VOXEL_OFFSET
    # a 1-D unique of one integer per cube is far faster than a row-wise unique
    return np.unique((cells[:, 0] << 42) | (cells[:, 1] << 21) | cells[:, 2])


def voxel_coverage(points: np.ndarray, voxel: float = VOXEL_M) -> int:
    """Distinct cubes of side ``voxel`` that (M, 3) points fall in."""
    return int(voxel_keys(points, voxel).size)


def _mean_with_interval(values: list[float]) -> dict[str, Any]:
    from scipy.stats import bootstrap

    data = np.asarray(values, dtype=np.float64)
    block: dict[str, Any] = {"mean": float(data.mean()) if data.size else None,
                             "ci_low": None, "ci_high": None, "confidence": CONFIDENCE}
    if data.size >= 2 and np.ptp(data) > 0:
        interval = bootstrap((data,), np.mean, confidence_level=CONFIDENCE,
                             n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                             random_state=np.random.default_rng(0)).confidence_interval
        block.update(ci_low=float(interval.low), ci_high=float(interval.high))
    elif data.size >= 2:
        block.update(ci_low=float(data[0]), ci_high=float(data[0]))
    return block


class DiversityAccumulator:
    """Per task, the resampled paths (K, PATH_POINTS, D) and the visited cubes, gathered
    batch by batch (whole episodes per batch)."""

    def __init__(self, has_eef: bool) -> None:
        self.has_eef = has_eef
        self.paths: dict[str, list[np.ndarray]] = {}
        self.cubes: dict[str, np.ndarray] = {}

    def add(self, segments: EpisodeSegments) -> None:
        signal = segments.eef_pos_by_dim if self.has_eef else segments.actions_by_dim
        for task in dict.fromkeys(segments.task_id.tolist()):
            members = np.flatnonzero(segments.task_id == task)
            self.paths.setdefault(task, []).append(resample_paths(signal, segments, members))
            if self.has_eef:
                rows = np.concatenate([np.arange(s, s + n) for s, n in
                                       zip(segments.starts[members], segments.lengths[members])])
                keys = voxel_keys(segments.eef_pos_by_dim[:, rows].T)
                self.cubes[task] = np.union1d(self.cubes.get(task, keys[:0]), keys)

    def result(self) -> dict[str, Any]:
        """Strategies and coverage per task and over tasks (the ``quality.diversity`` block)."""
        per_task: dict[str, Any] = {}
        for task in sorted(self.paths):
            paths = np.concatenate(self.paths[task])
            entry: dict[str, Any] = {"episodes": int(paths.shape[0]),
                                     "strategies": count_strategies(paths)}
            if self.has_eef:
                entry["coverage_voxels"] = int(self.cubes[task].size)
            per_task[task] = entry
        strategies = [e["strategies"] for e in per_task.values() if e["strategies"] is not None]
        result: dict[str, Any] = {
            "signal": "end-effector path" if self.has_eef else "actions",
            "rule": f"Ward clusters of paths resampled to {PATH_POINTS} points, best silhouette "
                    f">= {MIN_SILHOUETTE} over k = 2..{MAX_STRATEGIES}, else 1; tasks with >= "
                    f"{MIN_EPISODES} episodes",
            "strategies": _mean_with_interval(strategies),
            "per_task": per_task,
        }
        if self.has_eef:
            result["coverage_voxels"] = _mean_with_interval(
                [e["coverage_voxels"] for e in per_task.values()])
            result["voxel_m"] = VOXEL_M
        return result


def diversity(segments: EpisodeSegments, has_eef: bool) -> dict[str, Any]:
    """Strategies and coverage of one in-memory set of episodes."""
    accumulator = DiversityAccumulator(has_eef)
    accumulator.add(segments)
    return accumulator.result()
