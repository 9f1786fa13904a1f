"""Smoothness of the end-effector path: mean squared jerk and log dimensionless jerk.

Jerk is the third time derivative of the end-effector position, taken here as the third
finite difference at the control rate. Mean squared jerk (MSJ) grows with speed and
shrinks with duration, so it compares datasets of similar motions; the log dimensionless
jerk (LDLJ, Balasubramanian et al. 2015) normalizes by duration and peak speed and is
unchanged when a motion is scaled in amplitude or in time. Closer to zero is smoother.

For an episode of T steps with positions p (T, 3) and dt = 1 / control_hz:
    jerk = Δ³p / dt³                               (T-3, 3)
    MSJ  = mean_t ||jerk_t||²                      undefined for T < 4
    v    = Δp / dt                                 (T-1, 3)
    D    = (T-1) dt,  v_peak = max_t ||v_t||,  J = Σ_t ||Δ²v / dt²||² dt = Σ_t ||jerk_t||² dt
    LDLJ = -ln(D³ / v_peak² · J)                   undefined if T < 4, v_peak = 0 or J = 0
"""

from __future__ import annotations

import numpy as np

from diffrl_eval.metrics.segments import EpisodeSegments, FrameTable

MIN_STEPS_FOR_JERK = 4


def _check_rate(control_hz: float) -> float:
    if not control_hz > 0:
        raise ValueError(f"control_hz must be positive, got {control_hz}")
    return 1.0 / float(control_hz)


def _squared_jerk_sums(segments: EpisodeSegments, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Σ ||jerk||² per episode and the number of jerk samples (T-3, floored at 0): (E,), (E,)."""
    p = segments.eef_pos
    third_difference = p[3:] - 3.0 * p[2:-1] + 3.0 * p[1:-2] - p[:-3]  # row i -> frame i+3
    squared = np.einsum("ij,ij->i", third_difference, third_difference) / dt**6
    # a difference is valid only when its four frames lie in one episode
    valid = segments.step_in_episode[3:] >= 3
    sums = np.bincount(
        segments.episode_of_row[3:][valid], weights=squared[valid], minlength=segments.n_episodes
    )
    return sums, np.maximum(segments.lengths - 3, 0)


def mean_squared_jerk(frames: FrameTable | EpisodeSegments, control_hz: float) -> np.ndarray:
    """MSJ per episode, (E,) float64 in (m/s³)² for positions in metres; NaN when T < 4."""
    dt = _check_rate(control_hz)
    segments = EpisodeSegments.of(frames)
    sums, samples = _squared_jerk_sums(segments, dt)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(samples > 0, sums / np.maximum(samples, 1), np.nan)


def log_dimensionless_jerk(frames: FrameTable | EpisodeSegments, control_hz: float) -> np.ndarray:
    """LDLJ per episode, (E,) float64, dimensionless; NaN where undefined."""
    dt = _check_rate(control_hz)
    segments = EpisodeSegments.of(frames)
    if segments.n_episodes == 0:
        return np.zeros(0)
    sums, samples = _squared_jerk_sums(segments, dt)
    p = segments.eef_pos
    first_difference = p[1:] - p[:-1]  # row i -> frame i+1
    speed = np.sqrt(np.einsum("ij,ij->i", first_difference, first_difference)) / dt
    speed_all = np.zeros(segments.n_frames)
    # frame 0 of each episode has no velocity sample: leave 0, which never raises a maximum
    speed_all[1:] = np.where(segments.step_in_episode[1:] >= 1, speed, 0.0)
    peak_speed = np.maximum.reduceat(speed_all, segments.starts)
    duration = (segments.lengths - 1) * dt
    integrated_squared_jerk = sums * dt
    defined = (samples > 0) & (peak_speed > 0) & (integrated_squared_jerk > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dimensionless = duration**3 / peak_speed**2 * integrated_squared_jerk
        return np.where(defined, -np.log(dimensionless), np.nan)
