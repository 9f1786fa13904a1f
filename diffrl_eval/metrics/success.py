"""Task success: per-episode outcome and the Wilson score interval for a success rate.

A success rate is never reported bare: with tens of episodes per task the sampling error
is large, and the Wilson interval stays inside [0, 1] and behaves near 0 and 1 where the
normal approximation does not.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from diffrl_eval.metrics.segments import EpisodeSegments, FrameTable

DEFAULT_CONFIDENCE = 0.95
_Z_95 = 1.959963984540054


def _z_score(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if confidence == DEFAULT_CONFIDENCE:
        return _Z_95
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(
    successes: int, n: int, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n`` Bernoulli trials.

    With no trials nothing is known and the interval is the whole of [0, 1].
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    z = _z_score(confidence)
    p = successes / n
    z2_over_n = z * z / n
    centre = (p + z2_over_n / 2.0) / (1.0 + z2_over_n)
    half_width = z * math.sqrt(p * (1.0 - p) / n + z2_over_n / (4.0 * n)) / (1.0 + z2_over_n)
    # the exact bounds are 0 at k = 0 and 1 at k = n; do not let rounding move them
    low = 0.0 if successes == 0 else max(0.0, centre - half_width)
    high = 1.0 if successes == n else min(1.0, centre + half_width)
    return low, high


def episode_success(frames: FrameTable | EpisodeSegments) -> np.ndarray:
    """Whether each episode reached its goal at any step: (E,) bool, in episode order."""
    segments = EpisodeSegments.of(frames)
    if segments.n_episodes == 0:
        return np.zeros(0, dtype=bool)
    return np.logical_or.reduceat(segments.success, segments.starts)
