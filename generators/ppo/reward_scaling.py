"""Running reward scaling: rewards divided by the spread of a discounted return.

PPO's value loss and advantage scale follow the reward's scale; a reward of 1 per
successful step makes returns of up to ~100 per episode. Dividing every reward by the
running standard deviation of a discounted return (kept per environment, reset when an
episode ends, pooled into one running variance) keeps value targets near unit scale
without subtracting a mean, which would change which episodes are better. This is the
scaling of Phasic Policy Gradient that DPPO uses for its sparse robomimic rewards.

Shape legend: S decisions per env, N environments.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SCALE_EPS = 1e-8  # keeps the division finite before any variance has been seen


class RunningRewardScaler:
    """r -> r / std(running discounted return), std over every (decision, env) seen."""

    def __init__(self, n_envs: int, gamma: float) -> None:
        self.gamma = gamma
        self.returns = np.zeros(n_envs)
        # running moments of the discounted returns; a tiny prior count of a unit variance
        self.count = 1e-4
        self.mean = 0.0
        self.var = 1.0

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """Scale ``rewards`` (S, N) of consecutive decisions; ``dones`` (S, N) marks the
        decisions after which an episode ended (its return restarts from zero)."""
        rewards = np.asarray(rewards, dtype=np.float64)
        seen = np.empty_like(rewards)
        for s in range(rewards.shape[0]):
            self.returns = self.returns * self.gamma + rewards[s]
            seen[s] = self.returns
            self.returns = np.where(dones[s], 0.0, self.returns)
        self._update(seen.ravel())
        return rewards / np.sqrt(self.var + SCALE_EPS)

    def _update(self, values: np.ndarray) -> None:
        # Chan et al.'s parallel combination of (count, mean, variance)
        batch_mean, batch_var, batch_count = values.mean(), values.var(), values.size
        delta = batch_mean - self.mean
        total = self.count + batch_count
        m2 = (self.var * self.count + batch_var * batch_count
              + delta**2 * self.count * batch_count / total)
        self.mean = self.mean + delta * batch_count / total
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        return {"returns": self.returns.tolist(), "count": self.count, "mean": self.mean,
                "var": self.var}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.returns = np.asarray(state["returns"], dtype=np.float64)
        self.count, self.mean, self.var = state["count"], state["mean"], state["var"]
