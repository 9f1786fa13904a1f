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


def _row_values(segments: EpisodeSegments, values: np.ndarray, lag: int) -> np.ndarray:
    """Place a lagged difference (N-lag,) on its last frame's row, 0 where it spans episodes."""
    rows = np.zeros(segments.n_frames)
    rows[lag:] = values
    rows[segments.step_in_episode < lag] = 0.0
    return rows


def jerk_metrics(
    frames: FrameTable | EpisodeSegments, control_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """MSJ and LDLJ per episode in one pass: two (E,) float64 arrays, NaN where undefined."""
    dt = _check_rate(control_hz)
    segments = EpisodeSegments.of(frames)
    if segments.n_episodes == 0:
        return np.zeros(0), np.zeros(0)
    p = segments.eef_pos_by_dim  # (3, N)
    third_difference = np.diff(p, n=3, axis=1)  # (3, N-3)
    squared_jerk = (third_difference**2).sum(axis=0) / dt**6
    squared_jerk_sum = segments.per_episode_sum(_row_values(segments, squared_jerk, 3))
    jerk_samples = np.maximum(segments.lengths - 3, 0)

    first_difference = np.diff(p, axis=1)  # (3, N-1)
    speed = np.sqrt((first_difference**2).sum(axis=0)) / dt
    # speeds are >= 0, so the zero left on each episode's first row never raises a maximum
    peak_speed = np.maximum.reduceat(_row_values(segments, speed, 1), segments.starts)
    duration = (segments.lengths - 1) * dt
    integrated_squared_jerk = squared_jerk_sum * dt

    defined = (jerk_samples > 0) & (peak_speed > 0) & (integrated_squared_jerk > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        msj = np.where(jerk_samples > 0, squared_jerk_sum / np.maximum(jerk_samples, 1), np.nan)
        dimensionless = duration**3 / peak_speed**2 * integrated_squared_jerk
        ldlj = np.where(defined, -np.log(dimensionless), np.nan)
    return msj, ldlj


def mean_squared_jerk(frames: FrameTable | EpisodeSegments, control_hz: float) -> np.ndarray:
    """MSJ per episode, (E,) float64 in (m/s³)² for positions in metres; NaN when T < 4."""
    return jerk_metrics(frames, control_hz)[0]


def log_dimensionless_jerk(frames: FrameTable | EpisodeSegments, control_hz: float) -> np.ndarray:
    """LDLJ per episode, (E,) float64, dimensionless; NaN where undefined."""
    return jerk_metrics(frames, control_hz)[1]
