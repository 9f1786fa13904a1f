"""Normalization statistics in the form LeRobotDataset v3 stores them (meta/stats.json).

Every numeric feature gets ``min``, ``max``, ``mean``, ``std``, ``count`` and the quantiles
``q01 q10 q50 q90 q99``; each statistic has the feature's shape, except ``count`` which is
``(1,)``. Camera features get per-channel statistics of pixel values scaled to [0, 1], of
shape ``(3, 1, 1)``.

Shapes (N = frames, D = feature width, T = episode frames, H, W = image size):
    vector_stats(values (N, D))            -> each statistic (D,)
    image_stats(frames (T, H, W, 3) uint8) -> each statistic (3, 1, 1)
"""

from __future__ import annotations

import numpy as np

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = tuple(f"q{round(q * 100):02d}" for q in QUANTILES)
# Per-episode image statistics look at this many frames at most, evenly spaced: pixel
# statistics barely move between neighbouring frames.
IMAGE_STATS_MAX_FRAMES = 100

Stats = dict[str, np.ndarray]


def vector_stats(values: np.ndarray) -> Stats:
    """Exact statistics of ``values`` (N, D) per dimension; ``count`` is N."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    quantiles = np.quantile(values, QUANTILES, axis=0)
    stats = {
        "min": values.min(axis=0),
        "max": values.max(axis=0),
        "mean": values.mean(axis=0),
        "std": values.std(axis=0),
        "count": np.array([values.shape[0]], dtype=np.int64),
    }
    stats.update({key: quantiles[i] for i, key in enumerate(QUANTILE_KEYS)})
    return stats


def image_stats(frames: np.ndarray) -> Stats:
    """Per-channel statistics of one episode's frames (T, H, W, 3), pixels scaled to [0, 1].

    ``count`` is the number of frames looked at.
    """
    frames = np.asarray(frames)
    if frames.shape[0] > IMAGE_STATS_MAX_FRAMES:
        pick = np.linspace(0, frames.shape[0] - 1, IMAGE_STATS_MAX_FRAMES).round().astype(int)
        frames = frames[pick]
    pixels = frames.reshape(-1, 3).astype(np.float64) / 255.0
    stats = vector_stats(pixels)
    stats["count"] = np.array([frames.shape[0]], dtype=np.int64)
    return {k: v if k == "count" else v.reshape(3, 1, 1) for k, v in stats.items()}


def aggregate_stats(per_episode: list[Stats]) -> Stats:
    """Combine per-episode statistics into dataset statistics (used for cameras).

    ``min``/``max``/``mean``/``std`` are exact (pooled variance); the quantiles are the
    count-weighted mean of the episodes' quantiles, an approximation (LeRobot aggregates
    the same way).
    """
    counts = np.array([s["count"][0] for s in per_episode], dtype=np.float64)
    total = counts.sum()
    shape = (-1,) + (1,) * (per_episode[0]["mean"].ndim)
    weights = (counts / total).reshape(shape)
    means = np.stack([s["mean"] for s in per_episode])
    variances = np.stack([s["std"] ** 2 for s in per_episode])
    mean = (weights * means).sum(axis=0)
    variance = (weights * (variances + (means - mean) ** 2)).sum(axis=0)
    stats = {
        "min": np.stack([s["min"] for s in per_episode]).min(axis=0),
        "max": np.stack([s["max"] for s in per_episode]).max(axis=0),
        "mean": mean,
        "std": np.sqrt(variance),
        "count": np.array([int(total)], dtype=np.int64),
    }
    for key in QUANTILE_KEYS:
        stats[key] = (weights * np.stack([s[key] for s in per_episode])).sum(axis=0)
    return stats


def stats_to_json(stats: dict[str, Stats]) -> dict[str, dict[str, list]]:
    return {feature: {k: np.asarray(v).tolist() for k, v in s.items()} for feature, s in stats.items()}
