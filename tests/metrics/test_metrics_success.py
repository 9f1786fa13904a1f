"""Success rate with its Wilson interval, per-episode success and steps to success."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_frames import frames_of, make_episode

from diffrl_eval.metrics import NOT_REACHED, episode_success, steps_to_success, wilson_interval


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        (8, 10, (0.4902, 0.9433)),  # the textbook example
        (5, 10, (0.2366, 0.7634)),
        (0, 10, (0.0, 0.2775)),  # upper bound z²/(n+z²)
        (10, 10, (0.7225, 1.0)),
        (1, 1, (0.2065, 1.0)),
    ],
)
def test_wilson_interval_matches_published_values(successes, n, expected):
    low, high = wilson_interval(successes, n)
    assert low == pytest.approx(expected[0], abs=5e-5)
    assert high == pytest.approx(expected[1], abs=5e-5)


def test_wilson_interval_at_90_percent_is_narrower_and_matches_hand_computation():
    # z = 1.644854, z²/n = 0.270554: centre (0.8 + 0.135277) / 1.270554 = 0.736118,
    # half-width 1.644854 · sqrt(0.016 + 0.006764) / 1.270554 = 0.195325
    low, high = wilson_interval(8, 10, confidence=0.90)
    assert (low, high) == pytest.approx((0.540793, 0.931443), abs=2e-6)
    low95, high95 = wilson_interval(8, 10)
    assert low95 < low and high < high95


def test_wilson_interval_is_symmetric_in_successes_and_failures():
    for n in (1, 7, 50):
        for k in range(n + 1):
            low, high = wilson_interval(k, n)
            mirror_low, mirror_high = wilson_interval(n - k, n)
            assert 0.0 <= low <= k / n <= high <= 1.0
            assert low == pytest.approx(1.0 - mirror_high, abs=1e-12)
            assert high == pytest.approx(1.0 - mirror_low, abs=1e-12)


def test_wilson_interval_without_trials_is_the_whole_unit_interval():
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("successes", "n"), [(-1, 3), (4, 3), (0, -1)])
def test_wilson_interval_rejects_impossible_counts(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


def test_wilson_interval_rejects_a_confidence_outside_zero_one():
    with pytest.raises(ValueError):
        wilson_interval(3, 4, confidence=1.0)


def test_steps_to_success_counts_up_to_and_including_the_first_success_flag():
    frames = frames_of(
        [
            make_episode(successes=[False, False, True, True, False]),  # goal first holds after step 2
            make_episode(successes=[False, False, False]),  # never
            make_episode(successes=[True]),  # immediately
            make_episode(successes=[False, True, False, True]),  # flag may drop and return
        ]
    )
    assert steps_to_success(frames).tolist() == [3, NOT_REACHED, 1, 2]
    assert episode_success(frames).tolist() == [True, False, True, True]


def test_an_episode_succeeds_when_any_step_succeeds_not_only_the_last():
    frames = frames_of([make_episode(successes=np.array([False, True, False]))])
    assert episode_success(frames).tolist() == [True]
