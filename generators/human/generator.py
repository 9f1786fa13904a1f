"""``human`` on the tabletop backend: demonstrations from a simulated teleoperator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from diffrl_eval.constants import SIMULATED_TELEOP_LABEL
from diffrl_eval.dataset.episode import Episode
from diffrl_eval.envs.base import TaskSpec
from diffrl_eval.errors import UserError
from diffrl_eval.generator import Generator, GeneratorConfig
from generators.human.operator import OperatorStyle
from generators.human.teleoperator import run_episode


@dataclass
class HumanConfig(GeneratorConfig):
    """Operator model of the simulated teleoperator (ranges are drawn per episode)."""

    pause_probability: float = 0.35
    pause_steps: tuple[int, int] = (3, 10)
    speed: tuple[float, float] = (0.5, 0.9)
    overshoot_probability: float = 0.4
    overshoot_distance: tuple[float, float] = (0.01, 0.03)
    tremor_amplitude: float = 0.06
    tremor_smoothing: float = 0.85
    use_init_states: bool = True  # start episode i from fixed init state i mod 50

    def __post_init__(self) -> None:
        self.pause_steps = tuple(int(v) for v in self.pause_steps)  # type: ignore[assignment]
        self.speed = tuple(float(v) for v in self.speed)  # type: ignore[assignment]
        self.overshoot_distance = tuple(  # type: ignore[assignment]
            float(v) for v in self.overshoot_distance)
        checks = [
            (0.0 <= self.pause_probability <= 1.0, "pause_probability must be in [0, 1]"),
            (len(self.pause_steps) == 2 and 1 <= self.pause_steps[0] <= self.pause_steps[1],
             "pause_steps must be (min, max) with 1 <= min <= max"),
            (len(self.speed) == 2 and 0.0 < self.speed[0] <= self.speed[1] <= 1.0,
             "speed must be (min, max) with 0 < min <= max <= 1"),
            (0.0 <= self.overshoot_probability <= 1.0,
             "overshoot_probability must be in [0, 1]"),
            (len(self.overshoot_distance) == 2
             and 0.0 <= self.overshoot_distance[0] <= self.overshoot_distance[1] <= 0.1,
             "overshoot_distance must be (min, max) metres with 0 <= min <= max <= 0.1"),
            (0.0 <= self.tremor_amplitude <= 0.3, "tremor_amplitude must be in [0, 0.3]"),
            (0.0 <= self.tremor_smoothing < 1.0, "tremor_smoothing must be in [0, 1)"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(f"human generator: {message}")


class HumanGenerator(Generator):
    """Simulated teleoperation: scripted skills through a human operator model."""

    name: ClassVar[str] = "human"
    description: ClassVar[str] = (
        "simulated teleoperator on tabletop: scripted skills with reaction pauses, "
        "overshoot, tremor and several strategies per task"
    )
    source_label: ClassVar[str] = SIMULATED_TELEOP_LABEL
    config_cls: ClassVar[type[GeneratorConfig]] = HumanConfig

    def generate(self, task: TaskSpec, n_episodes: int, seed: int) -> Iterator[Episode]:
        """Yield ``n_episodes`` teleoperated episodes of ``task``, every attempt kept.

        Failed attempts are yielded too (their ``success`` is False) so that the success
        rate of the data is measured, not assumed. Episode ``i`` starts from fixed
        initial state ``i mod 50`` (or a placement sampled from its seed when
        ``use_init_states`` is off); the operator's randomness comes from ``(seed, i)``.
        """
        if n_episodes <= 0:
            raise UserError(f"number of episodes must be positive, got {n_episodes}")
        config: HumanConfig = self.config  # type: ignore[assignment]
        # Cameras are an environment option (``generate --images``), not operator style.
        record_images = bool(self.env_options.get("images", False))
        env = self.backend.make_env(task.task_id, **self.env_options)
        if not hasattr(env, "privileged_state"):
            raise UserError(
                f"the human generator's simulated teleoperator needs the tabletop backend; "
                f"backend {self.backend.name!r} has no privileged state"
            )
        try:
            n_init = len(self.backend.init_states(task.task_id))
            for index in range(n_episodes):
                rng = np.random.default_rng([seed, index])
                style = OperatorStyle(
                    pause_probability=config.pause_probability,
                    pause_steps=config.pause_steps,
                    speed=float(rng.uniform(*config.speed)),
                    overshoot_probability=config.overshoot_probability,
                    overshoot_distance=config.overshoot_distance,
                    tremor_amplitude=config.tremor_amplitude,
                    tremor_smoothing=config.tremor_smoothing,
                )
                yield run_episode(
                    env,
                    init_state_index=index % n_init if config.use_init_states else None,
                    env_seed=int(rng.integers(2**31)),
                    style=style,
                    rng=rng,
                    record_images=record_images,
                )
        finally:
            env.close()
