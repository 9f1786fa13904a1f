"""Run a generator over tasks and write one dataset: the shared path of `generate`.

Per-task seeds are derived from the run's seed and the task's name, so a task's episodes
do not change when other tasks are added to or removed from the run.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from diffrl_eval.dataset.writer import DatasetWriter, check_output_path
from diffrl_eval.envs.base import EnvBackend, TaskSpec
from diffrl_eval.errors import UserError
from diffrl_eval.generator import Generator
from diffrl_eval.progress import progress_bar


def task_seed(seed: int, task_id: str) -> int:
    """A 31-bit seed for one task, stable under changes to the rest of the task list."""
    sequence = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(task_id.encode())])
    return int(sequence.generate_state(1)[0] & 0x7FFFFFFF)


def generate_dataset(
    generator: Generator,
    tasks: Sequence[TaskSpec],
    *,
    n_episodes: int,
    seed: int,
    out: Path,
    suite: str | None,
    show_progress: bool = True,
) -> Path:
    """Fit (if needed) and run ``generator`` on each task; write the episodes to ``out``."""
    if n_episodes <= 0:
        raise UserError(f"--episodes must be a positive integer, got {n_episodes}")
    if not tasks:
        raise UserError("no tasks selected")
    check_output_path(out)
    backend: EnvBackend = generator.backend
    successes = 0
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
        bar = progress.add_task(
            f"{generator.name}", total=n_episodes * len(tasks), status="", visible=show_progress
        )
        for task in tasks:
            seed_for_task = task_seed(seed, task.task_id)
            progress.update(bar, description=f"{generator.name} fit {task.task_id}")
            generator.fit(task, seed=seed_for_task)
            progress.update(bar, description=f"{generator.name} {task.task_id}")
            produced = 0
            for episode in generator.generate(task, n_episodes, seed_for_task):
                if generator.env_options.get("images") and not episode.images:
                    raise UserError(
                        f"generator {generator.name!r} recorded no camera images although "
                        "images were requested; drop --images for this source"
                    )
                writer.add(episode)
                produced += 1
                successes += episode.success
                progress.update(
                    bar, advance=1, status=f"success {successes}/{writer.n_episodes}"
                )
            if produced != n_episodes:
                raise RuntimeError(
                    f"generator {generator.name!r} yielded {produced} episodes for "
                    f"{task.task_id}, {n_episodes} were asked for"
                )
        return writer.finalize()
