"""The operator model: how a person's hand turns an intention into 7-D commands.

The scripted skills say *where* to go (:class:`~generators.human.skills.Waypoint`); the
operator decides *how*, with the imperfections of real teleoperation:

* reaction pauses - a few steps of exactly zero motion (and an unchanged gripper
  command) before starting a new movement: the no-ops the data-quality metrics count;
* speed variation - a per-episode preferred speed, modulated slowly during the episode;
* overshoot and correction - on free-space moves the hand sometimes aims past the
  target and comes back;
* hand tremor - low-frequency noise (a few Hz at 20 Hz control) on the motion commands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffrl_eval.envs.tabletop.control import POS_STEP_LIMIT, ROT_STEP_LIMIT
from generators.human.skills import Waypoint


@dataclass(frozen=True)
class OperatorStyle:
    """Operator parameters (drawn per episode from the generator's configuration)."""

    pause_probability: float  # chance of a reaction pause before each new waypoint
    pause_steps: tuple[int, int]  # inclusive range of a pause's length
    speed: float  # preferred speed, as a fraction of the per-step limit
    overshoot_probability: float  # chance to overshoot a free-space move
    overshoot_distance: tuple[float, float]  # metres past the target
    tremor_amplitude: float  # standard deviation of the tremor, action units
    tremor_smoothing: float  # AR(1) coefficient per step (higher = lower frequency)


class Operator:
    """Turns waypoints into actions for one episode; all randomness from ``rng``."""

    GAIN = 0.6  # fraction of the remaining error commanded per step
    ROT_GAIN = 0.7
    MAX_WAYPOINT_STEPS = 45  # a person gives up on a precise approach and moves on

    def __init__(self, style: OperatorStyle, rng: np.random.Generator) -> None:
        self.style = style
        self.rng = rng
        self._tremor = np.zeros(3)
        self._speed_phase = rng.uniform(0, 2 * np.pi)
        self._t = 0
        self.last_grip = -1.0

    def start(self, waypoint: Waypoint, eef: np.ndarray) -> tuple[int, np.ndarray | None]:
        """Decide how to begin ``waypoint``: pause length and an overshoot aim (or None)."""
        pause = 0
        if self.rng.random() < self.style.pause_probability:
            pause = int(self.rng.integers(self.style.pause_steps[0],
                                          self.style.pause_steps[1] + 1))
        aim = None
        if waypoint.transport and self.rng.random() < self.style.overshoot_probability:
            direction = np.asarray(waypoint.position) - eef
            direction[2] = 0.0
            norm = np.linalg.norm(direction)
            if norm > 0.05:
                past = self.rng.uniform(*self.style.overshoot_distance)
                aim = np.asarray(waypoint.position) + direction / norm * past
        return pause, aim

    def pause_action(self) -> np.ndarray:
        """Exactly zero motion; the gripper command stays what it was."""
        action = np.zeros(7)
        action[6] = self.last_grip
        return action

    def move_action(self, target: np.ndarray, yaw_error: float, grip: float,
                    eef: np.ndarray) -> np.ndarray:
        """One step towards ``target`` (3,) with tremor and the current speed."""
        self._t += 1
        speed = self.style.speed * (1.0 + 0.25 * np.sin(0.08 * self._t + self._speed_phase))
        step = self.GAIN * (target - eef) / POS_STEP_LIMIT
        norm = np.linalg.norm(step)
        if norm > speed:
            step *= speed / norm
        a = self.style.tremor_smoothing
        self._tremor = a * self._tremor + np.sqrt(1 - a * a) * self.rng.normal(
            0.0, self.style.tremor_amplitude, 3)
        action = np.zeros(7)
        action[:3] = step + self._tremor
        action[5] = np.clip(self.ROT_GAIN * yaw_error / ROT_STEP_LIMIT, -speed, speed)
        action[6] = grip
        self.last_grip = grip
        return np.clip(action, -1.0, 1.0)
