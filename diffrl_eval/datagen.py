"""Run a generator over tasks and write one dataset: the shared path of `generate`.

Per-task seeds are derived from the run's seed and the task's name, so a task's episodes
do not change when other tasks are added to or removed from the run. Each task's work
(``fit`` then ``generate``) may run on another worker (:mod:`diffrl_eval.executor`); the
episodes are written here in task order, so the dataset is the same whichever executor
produced it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from diffrl_eval.dataset.episode import Episode
from diffrl_eval.dataset.writer import DatasetWriter, check_output_path
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from diffrl_eval.errors import UserError
from diffrl_eval.executor import Executor, LocalExecutor
from diffrl_eval.generator import Generator
from diffrl_eval.progress import progress_bar


def task_seed(seed: int, task_id: str) -> int:
    """A 31-bit seed for one task, stable under changes to the rest of the task list."""
    sequence = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(task_id.encode())])
    return int(sequence.generate_state(1)[0] & 0x7FFFFFFF)


def task_episodes(generator: Generator, n_episodes: int, job: tuple[TaskSpec, int]
                  ) -> Iterator[Episode]:
    """Fit ``generator`` on one task and yield its ``n_episodes`` episodes (``job`` is the
    task and its seed); checks what the generator promised."""
    task, seed_for_task = job
    generator.fit(task, seed=seed_for_task)
    produced = 0
    for episode in generator.generate(task, n_episodes, seed_for_task):
        if generator.env_options.get("images") and not episode.images:
            raise UserError(
                f"generator {generator.name!r} recorded no camera images although "
                "images were requested; drop --images for this source"
            )
        produced += 1
        yield episode
    if produced != n_episodes:
        raise RuntimeError(
            f"generator {generator.name!r} yielded {produced} episodes for "
            f"{task.task_id}, {n_episodes} were asked for"
        )


def task_episode_list(generator: Generator, n_episodes: int, job: tuple[TaskSpec, int]
                      ) -> list[Episode]:
    """:func:`task_episodes` as a list: what a remote worker sends back for one task."""
    return list(task_episodes(generator, n_episodes, job))


def generate_dataset(
    generator: Generator,
    tasks: Sequence[TaskSpec],
    *,
    n_episodes: int,
    seed: int,
    out: Path,
    suite: str | None,
    show_progress: bool = True,
    executor: Executor | None = None,
) -> Path:
    """Fit (if needed) and run ``generator`` on each task; write the episodes to ``out``.

    ``executor`` runs the tasks (default: one after the other in this process, streaming
    each episode into the dataset as it is produced). On a remote executor each task's
    episodes come back whole and are written in task order; if any task fails, nothing
    lands at ``out``.
    """
    if n_episodes <= 0:
        raise UserError(f"--episodes must be a positive integer, got {n_episodes}")
    if not tasks:
        raise UserError("no tasks selected")
    check_output_path(out)
    executor = executor if executor is not None else LocalExecutor()
    backend: EnvBackend = generator.backend
    jobs = [(task, task_seed(seed, task.task_id)) for task in tasks]
    # in this process the episodes stream into the writer; a worker returns them whole
    work = partial(task_episodes if executor.in_process else task_episode_list,
                   generator, n_episodes)
    successes = 0
    tasks_done = 0
    with DatasetWriter(
        out,
        source=generator.name,
        source_label=generator.label(),
        backend=backend.name,
        suite=suite,
        seed=seed,
        generator_config=generator.config_dict(),
        control_hz=backend.control_hz,
        extra={"env_options": generator.env_options},
    ) as writer, progress_bar() as progress:
        where = "" if executor.in_process else f" on {executor.describe()}"
        bar = progress.add_task(
            f"{generator.name}{where}", total=n_episodes * len(tasks), status="",
            visible=show_progress,
        )

        def task_done(_: int) -> None:
            nonlocal tasks_done
            tasks_done += 1
            if not executor.in_process:
                progress.update(bar, status=f"tasks done {tasks_done}/{len(tasks)}")

        results = executor.imap(work, jobs, desc=f"generate {generator.name}",
                                labels=[task.task_id for task in tasks], on_done=task_done)
        for task, episodes in zip(tasks, results):
            progress.update(bar, description=f"{generator.name}{where} {task.task_id}")
            for episode in episodes:
                writer.add(episode)
                successes += episode.success
                progress.update(
                    bar, advance=1, status=f"success {successes}/{writer.n_episodes}"
                )
        return writer.finalize()
