"""Action variance across a task's successful episodes, on examples worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_frames import frames_of, make_episode

from diffrl_eval import constants as C
from diffrl_eval.metrics import (
    DEFAULT_N_POINTS,
    action_variance_curves,
    mean_action_variance,
    resample_actions,
)
from diffrl_eval.metrics.segments import EpisodeSegments


def episode(task: str, x: list[float], gripper: list[float], success: bool = True):
    actions = np.zeros((len(x), C.ACTION_DIM))
    actions[:, 0] = x
    actions[:, C.GRIPPER_ACTION_INDEX] = gripper
    successes = np.zeros(len(x), dtype=bool)
    successes[-1] = success
    return make_episode(task, actions=actions, successes=successes)


def hand_worked_frames():
    return frames_of(
        [
            episode("task_a", x=[0.0, 1.0], gripper=[-1.0, 1.0]),
            episode("task_b", x=[5.0, 5.0, 5.0], gripper=[1.0, 1.0, 1.0]),  # alone: no curve
            episode("task_a", x=[0.0, 0.0, 0.0], gripper=[1.0, 1.0, 1.0]),
            episode("task_a", x=[9.0, -9.0], gripper=[1.0, -1.0], success=False),  # ignored
            episode("task_c", x=[1.0, 2.0], gripper=[1.0, 1.0], success=False),
        ]
    )


def test_resampling_interpolates_linearly_on_normalized_time():
    segments = EpisodeSegments.from_frames(hand_worked_frames())
    resampled = resample_actions(segments, np.array([0, 2]), n_points=3)
    assert resampled.shape == (2, 3, C.ACTION_DIM)
    # two steps stretched over three points: the middle point is halfway
    assert resampled[0, :, 0].tolist() == [0.0, 0.5, 1.0]
    assert resampled[0, :, C.GRIPPER_ACTION_INDEX].tolist() == [-1.0, 0.0, 1.0]
    assert resampled[1, :, 0].tolist() == [0.0, 0.0, 0.0]


def test_variance_curve_worked_by_hand():
    curves, counts = action_variance_curves(hand_worked_frames(), n_points=3)
    assert counts == {"task_a": 2, "task_b": 1, "task_c": 0}
    assert sorted(curves) == ["task_a"]
    curve = curves["task_a"]
    assert curve.shape == (3, C.ACTION_DIM)
    # x: {0, 0}, {0.5, 0}, {1, 0} -> population variances 0, 0.0625, 0.25
    assert curve[:, 0].tolist() == [0.0, 0.0625, 0.25]
    # gripper: {-1, 1}, {0, 1}, {1, 1} -> 1, 0.25, 0
    assert curve[:, C.GRIPPER_ACTION_INDEX].tolist() == [1.0, 0.25, 0.0]
    assert not curve[:, 1:6].any()
    assert mean_action_variance(curve) == pytest.approx((0.0625 + 0.25 + 1.0 + 0.25) / 21)


def test_three_episodes_use_the_population_variance():
    frames = frames_of([episode("t", x=[v, v], gripper=[1.0, 1.0]) for v in (1.0, 2.0, 6.0)])
    curves, _ = action_variance_curves(frames, n_points=4)
    # mean 3, squared deviations 4, 1, 9 -> 14 / 3 (ddof = 0), the same at every time
    np.testing.assert_allclose(curves["t"][:, 0], np.full(4, 14.0 / 3.0))


def test_identical_demonstrations_have_zero_variance_whatever_their_speed():
    # the same ramp performed in 5 and in 9 steps lines up on normalized time
    frames = frames_of(
        [episode("t", x=list(np.linspace(0, 1, n)), gripper=[1.0] * n) for n in (5, 9)]
    )
    curves, _ = action_variance_curves(frames)
    assert curves["t"].shape == (DEFAULT_N_POINTS, C.ACTION_DIM)
    np.testing.assert_allclose(curves["t"], 0.0, atol=1e-12)


def test_a_one_step_episode_is_a_constant_over_normalized_time():
    frames = frames_of(
        [episode("t", x=[2.0], gripper=[1.0]), episode("t", x=[0.0, 4.0], gripper=[1.0, 1.0])]
    )
    curves, _ = action_variance_curves(frames, n_points=3)
    # pairs {2, 0}, {2, 2}, {2, 4} -> 1, 0, 1
    assert curves["t"][:, 0].tolist() == [1.0, 0.0, 1.0]


def test_no_successful_episode_gives_no_curves():
    frames = frames_of([episode("t", x=[0.0, 1.0], gripper=[1.0, 1.0], success=False)])
    assert action_variance_curves(frames) == ({}, {"t": 0})
    assert mean_action_variance(None) is None


def test_fewer_than_two_points_is_refused():
    with pytest.raises(ValueError):
        action_variance_curves(hand_worked_frames(), n_points=1)


def test_variance_accumulated_over_batches_equals_the_one_pass_curves():
    import numpy as np

    from diffrl_eval.metrics.action_variance import VarianceAccumulator, action_variance_curves
    from diffrl_eval.metrics.segments import EpisodeSegments
    from tests.metrics.metrics_frames import frames_of, make_episode

    rng = np.random.default_rng(0)
    episodes = [make_episode(f"t{i % 3}", actions=rng.normal(size=(20 + i, 7)),
                             successes=np.arange(20 + i) >= (10 + i) if i % 5 != 4 else None)
                for i in range(14)]
    frames = frames_of(episodes)
    curves, counts = action_variance_curves(frames)
    accumulator = VarianceAccumulator()
    for part in frames.partition_by("episode_index", maintain_order=True):
        accumulator.add(EpisodeSegments.from_frames(part))
    batched = accumulator.curves()
    assert accumulator.counts == counts
    assert set(batched) == set(curves)
    for task in curves:
        np.testing.assert_allclose(batched[task], curves[task], rtol=1e-9, atol=1e-12)
