"""Trajectory length: how many steps an episode needed to reach its goal.

Measured as steps to success (index of the first step after which the goal holds, plus
one), so that steps a generator keeps taking after success do not count against it.
"""

from __future__ import annotations

import numpy as np

from diffrl_eval.metrics.segments import EpisodeSegments, FrameTable

NOT_REACHED = -1


def steps_to_success(frames: FrameTable | EpisodeSegments) -> np.ndarray:
    """Steps until the first success flag, per episode: (E,) int64, ``NOT_REACHED`` if never."""
    segments = EpisodeSegments.of(frames)
    if segments.n_episodes == 0:
        return np.zeros(0, dtype=np.int64)
    sentinel = np.iinfo(np.int64).max
    success_step = np.where(segments.success, segments.step_in_episode, sentinel)
    first = np.minimum.reduceat(success_step, segments.starts)
    return np.where(first == sentinel, NOT_REACHED, first + 1).astype(np.int64)
