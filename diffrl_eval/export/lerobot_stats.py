"""Normalization statistics in the form LeRobotDataset v3 stores them (meta/stats.json).

Every numeric feature gets ``min``, ``max``, ``mean``, ``std``, ``count`` and the quantiles
``q01 q10 q50 q90 q99``; each statistic has the feature's shape, except ``count`` which is
``(1,)``. Camera features get per-channel statistics of pixel values scaled to [0, 1], of
shape ``(3, 1, 1)``, computed exactly from pixel value counts (a 256-bin histogram per
channel, which also adds up over episodes), and ``count`` in frames.

Shapes (N = frames, D = feature width, T = episode frames, H, W = image size):
    vector_stats(values (N, D))                    -> each statistic (D,)
    image_histogram(frames (T, H, W, 3) uint8)     -> (3, 256) counts
    histogram_stats(histogram (3, 256), n_frames)  -> each statistic (3, 1, 1)
"""

from __future__ import annotations

import numpy as np

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = tuple(f"q{round(q * 100):02d}" for q in QUANTILES)

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


def image_histogram(frames: np.ndarray) -> np.ndarray:
    """Pixel value counts per channel of frames (T, H, W, 3) uint8 -> (3, 256) int64."""
    pixels = np.asarray(frames, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
    pixels += np.array([0, 256, 512], dtype=np.int32)  # one bincount for the three channels
    return np.bincount(pixels.ravel(), minlength=768).reshape(3, 256)


def histogram_stats(histogram: np.ndarray, n_frames: int) -> Stats:
    """Exact per-channel statistics of pixels scaled to [0, 1], from their (3, 256) counts.

    Quantiles interpolate linearly between order statistics, as ``np.quantile`` does.
    ``count`` is ``n_frames``.
    """
    histogram = np.asarray(histogram, dtype=np.int64)
    values = np.arange(256) / 255.0
    n = histogram.sum(axis=1, keepdims=True)  # (3, 1)
    mean = (histogram * values).sum(axis=1, keepdims=True) / n
    variance = (histogram * (values - mean) ** 2).sum(axis=1, keepdims=True) / n
    seen = histogram > 0
    stats = {
        "min": values[seen.argmax(axis=1)],
        "max": values[255 - seen[:, ::-1].argmax(axis=1)],
        "mean": mean[:, 0],
        "std": np.sqrt(variance[:, 0]),
        "count": np.array([n_frames], dtype=np.int64),
    }
    cumulative = histogram.cumsum(axis=1)

    def order_statistic(channel: int, rank: np.ndarray) -> np.ndarray:
        return values[np.searchsorted(cumulative[channel], rank, side="right")]

    for q, key in zip(QUANTILES, QUANTILE_KEYS):
        position = q * (n[:, 0] - 1)
        low, high = np.floor(position), np.ceil(position)
        stats[key] = np.array([
            order_statistic(c, low[c]) + (position[c] - low[c])
            * (order_statistic(c, high[c]) - order_statistic(c, low[c]))
            for c in range(3)
        ])
    return {k: v if k == "count" else v.reshape(3, 1, 1) for k, v in stats.items()}


def stats_to_json(stats: dict[str, Stats]) -> dict[str, dict[str, list]]:
    return {feature: {k: np.asarray(v).tolist() for k, v in s.items()} for feature, s in stats.items()}
