"""Demonstration episodes as behaviour-cloning samples (observation history, action chunk).

Where the demonstrations come from: the ``human`` generator (the tabletop's simulated
teleoperator), or, given a dataset directory (``demos_from``, written by ``import`` or
``generate --source human``), that dataset's episodes of the task. A backend whose
human demonstrations exist only as recordings (LIBERO) needs the dataset.

Recorded episodes carry proprioception and actions but not object poses, which a
state-only policy needs: the observations are recovered by replaying each episode's
actions from its recorded start (:mod:`diffrl_eval.dataset.replay`, shared with the
VLA; its names are re-exported here).

Shape legend: T steps of an episode, N samples, To observation steps, Ta action horizon,
Da action dim, D a key's width.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffrl_eval import constants as C
from diffrl_eval import registry
from diffrl_eval.dataset.demonstrations import (
    DEMONSTRATION_SOURCE,  # the generator, and the dataset source, experts clone
    DEMOS_FROM_FLAG,
    load_demonstrations,
)
from diffrl_eval.dataset.episode import Episode, action_chunks
from diffrl_eval.dataset.format import MANIFEST_NAME
from diffrl_eval.dataset.replay import (  # noqa: F401  (re-exported: the experts' replay)
    RECORDED_START_SEED,
    RECORDED_START_TOLERANCE,
    REPLAY_TOLERANCE,
    check_replay,
    replay_observations,
    replay_start,
)
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from diffrl_eval.errors import DatasetError, UserError
from generators.expert.observation import LOWDIM_KEYS, history_windows


@dataclass
class DemonstrationSet:
    """Behaviour-cloning samples: ``obs`` key -> (N, To, D), ``action_chunks`` (N, Ta, Da)."""

    obs: dict[str, torch.Tensor]
    action_chunks: torch.Tensor
    n_episodes: int

    def __len__(self) -> int:
        return int(self.action_chunks.shape[0])


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


def demonstration_set(
    backend: EnvBackend,
    episodes: Sequence[Episode],
    n_obs_steps: int,
    horizon: int,
    keys: tuple[str, ...] = LOWDIM_KEYS,
    *,
    drop_no_ops: bool = False,
    env_options: dict[str, Any] | None = None,
) -> DemonstrationSet:
    """Every step of every successful episode as one (obs history, action chunk) sample.

    Failed demonstrations are left out: behaviour cloning imitates what reached the goal.
    With ``drop_no_ops`` the episode's no-op steps (the OpenVLA rule of
    :func:`diffrl_eval.metrics.no_op_mask`) are removed before windows and chunks are cut,
    as OpenVLA does for LIBERO's demonstrations: a pause carries no information about what
    to do, and a deterministic policy that imitates it can wait forever. ``env_options``
    go to the replaying envs (``images``/``image_size`` for a camera policy's ``keys``).
    """
    kept = [episode for episode in episodes if episode.success]
    if not kept:
        raise DatasetError("no successful demonstration to clone")
    obs: dict[str, list[np.ndarray]] = {key: [] for key in keys}
    chunks = []
    envs: dict[str, object] = {}  # one env per task, reused across its episodes
    try:
        for episode in kept:
            if episode.task_id not in envs:
                envs[episode.task_id] = backend.make_env(episode.task_id, **(env_options or {}))
            replayed = replay_observations(backend, episode, keys, env=envs[episode.task_id])
            keep = (~episode_no_op_mask(episode.actions) if drop_no_ops
                    else np.ones(len(episode.actions), dtype=bool))
            for key in keys:
                obs[key].append(history_windows(replayed[key][keep], n_obs_steps))
            chunks.append(action_chunks(episode.actions[keep], horizon))
    finally:
        for env in envs.values():
            env.close()
    return DemonstrationSet(
        obs={key: torch.from_numpy(np.concatenate(values)) for key, values in obs.items()},
        action_chunks=torch.from_numpy(np.concatenate(chunks)),
        n_episodes=len(kept),
    )


# --- where the demonstrations come from ------------------------------------------------
def missing_demonstrations_error(backend: EnvBackend) -> UserError:
    """The error for an expert on a backend whose human demonstrations must be given."""
    return UserError(
        f"the RL experts clone human demonstrations, which backend {backend.name!r} does "
        f"not generate: {backend.human_demonstrations_hint}, then pass "
        f"{DEMOS_FROM_FLAG} OUT"
    )


def dataset_fingerprint(path: str | Path) -> str:
    """What identifies a dataset's content, wherever it lies: its manifest's frame hash."""
    if not Path(path).is_dir():
        raise DatasetError(f"{DEMOS_FROM_FLAG} {path}: no such dataset directory")
    manifest = Path(path) / MANIFEST_NAME
    if not manifest.is_file():
        raise DatasetError(f"{DEMOS_FROM_FLAG} {path}: not a dataset (no {MANIFEST_NAME})")
    try:
        return str(json.loads(manifest.read_text())["content_hash"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"{manifest}: no readable content_hash ({exc})") from None


def recorded_demonstrations(
    path: str | Path, backend: EnvBackend, task: TaskSpec, n_episodes: int
) -> list[Episode]:
    """The first ``n_episodes`` successful episodes of ``task`` in the dataset at ``path``.

    Refused, in one line: a dataset that is not a human one of ``backend``, one without the
    task, one with fewer successful episodes of it, actions of another width than the envs
    take, or an episode that records no start to replay it from.
    """
    # refuses another source or backend, and actions not 7-D (the format's)
    dataset = load_demonstrations(path, backend.name)
    frames = dataset.frames_df
    rows = frames.filter(frames[C.COL_TASK] == task.task_id)
    if rows.height == 0:
        tasks = sorted(dataset.task_instructions)
        raise UserError(
            f"{DEMOS_FROM_FLAG} {path}: no episode of task {task.task_id!r}; its tasks: "
            f"{', '.join(tasks)}"
        )
    seeds = dataset.manifest.get("episode_seeds") or []
    starts = dataset.manifest.get("episode_init_states") or []
    episodes: list[Episode] = []
    n_of_task = 0
    for (index,), steps in rows.sort(C.COL_EPISODE, C.COL_STEP).group_by(
            [C.COL_EPISODE], maintain_order=True):
        n_of_task += 1
        if not steps[C.COL_SUCCESS].any() or len(episodes) == n_episodes:
            continue
        index = int(index)
        sim_state = dataset.init_sim_state(index)
        if (index >= len(seeds) or seeds[index] is None) and (
                index >= len(starts) or starts[index] is None) and sim_state is None:
            raise DatasetError(
                f"{DEMOS_FROM_FLAG} {path}: episode {index} ({task.task_id}) records neither "
                "its seed nor its initial state, so the object poses the state-only experts "
                "read cannot be recovered by replay (a LIBERO demo file imported now keeps "
                "each demo's first simulator state; import it again)"
            )
        episodes.append(dataset.episode(index, steps))
    if len(episodes) < n_episodes:
        raise UserError(
            f"{DEMOS_FROM_FLAG} {path}: {len(episodes)} successful episode(s) of task "
            f"{task.task_id!r} (of {n_of_task}), fewer than the {n_episodes} demonstrations "
            "asked for; lower --demos (n_demonstrations) or give more demonstrations"
        )
    return episodes


def check_demonstrations(backend: EnvBackend, task: TaskSpec, n_episodes: int,
                         demos_from: str | None) -> None:
    """Refuse, before any training, demonstrations that cannot be had (cheap: no env)."""
    if demos_from is not None:
        recorded_demonstrations(demos_from, backend, task, n_episodes)
    elif backend.human_demonstrations_hint is not None:
        raise missing_demonstrations_error(backend)


def demonstration_episodes(backend: EnvBackend, task: TaskSpec, n_episodes: int, seed: int,
                           demos_from: str | None) -> list[Episode]:
    """The episodes an expert of ``task`` clones: from ``demos_from`` (a dataset directory)
    when given, else ``n_episodes`` from the human generator with ``seed``."""
    if demos_from is not None:
        return recorded_demonstrations(demos_from, backend, task, n_episodes)
    if backend.human_demonstrations_hint is not None:
        raise missing_demonstrations_error(backend)
    human = registry.generators.load(DEMONSTRATION_SOURCE)(backend)
    return list(human.generate(task, n_episodes, seed))
