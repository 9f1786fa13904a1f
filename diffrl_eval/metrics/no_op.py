"""No-op actions, by the rule OpenVLA applies when it filters LIBERO demonstrations.

A step is a no-op when the arm part of its action (xyz + rotation: every dimension but
the gripper command, which comes last) has L2 norm below
``NO_OP_THRESHOLD`` and its gripper command repeats the one of the previous step that was
*kept* (not itself a no-op). Until an episode has kept a step, the norm test alone decides.

The rule reads sequentially, but it vectorizes exactly: a no-op never changes the gripper
command, so once a step has been kept, the previous step's gripper command always equals
the last kept one's. Hence ``no_op[t] = small[t] & (t < first_kept or g[t] == g[t-1])``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.metrics.segments import EpisodeSegments, FrameTable

NO_OP_THRESHOLD = 1e-4
NO_OP_COUNT = "no_op_count"


def no_op_mask(frames: FrameTable | EpisodeSegments) -> np.ndarray:
    """Per-row no-op flag, (N,) bool, rows in (episode, step) order."""
    segments = EpisodeSegments.of(frames)
    n = segments.n_frames
    if n == 0:
        return np.zeros(0, dtype=bool)
    actions = segments.actions_by_dim
    squared_motion = np.zeros(n)
    for dim in range(actions.shape[0] - 1):  # the arm's dims: all but the gripper, last
        squared_motion += actions[dim] ** 2
    motion_norm = np.sqrt(squared_motion)
    small = motion_norm < NO_OP_THRESHOLD
    step = segments.step_in_episode
    kept_step = np.where(small, np.iinfo(np.int64).max, step)
    first_kept = segments.per_row(np.minimum.reduceat(kept_step, segments.starts))
    gripper = actions[-1]
    same_gripper = np.zeros(n, dtype=bool)
    # row 0 of an episode compares with the previous episode's last row, but there
    # step < first_kept whenever small holds, so that comparison never decides
    np.equal(gripper[1:], gripper[:-1], out=same_gripper[1:])
    return small & ((step < first_kept) | same_gripper)


def no_op_counts(frames: FrameTable | EpisodeSegments) -> pl.DataFrame:
    """Number of no-op steps per episode: columns episode_index, task_id, no_op_count."""
    segments = EpisodeSegments.of(frames)
    counts = segments.per_episode_sum(no_op_mask(segments).astype(np.int64))
    return pl.DataFrame(
        {
            C.COL_EPISODE: segments.episode_index,
            C.COL_TASK: pl.Series(segments.task_id.tolist(), dtype=pl.String),
            NO_OP_COUNT: counts.astype(np.int64),
        }
    )
