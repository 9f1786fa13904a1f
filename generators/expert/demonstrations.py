"""Demonstration episodes as behaviour-cloning samples (observation history, action chunk).

Recorded :class:`~diffrl_eval.dataset.Episode` objects carry proprioception and actions
but not object poses, which a state-only policy needs. The environments are
deterministic (same start, same actions, same trajectory), so the full observations are
recovered by replaying each episode's actions from its recorded start; a replay whose
proprioception differs from the recording is refused.

Shape legend: T steps of an episode, N samples, To observation steps, Ta action horizon,
Da action dim, D a key's width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from diffrl_eval.constants import OBS_STATE
from diffrl_eval.dataset.episode import Episode
from diffrl_eval.envs.base import EnvBackend
from diffrl_eval.errors import DatasetError
from generators.expert.chunk_env import reset_options
from generators.expert.observation import LOWDIM_KEYS, history_windows

# float32 observations of a bit-exact replay match exactly; the slack only absorbs
# platform differences in the last bits of the physics
REPLAY_TOLERANCE = 1e-4


@dataclass
class DemonstrationSet:
    """Behaviour-cloning samples: ``obs`` key -> (N, To, D), ``action_chunks`` (N, Ta, Da)."""

    obs: dict[str, torch.Tensor]
    action_chunks: torch.Tensor
    n_episodes: int

    def __len__(self) -> int:
        return int(self.action_chunks.shape[0])


def action_chunks(actions: np.ndarray, horizon: int) -> np.ndarray:
    """(T, Da) actions -> (T, Ta, Da): row t holds actions t .. t+Ta-1, the last repeated.

    Repeating the final action past the episode's end teaches the policy to hold still
    once the task is done instead of inventing motion.
    """
    index = np.minimum(np.arange(len(actions))[:, None] + np.arange(horizon)[None, :],
                       len(actions) - 1)
    return actions[index]


def episode_no_op_mask(actions: np.ndarray) -> np.ndarray:
    """(T, Da) actions of one episode -> (T,) bool, the OpenVLA no-op rule."""
    import polars as pl

    from diffrl_eval import constants as C
    from diffrl_eval.metrics import no_op_mask

    n = len(actions)
    frames = pl.DataFrame({  # the columns the rule reads, plus the ones a frame table must have
        C.COL_EPISODE: np.zeros(n, dtype=np.int64),
        C.COL_STEP: np.arange(n, dtype=np.int64),
        C.COL_TASK: [""] * n,
        C.COL_INSTRUCTION: [""] * n,
        C.COL_EEF_POS: np.zeros((n, C.EEF_POS_DIM), dtype=np.float32),
        C.COL_ACTION: actions.astype(np.float32),
        C.COL_SUCCESS: np.zeros(n, dtype=bool),
    })
    return no_op_mask(frames)


def replay_observations(
    backend: EnvBackend, episode: Episode, keys: tuple[str, ...] = LOWDIM_KEYS
) -> dict[str, np.ndarray]:
    """The observations before each of ``episode``'s actions: key -> (T, D) float32."""
    if episode.seed is None and episode.init_state_index is None:
        raise DatasetError(
            f"episode of task {episode.task_id!r} records neither its seed nor its initial "
            "state, so its object poses cannot be recovered by replay"
        )
    env = backend.make_env(episode.task_id)
    try:
        obs, _ = env.reset(seed=episode.seed, options=reset_options(episode.init_state_index))
        seen: dict[str, list[np.ndarray]] = {key: [] for key in keys}
        for action in episode.actions:
            for key in keys:
                seen[key].append(np.asarray(obs[key], dtype=np.float32))
            obs, *_ = env.step(action)
    finally:
        env.close()
    replayed = {key: np.stack(values) for key, values in seen.items()}
    if OBS_STATE in replayed and not np.allclose(
        replayed[OBS_STATE], episode.states, atol=REPLAY_TOLERANCE
    ):
        raise DatasetError(
            f"replaying an episode of task {episode.task_id!r} does not reproduce its "
            "recorded states; it was not recorded in this environment"
        )
    return replayed


def demonstration_set(
    backend: EnvBackend,
    episodes: Sequence[Episode],
    n_obs_steps: int,
    horizon: int,
    keys: tuple[str, ...] = LOWDIM_KEYS,
    *,
    drop_no_ops: bool = False,
) -> DemonstrationSet:
    """Every step of every successful episode as one (obs history, action chunk) sample.

    Failed demonstrations are left out: behaviour cloning imitates what reached the goal.
    With ``drop_no_ops`` the episode's no-op steps (the OpenVLA rule of
    :func:`diffrl_eval.metrics.no_op_mask`) are removed before windows and chunks are cut,
    as OpenVLA does for LIBERO's demonstrations: a pause carries no information about what
    to do, and a deterministic policy that imitates it can wait forever.
    """
    kept = [episode for episode in episodes if episode.success]
    if not kept:
        raise DatasetError("no successful demonstration to clone")
    obs: dict[str, list[np.ndarray]] = {key: [] for key in keys}
    chunks = []
    for episode in kept:
        replayed = replay_observations(backend, episode, keys)
        keep = (~episode_no_op_mask(episode.actions) if drop_no_ops
                else np.ones(len(episode.actions), dtype=bool))
        for key in keys:
            obs[key].append(history_windows(replayed[key][keep], n_obs_steps))
        chunks.append(action_chunks(episode.actions[keep], horizon))
    return DemonstrationSet(
        obs={key: torch.from_numpy(np.concatenate(values)) for key, values in obs.items()},
        action_chunks=torch.from_numpy(np.concatenate(chunks)),
        n_episodes=len(kept),
    )
