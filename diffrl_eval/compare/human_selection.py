"""The human demonstrations a comparison is given (``compare --demos-from DS``).

Where human data exist only as recordings (LIBERO's HDF5 files, brought in by ``import``)
compare cannot generate the ``human`` source. Given a human dataset DS of the run's
backend, the human source's dataset of each suite is instead the first
``episodes_per_task`` episodes of each of the suite's tasks in DS, as recorded (failed
ones too, as the tabletop's teleoperator keeps them), and the RL sources clone DS. DS is
checked once, before any stage runs; it enters the stage keys by its content hash, so
other demonstrations give other stages and the same ones, wherever they lie, the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import polars as pl

from diffrl_eval import constants as C
from diffrl_eval.dataset import Dataset, DatasetWriter, Episode
from diffrl_eval.dataset.demonstrations import DEMONSTRATION_SOURCE as HUMAN
from diffrl_eval.dataset.demonstrations import DEMOS_FROM_FLAG
from diffrl_eval.errors import UserError

_LISTED = 3  # missing tasks named in an error before "and N more"
# Episode fields read from the frame table, by column
_EPISODE_COLUMNS = {"states": C.COL_STATE, "eef_pos": C.COL_EEF_POS,
                    "actions": C.COL_ACTION, "rewards": C.COL_REWARD,
                    "successes": C.COL_SUCCESS}


def episode_table(dataset: Dataset) -> pl.DataFrame:
    """One row per episode, in recording order: episode index, task, whether it succeeded."""
    return (dataset.frames_df.group_by(C.COL_EPISODE)
            .agg(pl.col(C.COL_TASK).first(), pl.col(C.COL_SUCCESS).any())
            .sort(C.COL_EPISODE))


def check_coverage(dataset: Dataset, tasks: Sequence[str], episodes_per_task: int | None,
                   demonstrations: Mapping[str, int]) -> None:
    """Refuse, in one line, a dataset that cannot serve the run.

    Every task of ``tasks`` must have ``episodes_per_task`` episodes (the human source's
    data; None: no human source in the run) and, for each cloning source in
    ``demonstrations`` (source -> its ``n_demonstrations``), that many successful ones.
    """
    counts = {row[C.COL_TASK]: row for row in (
        episode_table(dataset).group_by(C.COL_TASK)
        .agg(pl.len().alias("episodes"), pl.col(C.COL_SUCCESS).sum().alias("successes"))
        .iter_rows(named=True))}
    missing = [task for task in tasks if task not in counts]
    if missing:
        named = ", ".join(missing[:_LISTED])
        more = f" and {len(missing) - _LISTED} more" if len(missing) > _LISTED else ""
        raise UserError(
            f"{DEMOS_FROM_FLAG} {dataset.path}: no episode of {len(missing)} of the run's "
            f"{len(tasks)} tasks: {named}{more}; give a dataset of every task the preset "
            "generates"
        )
    for task in tasks:
        found = counts[task]
        if episodes_per_task is not None and found["episodes"] < episodes_per_task:
            raise UserError(
                f"{DEMOS_FROM_FLAG} {dataset.path}: {found['episodes']} episode(s) of task "
                f"{task!r}, fewer than the preset's {episodes_per_task} per task that the "
                f"{HUMAN} source takes"
            )
        for source, needed in demonstrations.items():
            if found["successes"] < needed:
                raise UserError(
                    f"{DEMOS_FROM_FLAG} {dataset.path}: {found['successes']} successful "
                    f"episode(s) of task {task!r}, fewer than the {needed} demonstrations "
                    f"{source} clones (n_demonstrations)"
                )


def selected_episodes(dataset: Dataset, tasks: Sequence[str], episodes_per_task: int
                      ) -> list[int]:
    """Episode indices of the first ``episodes_per_task`` episodes of each task, in the
    order of ``tasks``, then of recording."""
    table = episode_table(dataset)
    return [int(index) for task in tasks
            for index in table.filter(pl.col(C.COL_TASK) == task)[C.COL_EPISODE]
            .head(episodes_per_task)]


def recorded_episodes(dataset: Dataset, indices: Sequence[int]) -> Iterator[Episode]:
    """Episodes ``indices`` of ``dataset`` as recorded: frames, camera images, and what
    replays them (seed, fixed initial state, initial simulator state). One at a time:
    a suite's camera frames need not fit in memory."""
    seeds = dataset.manifest.get("episode_seeds") or []
    starts = dataset.manifest.get("episode_init_states") or []
    frames = dataset.frames_df.filter(pl.col(C.COL_EPISODE).is_in(list(indices)))
    by_index = frames.sort(C.COL_EPISODE, C.COL_STEP).partition_by(C.COL_EPISODE,
                                                                    as_dict=True)
    for index in indices:
        rows = by_index[(index,)]
        yield Episode(
            task_id=rows[C.COL_TASK][0], instruction=rows[C.COL_INSTRUCTION][0],
            **{name: rows[column].to_numpy() for name, column in _EPISODE_COLUMNS.items()},
            seed=seeds[index] if index < len(seeds) else None,
            init_state_index=starts[index] if index < len(starts) else None,
            init_sim_state=dataset.init_sim_state(index),
            obs_after_action=dataset.obs_after_action(index),
            images=dataset.images(index))


def write_selection(dataset: Dataset, tasks: Sequence[str], episodes_per_task: int,
                    out: Path, suite: str) -> Path:
    """Write the human source's dataset of ``suite`` (``tasks``) from ``dataset`` at
    ``out``; its manifest records where the episodes came from."""
    indices = selected_episodes(dataset, tasks, episodes_per_task)
    origin = {"path": str(dataset.path), "content_hash": dataset.content_hash,
              "episodes": indices}
    with DatasetWriter(out, source=dataset.source, source_label=dataset.source_label,
                       backend=dataset.backend, suite=suite,
                       generator_config=dataset.manifest.get("generator_config") or {},
                       control_hz=dataset.control_hz,
                       extra={"demos_from": origin}) as writer:
        for episode in recorded_episodes(dataset, indices):
            writer.add(episode)
        return writer.finalize()
