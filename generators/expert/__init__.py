"""The expert-training layer the RL generators share: turning environment observations
into policy inputs, behaviour cloning on demonstrations, chunk-level stepping of parallel
environments, the resumable training run and evaluation of a policy on fixed initial
states. The PPO loop itself is :mod:`generators.ppo.trainer`.

Backbone-agnostic: the same code drives the diffusion policy (``diffusion-ppo``) and the
Gaussian policy (``gaussian-ppo``); only what ``policy.act`` records differs.
"""

from generators.expert.bc import BCConfig, BCStats, train_bc
from generators.expert.bc_samples import (
    DemonstrationSet,
    action_chunks,
    demonstration_set,
    replay_observations,
)
from generators.expert.chunk_env import ChunkOutcome, ChunkVectorEnv
from generators.expert.evaluation import EvaluationResult, evaluate, rollout_episodes
from generators.expert.observation import (
    LOWDIM_KEYS,
    ObservationHistory,
    history_windows,
    state_policy_config,
)

__all__ = [
    "LOWDIM_KEYS",
    "BCConfig",
    "BCStats",
    "ChunkOutcome",
    "ChunkVectorEnv",
    "DemonstrationSet",
    "EvaluationResult",
    "ObservationHistory",
    "action_chunks",
    "demonstration_set",
    "evaluate",
    "history_windows",
    "replay_observations",
    "rollout_episodes",
    "state_policy_config",
    "train_bc",
]
