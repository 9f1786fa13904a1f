"""Frame tables built in memory for the metric tests (same columns and types as a dataset)."""

from __future__ import annotations

import numpy as np
import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.dataset import Episode


def make_episode(
    task_id: str = "task_a",
    *,
    actions: np.ndarray | None = None,
    eef_pos: np.ndarray | None = None,
    successes: np.ndarray | list[bool] | None = None,
    length: int | None = None,
) -> Episode:
    """An Episode where anything not given is zeros (and never successful)."""
    for given in (actions, eef_pos, successes):
        if given is not None:
            length = len(given)
            break
    assert length is not None, "give at least one array or a length"
    return Episode(
        task_id=task_id,
        instruction=f"do {task_id}",
        states=np.zeros((length, C.STATE_DIM)),
        eef_pos=np.zeros((length, C.EEF_POS_DIM)) if eef_pos is None else eef_pos,
        actions=np.zeros((length, C.ACTION_DIM)) if actions is None else actions,
        rewards=np.zeros(length),
        successes=np.zeros(length, dtype=bool) if successes is None else successes,
    )


def frames_of(episodes: list[Episode]) -> pl.DataFrame:
    """The frame table the dataset writer would store for ``episodes`` (index = position)."""
    lengths = [e.length for e in episodes]
    done = np.concatenate([np.arange(n) == n - 1 for n in lengths])
    return pl.DataFrame(
        [
            pl.Series(C.COL_EPISODE, np.repeat(np.arange(len(episodes)), lengths), pl.Int64),
            pl.Series(C.COL_STEP, np.concatenate([np.arange(n) for n in lengths]), pl.Int64),
            pl.Series(C.COL_TASK, [e.task_id for e in episodes for _ in range(e.length)]),
            pl.Series(C.COL_INSTRUCTION, [e.instruction for e in episodes for _ in range(e.length)]),
            pl.Series(C.COL_STATE, np.concatenate([e.states for e in episodes])),
            pl.Series(C.COL_EEF_POS, np.concatenate([e.eef_pos for e in episodes])),
            pl.Series(C.COL_ACTION, np.concatenate([e.actions for e in episodes])),
            pl.Series(C.COL_REWARD, np.concatenate([e.rewards for e in episodes])),
            pl.Series(C.COL_SUCCESS, np.concatenate([e.successes for e in episodes])),
            pl.Series(C.COL_DONE, done),
        ]
    )
