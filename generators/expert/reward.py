"""The training reward "1 per step while the goal holds" as an environment wrapper.

The tabletop tasks pay 1 at the first step their goal holds and end there, so an
episode that succeeds at decision 10 and one that succeeds at decision 27 earn almost the
same discounted return. Under :class:`SuccessHoldEnv` an episode instead earns 1 for every
step the goal holds and runs on: to the task's step budget (a time-limit truncation,
which PPO bootstraps from), or, with ``hold_steps``, until the goal has held that many
steps in a row (a termination, nothing to bootstrap). Reaching the goal sooner and
keeping it then earns more. Evaluation and data generation keep the task's own reward.
"""

from __future__ import annotations

from typing import Any

from diffrl_eval.envs.base import EnvBackend


class SuccessHoldEnv:
    """Wraps one env: reward = goal holds, no termination at success."""

    def __init__(self, env: Any, max_steps: int, hold_steps: int | None = None) -> None:
        self.env = env
        self.max_steps = max_steps
        self.hold_steps = hold_steps
        self._steps = 0
        self._held = 0

    def reset(self, **kwargs: Any):
        self._steps = self._held = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, _, _, _, info = self.env.step(action)
        success = bool(info["success"])
        self._steps += 1
        self._held = self._held + 1 if success else 0
        terminated = self.hold_steps is not None and self._held >= self.hold_steps
        truncated = not terminated and self._steps >= self.max_steps
        return obs, float(success), terminated, truncated, info

    def close(self) -> None:
        self.env.close()

    def __getattr__(self, name: str) -> Any:
        # everything else (rendering, task facts) is the wrapped env's
        if name == "env":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.env, name)


class SuccessHoldBackend:
    """Makes ``backend``'s envs wrapped in :class:`SuccessHoldEnv` (what the PPO
    environments are built from when ``reward_mode`` is ``success_hold``)."""

    def __init__(self, backend: EnvBackend, hold_steps: int | None = None) -> None:
        self.backend = backend
        self.hold_steps = hold_steps

    def make_env(self, task_id: str, **options: Any) -> SuccessHoldEnv:
        env = self.backend.make_env(task_id, **options)
        return SuccessHoldEnv(env, self.backend.task(task_id).max_steps, self.hold_steps)
