"""Mean squared jerk and log dimensionless jerk on paths whose jerk is known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metrics_frames import frames_of, make_episode

from diffrl_eval.metrics import log_dimensionless_jerk, mean_squared_jerk


def path_frames(*paths: np.ndarray):
    return frames_of([make_episode(eef_pos=np.asarray(p, dtype=np.float64)) for p in paths])


def cubic(coefficients, steps: int, hz: float) -> np.ndarray:
    """p(t) = c t³ sampled at t = k / hz: jerk is 6c everywhere."""
    t = np.arange(steps) / hz
    return np.asarray(coefficients, dtype=np.float64)[None, :] * t[:, None] ** 3


def minimum_jerk(steps: int, amplitude: float = 1.0) -> np.ndarray:
    """The minimum-jerk reach 10τ³ - 15τ⁴ + 6τ⁵ along x, τ in [0, 1] over ``steps`` samples."""
    tau = np.linspace(0.0, 1.0, steps)
    x = amplitude * (10 * tau**3 - 15 * tau**4 + 6 * tau**5)
    return np.stack([x, 0.5 * x, np.zeros_like(x)], axis=1)


def test_cubic_path_has_constant_jerk_so_msj_is_36_c_squared():
    # positions k³ (hz = 1) and c k³ / 8 (hz = 2) are exact in float32: the result is exact
    frames = path_frames(cubic([1, 0, 0], 10, hz=1))
    assert mean_squared_jerk(frames, control_hz=1).tolist() == [36.0]
    frames = path_frames(cubic([1, 2, 2], 12, hz=2))
    assert mean_squared_jerk(frames, control_hz=2).tolist() == [36.0 * 9]


def test_msj_is_per_episode_and_undefined_below_four_steps():
    frames = path_frames(
        cubic([1, 0, 0], 3, hz=1),
        cubic([1, 0, 0], 4, hz=1),  # exactly one jerk sample
        cubic([0, 0, 2], 9, hz=1),
    )
    msj = mean_squared_jerk(frames, control_hz=1)
    assert math.isnan(msj[0])
    assert msj[1:].tolist() == [36.0, 144.0]


def test_a_constant_acceleration_path_has_zero_jerk_and_undefined_ldlj():
    t = np.arange(10, dtype=np.float64)
    frames = path_frames(np.stack([t**2, t, np.zeros_like(t)], axis=1))
    assert mean_squared_jerk(frames, control_hz=1).tolist() == [0.0]
    assert math.isnan(log_dimensionless_jerk(frames, control_hz=1)[0])


def test_a_motionless_episode_has_undefined_ldlj():
    frames = path_frames(np.full((8, 3), 0.25))
    assert mean_squared_jerk(frames, control_hz=20).tolist() == [0.0]
    assert math.isnan(log_dimensionless_jerk(frames, control_hz=20)[0])


def test_ldlj_hand_worked_on_a_five_step_cubic():
    # p = k³, k = 0..4, dt = 1: speeds 1, 7, 19, 37 -> v_peak = 37; two jerk samples of 6
    # -> J = 2 · 36 · 1 = 72; D = 4 -> LDLJ = -ln(4³ / 37² · 72)
    frames = path_frames(cubic([1, 0, 0], 5, hz=1))
    expected = -math.log(64 / 37**2 * 72)
    assert log_dimensionless_jerk(frames, control_hz=1)[0] == pytest.approx(expected, rel=1e-12)


def test_ldlj_of_a_minimum_jerk_reach_converges_to_its_continuous_value():
    # continuous: v_peak = 1.875, ∫ jerk² dτ = 720 -> LDLJ = -ln(720 / 1.875²) = -ln(204.8).
    # The third differences cannot see the 1.5 steps at each end where jerk is largest, so
    # the discrete value is off by O(1/T): halving the step halves the error.
    def error(steps: int) -> float:
        frames = path_frames(minimum_jerk(steps))
        return log_dimensionless_jerk(frames, control_hz=steps - 1)[0] + math.log(204.8)

    coarse, fine = error(101), error(201)
    assert 0 < fine < 0.06
    assert coarse / fine == pytest.approx(2.0, rel=0.1)


def test_ldlj_is_unchanged_by_amplitude_while_msj_scales_with_its_square():
    base = minimum_jerk(60)
    frames = path_frames(base, 4.0 * base)  # a power of two keeps float32 values exact
    ldlj = log_dimensionless_jerk(frames, control_hz=20)
    msj = mean_squared_jerk(frames, control_hz=20)
    assert ldlj[1] == pytest.approx(ldlj[0], rel=1e-12)
    assert msj[1] == pytest.approx(16.0 * msj[0], rel=1e-12)


def test_ldlj_is_unchanged_by_playing_the_same_samples_at_another_rate():
    frames = path_frames(minimum_jerk(60))
    slow = log_dimensionless_jerk(frames, control_hz=10)[0]
    fast = log_dimensionless_jerk(frames, control_hz=40)[0]
    assert fast == pytest.approx(slow, rel=1e-12)
    # MSJ, by contrast, grows with the sixth power of the speed-up
    ratio = mean_squared_jerk(frames, control_hz=40)[0] / mean_squared_jerk(frames, control_hz=10)[0]
    assert ratio == pytest.approx(4.0**6, rel=1e-12)


def test_ldlj_barely_changes_when_the_same_reach_takes_twice_as_long_but_msj_drops_64_fold():
    frames = path_frames(minimum_jerk(150), minimum_jerk(300))
    short, long = log_dimensionless_jerk(frames, control_hz=20)
    assert long == pytest.approx(short, abs=0.04)  # the O(1/T) discretization error only
    short_msj, long_msj = mean_squared_jerk(frames, control_hz=20)
    assert short_msj / long_msj == pytest.approx(2.0**6, rel=0.1)  # jerk ∝ 1 / duration³


def test_a_jittery_path_is_less_smooth_than_the_same_reach_without_jitter():
    rng = np.random.default_rng(0)
    smooth = minimum_jerk(80, amplitude=0.3)
    jittery = smooth + rng.normal(0, 2e-3, smooth.shape)
    frames = path_frames(smooth, jittery)
    ldlj = log_dimensionless_jerk(frames, control_hz=20)
    msj = mean_squared_jerk(frames, control_hz=20)
    assert ldlj[1] < ldlj[0]
    assert msj[1] > msj[0]


def test_control_rate_must_be_positive():
    frames = path_frames(cubic([1, 0, 0], 5, hz=1))
    with pytest.raises(ValueError):
        mean_squared_jerk(frames, control_hz=0)
    with pytest.raises(ValueError):
        log_dimensionless_jerk(frames, control_hz=-5)
