"""Evaluate a VLA checkpoint on suites: success per task, per suite and overall.

Episode ``i`` of a task starts from the task's fixed initial state ``i mod N_init`` (the
benchmark's evaluation states), with an env reset seed derived from the evaluation seed
and the task. Episodes run in a pool of in-process environments (a tabletop step costs
~0.1 ms, less than shipping observations between processes); at every decision the
model is asked once for all running episodes, whatever their task, and each episode
executes the first Te actions of its chunk. The protocol is in-distribution when every
evaluated suite was trained on, otherwise OOD zero-shot.

Shape legend: n running episodes, Ta action horizon, Te executed steps, Da action dim.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diffrl_eval import __version__
from diffrl_eval.envs.base import EnvBackend, TaskSpec, get_backend
from diffrl_eval.errors import UserError, unknown_choice
from diffrl_eval.generation import task_seed
from diffrl_eval.progress import progress_bar
from vla.checkpoint import load_vla, weights_hash
from vla.interface import VLA
from vla.results import EVAL_KIND, PROTOCOLS, SCHEMA_VERSION, aggregate_seeds, success_summary

DEFAULT_EVAL_ENVS = 25

__all__ = ["aggregate_seeds", "evaluate_checkpoint", "evaluation_tasks", "run_episodes"]


@dataclass
class EpisodeJob:
    """One evaluation episode: its task, fixed initial state and env reset seed."""

    task: TaskSpec
    init_state_index: int
    seed: int
    success: bool = False
    steps: int = 0


def evaluation_tasks(backend: EnvBackend, suites: Sequence[str],
                     tasks: Sequence[str] | None = None) -> list[TaskSpec]:
    """Tasks of ``suites`` in suite order (only ``tasks`` when given, each checked)."""
    if not suites:
        raise UserError("give at least one suite to evaluate on")
    for suite in suites:
        backend.check_suite(suite)
    selected = [t for suite in dict.fromkeys(suites) for t in backend.tasks(suite)]
    if tasks:
        by_id = {t.task_id: t for t in selected}
        for task_id in tasks:
            if task_id not in by_id:
                raise unknown_choice(f"task of {', '.join(suites)}", task_id, by_id)
        selected = [t for t in selected if t.task_id in set(tasks)]
    return selected


def episode_jobs(backend: EnvBackend, tasks: Sequence[TaskSpec], episodes_per_task: int,
                 seed: int) -> list[EpisodeJob]:
    jobs = []
    for task in tasks:
        n_init = len(backend.init_states(task.task_id))
        seeds = np.random.default_rng(task_seed(seed, task.task_id)).integers(
            2**31, size=episodes_per_task)
        jobs += [EpisodeJob(task, i % n_init, int(seeds[i])) for i in range(episodes_per_task)]
    return jobs


def _reset_options(init_state_index: int) -> dict[str, int]:
    from diffrl_eval.constants import INIT_STATE_OPTION

    return {INIT_STATE_OPTION: int(init_state_index)}


def run_episodes(model: VLA, backend: EnvBackend, jobs: Sequence[EpisodeJob], *,
                 seed: int = 0, n_envs: int = DEFAULT_EVAL_ENVS, on_episode=None) -> int:
    """Run every job to success or its step limit, filling in ``success`` and ``steps``;
    returns the environment steps taken. ``on_episode(job)`` is called as each ends."""
    env_options = model.env_options()
    envs: list[Any] = []
    env_tasks: list[str | None] = []
    obs: list[Any] = []
    running: dict[int, EpisodeJob] = {}  # slot -> episode
    pending = list(jobs)[::-1]  # popped from the end: the given order
    env_steps, decision = 0, 0
    checked: set[str] = set()

    def start(slot: int) -> None:
        job = pending.pop()
        if env_tasks[slot] != job.task.task_id:
            if envs[slot] is not None:
                envs[slot].close()
            envs[slot] = backend.make_env(job.task.task_id, **env_options)
            env_tasks[slot] = job.task.task_id
            if job.task.task_id not in checked:
                model.check_observation_space(envs[slot].observation_space, job.task.task_id)
                checked.add(job.task.task_id)
        obs[slot], _ = envs[slot].reset(seed=job.seed,
                                        options=_reset_options(job.init_state_index))
        running[slot] = job

    try:
        for slot in range(min(n_envs, len(pending))):
            envs.append(None)
            env_tasks.append(None)
            obs.append(None)
            start(slot)
        while running:
            slots = sorted(running)
            chunks = model.predict_batch([obs[s] for s in slots],
                                         [running[s].task.instruction for s in slots],
                                         seed=seed * 1_000_003 + decision)
            decision += 1
            chunks = np.clip(chunks[:, : model.executed_steps], -1.0, 1.0)
            for slot, chunk in zip(slots, chunks):
                job = running[slot]
                for action in chunk:
                    obs[slot], _, terminated, truncated, info = envs[slot].step(action)
                    job.steps += 1
                    env_steps += 1
                    if terminated or truncated:
                        job.success = bool(info.get("success", terminated))
                        del running[slot]
                        if on_episode is not None:
                            on_episode(job)
                        if pending:
                            start(slot)
                        break
    finally:
        for env in envs:
            if env is not None:
                env.close()
    return env_steps


def default_protocol(eval_suites: Sequence[str], train_suites: Sequence[str]) -> str:
    return "in-distribution" if set(eval_suites) <= set(train_suites) else "ood-zero-shot"


def evaluate_checkpoint(
    ckpt: Path,
    suites: Sequence[str],
    *,
    episodes_per_task: int,
    seed: int = 0,
    tasks: Sequence[str] | None = None,
    protocol: str | None = None,
    progress: bool = True,
    n_envs: int = DEFAULT_EVAL_ENVS,
) -> dict[str, Any]:
    """Success of checkpoint ``ckpt`` on every task of ``suites`` (kind ``diffrl-eval/vla-eval``)."""
    if episodes_per_task <= 0:
        raise UserError(f"--episodes-per-task must be a positive integer, got {episodes_per_task}")
    if n_envs <= 0:
        raise UserError(f"n_envs must be positive, got {n_envs}")
    if protocol is not None and protocol not in PROTOCOLS:
        raise unknown_choice("protocol", protocol, PROTOCOLS)
    suites = list(dict.fromkeys(suites))
    model, info = load_vla(Path(ckpt))
    backend = get_backend(info["backend"])
    selected = evaluation_tasks(backend, suites, tasks)
    training = info["training"]
    protocol = protocol or default_protocol(suites, training.get("train_suites") or [])
    jobs = episode_jobs(backend, selected, episodes_per_task, seed)

    started = time.perf_counter()
    with progress_bar() as bars:
        bar = bars.add_task(f"eval {Path(ckpt).name}", total=len(jobs), status="",
                            visible=progress)
        done = [0, 0]

        def ended(job: EpisodeJob) -> None:
            done[0] += 1
            done[1] += job.success
            bars.update(bar, advance=1, status=f"success {done[1]}/{done[0]}")

        env_steps = run_episodes(model, backend, jobs, seed=seed, n_envs=n_envs,
                                 on_episode=ended)
    wall = time.perf_counter() - started

    per_task: dict[str, Any] = {}
    for task in selected:
        own = [job for job in jobs if job.task.task_id == task.task_id]
        per_task[task.task_id] = {
            "suite": task.suite,
            "instruction": task.instruction,
            **success_summary(sum(j.success for j in own), len(own)),
            "init_state_indices": [j.init_state_index for j in own],
            "episode_seeds": [j.seed for j in own],
        }
    per_suite = {}
    for suite in suites:
        own = [job for job in jobs if job.task.suite == suite]
        per_suite[suite] = success_summary(sum(j.success for j in own), len(own))
    return {
        "kind": EVAL_KIND,
        "schema_version": SCHEMA_VERSION,
        "vla": info["vla"],
        "checkpoint": str(ckpt),
        "checkpoint_hash": weights_hash(Path(ckpt)),
        "hparams_hash": info["hparams_hash"],
        "training": {key: training[key] for key in
                     ("seed", "datasets", "sources", "train_suites")},
        "backend": info["backend"],
        "protocol": protocol,
        "eval_seed": int(seed),
        "episodes_per_task": int(episodes_per_task),
        "per_task": per_task,
        "per_suite": per_suite,
        "overall": success_summary(sum(j.success for j in jobs), len(jobs)),
        "env_steps": int(env_steps),
        "wall_seconds": round(wall, 3),
        "tool_version": __version__,
    }
