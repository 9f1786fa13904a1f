"""No-op detection by OpenVLA's LIBERO rule, on hand-written action sequences."""

from __future__ import annotations

import numpy as np
import polars as pl
from metrics_frames import frames_of, make_episode

from diffrl_eval import constants as C
from diffrl_eval.metrics import NO_OP_THRESHOLD, no_op_counts, no_op_mask

OPEN, CLOSE = -1.0, 1.0


def actions(rows: list[tuple[float, float]]) -> np.ndarray:
    """Rows of (motion magnitude spread over the 6 arm dims, gripper command)."""
    out = np.zeros((len(rows), C.ACTION_DIM))
    for t, (motion, gripper) in enumerate(rows):
        out[t, :6] = motion / np.sqrt(6.0)  # L2 norm of the arm part = motion
        out[t, 6] = gripper
    return out


def test_no_op_sequence_with_initial_pause_and_gripper_changes():
    rows = [
        (0.0, OPEN),  # 0 initial pause: nothing kept yet, the norm alone decides -> no-op
        (0.0, CLOSE),  # 1 still nothing kept: no-op even though the gripper differs
        (0.5, CLOSE),  # 2 moves: kept (gripper CLOSE)
        (0.0, CLOSE),  # 3 pause, same gripper as last kept -> no-op
        (0.0, CLOSE),  # 4 no-op
        (0.0, OPEN),  # 5 still arm, but the gripper opens -> kept
        (0.0, OPEN),  # 6 no-op (last kept is 5, OPEN)
        (0.3, OPEN),  # 7 kept
        (0.0, CLOSE),  # 8 gripper closes -> kept
    ]
    frames = frames_of([make_episode(actions=actions(rows))])
    assert np.flatnonzero(no_op_mask(frames)).tolist() == [0, 1, 3, 4, 6]


def test_the_norm_threshold_is_strict_and_ignores_the_gripper_dimension():
    rows = [
        (0.2, CLOSE),
        (NO_OP_THRESHOLD * 0.99, CLOSE),  # below: no-op
        (NO_OP_THRESHOLD * 1.01, CLOSE),  # above: kept
    ]
    frames = frames_of([make_episode(actions=actions(rows))])
    assert no_op_mask(frames).tolist() == [False, True, False]


def test_the_rule_restarts_in_every_episode():
    # episode 0 ends kept with CLOSE; episode 1 starts with a still OPEN step, which must
    # count as a no-op (nothing kept yet in its own episode), not as a gripper change
    first = make_episode("task_a", actions=actions([(0.4, CLOSE), (0.4, CLOSE)]))
    second = make_episode("task_b", actions=actions([(0.0, OPEN), (0.4, OPEN), (0.0, CLOSE)]))
    frames = frames_of([first, second])
    assert no_op_mask(frames).tolist() == [False, False, True, False, False]
    counts = no_op_counts(frames)
    assert counts.to_dicts() == [
        {C.COL_EPISODE: 0, C.COL_TASK: "task_a", "no_op_count": 0},
        {C.COL_EPISODE: 1, C.COL_TASK: "task_b", "no_op_count": 1},
    ]


def test_an_episode_that_never_moves_is_all_no_ops():
    frames = frames_of([make_episode(actions=actions([(0.0, OPEN), (0.0, CLOSE), (0.0, OPEN)]))])
    assert no_op_mask(frames).tolist() == [True, True, True]


def test_row_order_of_the_frame_table_does_not_matter():
    rows = [(0.0, OPEN), (0.5, OPEN), (0.0, OPEN), (0.0, CLOSE)]
    frames = frames_of([make_episode(actions=actions(rows)), make_episode(actions=actions(rows))])
    reversed_frames = frames.reverse()
    assert no_op_mask(reversed_frames).tolist() == no_op_mask(frames).tolist()
    assert no_op_mask(frames.lazy()).tolist() == [True, False, True, False] * 2
    assert isinstance(no_op_counts(frames), pl.DataFrame)
