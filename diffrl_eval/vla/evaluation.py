"""Evaluate a VLA checkpoint on suites: success per task, per suite and overall.

Episode ``i`` of a task starts from the task's fixed initial state ``i mod N_init`` (the
benchmark's evaluation states), with an env reset seed drawn for (evaluation seed, task,
i). The policy's sampling noise at the episode's k-th decision is seeded by (episode
seed, k) alone, so an episode does not depend on which other episodes run beside it.

The episodes are cut into jobs: one per task and checkpoint, or chunks of
``episodes_per_job`` episodes of one task. An :class:`~diffrl_eval.executor.Executor`
runs the jobs, in this process or on Ray workers, and the results are assembled in job
order. A job always runs the same way, wherever it runs: its episodes in a pool of up to
``n_envs`` in-process environments of its task (a tabletop step costs ~0.1 ms, less
than shipping observations between processes), the model asked once per decision for
every running episode, each episode executing the first Te actions of its chunk, and
torch on one thread (how many threads, and which rows share a batch, can change the last
bits of a prediction). So the results are the same whichever executor ran the jobs. The
protocol is in-distribution when every evaluated suite was trained on, otherwise OOD
zero-shot.

Shape legend: n running episodes, Ta action horizon, Te executed steps, Da action dim.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diffrl_eval import __version__
from diffrl_eval.datagen import task_seed
from diffrl_eval.device import torch_threads
from diffrl_eval.documents import PROTOCOLS, VlaEvalResult
from diffrl_eval.envs.base import EnvBackend, TaskSpec, get_backend
from diffrl_eval.errors import UserError, unknown_choice
from diffrl_eval.executor import Executor, LocalExecutor
from diffrl_eval.progress import progress_bar
from diffrl_eval.vla.aggregate import aggregate_seeds, success_summary
from diffrl_eval.vla.checkpoint import (
    INFO_FILE,
    checkpoint_hash,
    load_vla,
    read_info,
    untrained_info,
)
from diffrl_eval.vla.interface import VLA

DEFAULT_EVAL_ENVS = 25

__all__ = ["EvalJob", "EpisodeJob", "aggregate_seeds", "check_eval_options", "checkpoint_info",
           "evaluate_checkpoint", "evaluate_checkpoints", "evaluation_tasks", "EvalPlan",
           "plan_result", "run_episodes", "run_eval_job"]


@dataclass
class EpisodeJob:
    """One evaluation episode: its task, index in the task, fixed initial state and env
    reset seed; ``success``, ``steps``, ``decisions`` and ``actions_digest`` (SHA-256 of
    the executed actions as float64) are filled in as it runs."""

    task: TaskSpec
    index: int
    init_state_index: int
    seed: int
    success: bool = False
    steps: int = 0
    decisions: int = 0
    actions_digest: str = ""
    record: bool = False  # keep the executed actions, to replay the episode into a video
    actions: list[np.ndarray] | None = None

    def noise_seed(self) -> int:
        """The policy's noise seed for this episode's next decision: from the episode's
        seed and the decision's index alone (64 bits)."""
        state = np.random.SeedSequence([self.seed, self.decisions]).generate_state(1, np.uint64)
        return int(state[0])


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
    """Every task's episodes, in task order. Episode i's reset seed is the i-th draw of a
    generator seeded by (``seed``, task): it does not depend on the other tasks or on how
    many episodes the task has."""
    jobs = []
    for task in tasks:
        n_init = len(backend.init_states(task.task_id))
        seeds = np.random.default_rng(task_seed(seed, task.task_id)).integers(
            2**31, size=episodes_per_task)
        jobs += [EpisodeJob(task, index=i, init_state_index=i % n_init, seed=int(seeds[i]))
                 for i in range(episodes_per_task)]
    return jobs


def _reset_options(init_state_index: int) -> dict[str, int]:
    from diffrl_eval.constants import INIT_STATE_OPTION

    return {INIT_STATE_OPTION: int(init_state_index)}


def run_episodes(model: VLA, backend: EnvBackend, jobs: Sequence[EpisodeJob], *,
                 n_envs: int = DEFAULT_EVAL_ENVS,
                 on_episode: Callable[[EpisodeJob], None] | None = None) -> int:
    """Run every job to success or its step limit, filling in ``success``, ``steps``,
    ``decisions`` and ``actions_digest``; returns the environment steps taken.
    ``on_episode(job)`` is called as each ends. Up to ``n_envs`` episodes run side by side,
    started in the given order."""
    env_options = model.env_options()
    envs: list[Any] = []
    env_tasks: list[str | None] = []
    obs: list[Any] = []
    running: dict[int, EpisodeJob] = {}  # slot -> episode
    hashers: dict[int, Any] = {}  # slot -> SHA-256 of its episode's executed actions
    pending = list(jobs)[::-1]  # popped from the end: the given order
    env_steps = 0
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
        hashers[slot] = hashlib.sha256()
        job.actions = [] if job.record else None

    try:
        for slot in range(min(n_envs, len(pending))):
            envs.append(None)
            env_tasks.append(None)
            obs.append(None)
            start(slot)
        while running:
            slots = sorted(running)
            chunks = model.predict_rows([obs[s] for s in slots],
                                        [running[s].task.instruction for s in slots],
                                        [running[s].noise_seed() for s in slots])
            chunks = np.clip(_checked_chunks(model, chunks, len(slots), envs[slots[0]]
                                             )[:, : model.executed_steps], -1.0, 1.0)
            for slot, chunk in zip(slots, chunks):
                job = running[slot]
                job.decisions += 1
                for action in chunk:
                    hashers[slot].update(np.asarray(action, dtype=np.float64).tobytes())
                    if job.actions is not None:
                        job.actions.append(np.array(action, dtype=np.float64))
                    obs[slot], _, terminated, truncated, info = envs[slot].step(action)
                    job.steps += 1
                    env_steps += 1
                    if terminated or truncated:
                        job.success = bool(info.get("success", terminated))
                        job.actions_digest = hashers[slot].hexdigest()
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


def _checked_chunks(model: VLA, chunks: Any, batch: int, env: Any) -> np.ndarray:
    """The model's answer as (B, Ta, Da) floats, or a one-line error naming the VLA when it
    is not action chunks for this env (a plug-in's bug must not surface as a traceback
    deep in the env)."""
    chunks = np.asarray(chunks)
    if chunks.dtype.kind not in "fiu":
        raise UserError(f"VLA {model.name!r} returned actions of dtype {chunks.dtype}; "
                        "expected numbers")
    action_dim = int(np.prod(env.action_space.shape))
    if chunks.ndim != 3 or chunks.shape[0] != batch or chunks.shape[2] != action_dim \
            or chunks.shape[1] < 1:
        raise UserError(f"VLA {model.name!r} returned actions of shape {chunks.shape}; "
                        f"expected ({batch}, Ta, {action_dim}) action chunks")
    if not np.isfinite(chunks).all():
        raise UserError(f"VLA {model.name!r} returned NaN or infinite actions")
    return chunks


# --- jobs: what an executor runs ---------------------------------------------------------------
@dataclass(frozen=True)
class EvalJob:
    """One executor item: some episodes of one task, evaluated with one checkpoint.

    ``checkpoint`` is an absolute path that every worker must be able to read;
    ``checkpoint_hash`` is the VLA's content hash of it as the caller saw it; ``vla`` the
    VLA that reads it (empty: the one its ``checkpoint.json`` names); ``device`` the torch
    device the model runs on.
    """

    checkpoint: str
    checkpoint_hash: str
    backend: str
    episodes: tuple[EpisodeJob, ...]
    n_envs: int
    label: str
    vla: str = ""
    device: str = "cpu"


@dataclass(frozen=True)
class JobOutcome:
    """What a job sends back: per episode (in the job's order) success, steps, the digest
    of its executed actions, and the actions (Te*decisions, Da) of a recorded episode."""

    successes: tuple[bool, ...]
    steps: tuple[int, ...]
    digests: tuple[str, ...]
    env_steps: int
    seconds: float
    actions: tuple[np.ndarray | None, ...] = ()


_loaded: dict[tuple[str, str, str, str], VLA] = {}  # this process's last model


def _model(job: EvalJob) -> VLA:
    """The model of the job's checkpoint, loaded once per process while its jobs come in;
    a checkpoint whose content is not the one the caller hashed is refused."""
    key = (job.checkpoint, job.checkpoint_hash, job.vla, job.device)
    if key not in _loaded:
        _loaded.clear()
        vla = job.vla or read_info(Path(job.checkpoint))["vla"]
        found = checkpoint_hash(Path(job.checkpoint), vla)
        if found != job.checkpoint_hash:
            raise UserError(
                f"checkpoint {job.checkpoint} has content hash {found} here, "
                f"{job.checkpoint_hash} where the evaluation started: every worker must read "
                "the same checkpoint")
        _loaded[key], _ = load_vla(Path(job.checkpoint), vla=vla, device=job.device)
    return _loaded[key]


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Torch on one CPU thread while a job runs: kept because it was measured to matter.
    tiny-vla's image network (random weights, full hparams) gave chunks that were not
    bit-identical on 1 and 2 threads, at batch 1 and 25 (state mode: identical), so an
    episode's ``actions_sha256`` would depend on the thread count of the process that ran
    it (Ray workers start with one thread); and on the 2-core reference machine, shared,
    2 threads were slower (image, batch 25: 0.10 s per call on 1 thread, 0.44 s on 2).
    ``python tests/experiments/eval_threads.py --threads 2 --repeats 10``, 2026-12-03;
    reports/results/vla-plugins.md. A model on a GPU is unaffected: its kernels are not
    CPU threads."""
    with torch_threads(1):
        yield


def run_eval_job(job: EvalJob, on_episode: Callable[[EpisodeJob], None] | None = None
                 ) -> JobOutcome:
    """Run one job (in this process or on a worker): the same pool, batches and threads
    wherever it runs, so the same outcome."""
    started = time.perf_counter()
    episodes = [dataclasses.replace(episode) for episode in job.episodes]  # fresh outcomes
    with _one_torch_thread():
        model = _model(job)
        env_steps = run_episodes(model, get_backend(job.backend), episodes, n_envs=job.n_envs,
                                 on_episode=on_episode)
    return JobOutcome(tuple(bool(e.success) for e in episodes),
                      tuple(int(e.steps) for e in episodes),
                      tuple(e.actions_digest for e in episodes), int(env_steps),
                      time.perf_counter() - started,
                      tuple(None if e.actions is None else np.asarray(e.actions)
                            for e in episodes))


def default_protocol(eval_suites: Sequence[str], train_suites: Sequence[str]) -> str:
    return "in-distribution" if set(eval_suites) <= set(train_suites) else "ood-zero-shot"


@dataclass
class EvalPlan:
    """One checkpoint's (or one policy server's) part of an evaluation, before and after
    its episodes ran."""

    ckpt: Path | str  # a checkpoint directory, or the address of a policy server
    info: dict[str, Any]
    checkpoint_hash: str
    tasks: list[TaskSpec]
    protocol: str
    episodes: list[EpisodeJob]
    env_steps: int = 0
    seconds: float = 0.0
    recordings: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)


def checkpoint_info(ckpt: Path, vla: str | None = None, backend: str | None = None
                    ) -> dict[str, Any]:
    """What evaluation needs to know of ``ckpt``: its ``checkpoint.json``, or, for a model
    this tool did not train (no such file, ``vla`` given), :func:`untrained_info` with
    ``backend`` (default tabletop)."""
    ckpt = Path(ckpt)
    if vla is not None and not (ckpt / INFO_FILE).is_file():
        if not ckpt.exists():
            raise UserError(f"checkpoint not found: {ckpt}")
        from diffrl_eval import registry

        registry.vlas.entry(vla)  # an unknown name is a one-line error listing the names
        return untrained_info(vla, backend or "tabletop")
    info = read_info(ckpt)
    if vla is not None and info["vla"] != vla:
        raise UserError(f"checkpoint {ckpt} holds VLA {info['vla']!r}, not {vla!r} (--vla)")
    if backend is not None and info["backend"] != backend:
        raise UserError(f"checkpoint {ckpt} was trained on backend {info['backend']!r}, not "
                        f"{backend!r} (--backend)")
    return info


def _plan(ckpt: Path, info: dict[str, Any], suites: list[str], tasks: Sequence[str] | None,
          episodes_per_task: int, seed: int, protocol: str | None, record: int = 0) -> EvalPlan:
    backend = get_backend(info["backend"])
    selected = evaluation_tasks(backend, suites, tasks)
    train_suites = info["training"].get("train_suites") or []
    episodes = episode_jobs(backend, selected, episodes_per_task, seed)
    for episode in episodes:
        episode.record = episode.index < record
    if protocol is None:
        # a model trained elsewhere says nothing of its training suites: it is taken to have
        # been fine-tuned on the suites it is evaluated on unless --protocol says otherwise
        protocol = (default_protocol(suites, train_suites) if info["training"]["datasets"]
                    else "in-distribution")
    return EvalPlan(Path(ckpt), info, checkpoint_hash(Path(ckpt), info["vla"]), selected,
                 protocol, episodes)


def _jobs(plans: Sequence[EvalPlan], n_envs: int, episodes_per_job: int | None, device: str
          ) -> tuple[list[EvalJob], list[int]]:
    """Every plan's jobs, checkpoint by checkpoint and task by task, and each job's plan."""
    jobs: list[EvalJob] = []
    owners: list[int] = []
    for number, plan in enumerate(plans):
        prefix = f"{plan.ckpt.name}:" if len(plans) > 1 else ""
        for task in plan.tasks:
            own = [e for e in plan.episodes if e.task.task_id == task.task_id]
            size = episodes_per_job or len(own)
            for first in range(0, len(own), size):
                part = own[first: first + size]
                label = prefix + task.task_id
                if size < len(own):
                    label += f" episodes {part[0].index}-{part[-1].index}"
                jobs.append(EvalJob(str(plan.ckpt.resolve()), plan.checkpoint_hash,
                                    plan.info["backend"], tuple(part), n_envs, label,
                                    vla=plan.info["vla"], device=device))
                owners.append(number)
    return jobs, owners


def _actions_hash(episodes: Sequence[EpisodeJob]) -> str:
    """One hash of every action the episodes executed, in episode order: two runs that
    executed the same actions (the same results, reproduced) give the same hash."""
    digest = hashlib.sha256()
    for episode in episodes:
        digest.update(episode.actions_digest.encode())
    return digest.hexdigest()


def plan_result(plan: EvalPlan, seed: int, episodes_per_task: int, suites: list[str], device: str
            ) -> dict[str, Any]:
    """The ``diffrl-eval/vla-eval`` result of one checkpoint whose episodes have run."""
    per_task: dict[str, Any] = {}
    for task in plan.tasks:
        own = [e for e in plan.episodes if e.task.task_id == task.task_id]
        per_task[task.task_id] = {
            "suite": task.suite,
            "instruction": task.instruction,
            **success_summary(sum(e.success for e in own), len(own)),
            "init_state_indices": [e.init_state_index for e in own],
            "episode_seeds": [e.seed for e in own],
            "episode_successes": [bool(e.success) for e in own],
            "actions_sha256": _actions_hash(own),
        }
        if plan.recordings.get(task.task_id):
            per_task[task.task_id]["recordings"] = plan.recordings[task.task_id]
    per_suite = {}
    for suite in suites:
        own = [e for e in plan.episodes if e.task.suite == suite]
        per_suite[suite] = success_summary(sum(e.success for e in own), len(own))
    training = plan.info["training"]
    return VlaEvalResult(
        vla=plan.info["vla"],
        checkpoint=str(plan.ckpt),
        checkpoint_hash=plan.checkpoint_hash,
        hparams_hash=plan.info["hparams_hash"],
        training={key: training[key] for key in ("seed", "datasets", "sources", "train_suites")},
        backend=plan.info["backend"],
        protocol=plan.protocol,
        eval_seed=int(seed),
        episodes_per_task=int(episodes_per_task),
        per_task=per_task,
        per_suite=per_suite,
        overall=success_summary(sum(e.success for e in plan.episodes), len(plan.episodes)),
        env_steps=int(plan.env_steps),
        device=device,
        wall_seconds=round(plan.seconds, 3),
        tool_version=__version__,
    ).to_json()


def check_eval_options(episodes_per_task: int, n_envs: int,
                       episodes_per_job: int | None = None, record: int = 0) -> None:
    """One-line errors for counts an evaluation cannot run with (named as the CLI's flags)."""
    for flag, value in (("--episodes-per-task", episodes_per_task), ("--envs", n_envs),
                        ("--episodes-per-job", episodes_per_job)):
        if value is not None and value <= 0:
            raise UserError(f"{flag} must be a positive integer, got {value}")
    if record < 0:
        raise UserError(f"--record must be a non-negative integer, got {record}")


RECORDING_SIZE = 160


def write_recordings(plan: EvalPlan, directory: Path) -> None:
    """Replay each recorded episode of ``plan`` from its start and write it as an MP4
    (``<task>-<episode>.mp4`` in ``directory``, the step and outcome drawn on the frames);
    the plan's result lists them per task, with the instruction."""
    from diffrl_eval.clip import CLIP_FPS, annotate, episode_captions, write_clip

    backend = get_backend(plan.info["backend"])
    directory.mkdir(parents=True, exist_ok=True)
    for episode in plan.episodes:
        if not episode.record or episode.actions is None:
            continue
        frames = backend.replay_frames(
            episode.task.task_id, np.asarray(episode.actions),
            init_state_index=episode.init_state_index, seed=episode.seed,
            image_size=RECORDING_SIZE)
        path = directory / f"{episode.task.task_id}-{episode.index:03d}.mp4"
        write_clip(annotate(frames, episode_captions(len(frames), episode.success)), path,
                   fps=CLIP_FPS)
        # relative to the folder that holds ``directory``: where the result JSON goes
        plan.recordings.setdefault(episode.task.task_id, []).append(
            {"episode": episode.index, "path": f"{directory.name}/{path.name}", "success": bool(episode.success),
             "instruction": episode.task.instruction, "steps": int(episode.steps)})


def evaluate_checkpoints(
    ckpts: Sequence[Path],
    suites: Sequence[str],
    *,
    episodes_per_task: int,
    seed: int = 0,
    tasks: Sequence[str] | None = None,
    protocol: str | None = None,
    progress: bool = True,
    n_envs: int = DEFAULT_EVAL_ENVS,
    episodes_per_job: int | None = None,
    executor: Executor | None = None,
    record: int = 0,
    record_dir: Path | None = None,
    vla: str | None = None,
    backend: str | None = None,
    device: str = "cpu",
) -> list[dict[str, Any]]:
    """Success of each checkpoint of ``ckpts`` on every task of ``suites``: one result
    (kind ``diffrl-eval/vla-eval``) per checkpoint, in order.

    ``executor`` runs the jobs (default: one after the other in this process): one per
    task and checkpoint, or chunks of ``episodes_per_job`` episodes of a task. The
    results do not depend on the executor; ``n_envs`` and ``episodes_per_job`` decide
    which episodes share the model's batches, so they may change the last bits of the
    predictions. If a job fails, no result comes back. ``wall_seconds`` is the time the
    checkpoint's jobs ran, summed over its jobs.

    ``record``: the first ``record`` episodes of each task are replayed into MP4 videos in
    ``record_dir`` (a sub-directory per checkpoint when there are several), listed under
    the task's ``recordings`` in the result.

    ``vla``: the VLA that reads checkpoints without a ``checkpoint.json`` (models trained
    elsewhere, evaluation-only VLAs), which then act in ``backend`` (default tabletop).
    ``device``: the torch device the models run on (recorded in each result).
    """
    check_eval_options(episodes_per_task, n_envs, episodes_per_job, record)
    if record and record_dir is None:
        raise UserError("recording rollouts needs a directory for the videos")
    if protocol is not None and protocol not in PROTOCOLS:
        raise unknown_choice("protocol", protocol, PROTOCOLS)
    if not ckpts:
        raise UserError("give at least one checkpoint to evaluate")
    executor = executor if executor is not None else LocalExecutor()
    suites = list(dict.fromkeys(suites))
    plans = [_plan(Path(c), checkpoint_info(Path(c), vla, backend), suites, tasks,
                   episodes_per_task, seed, protocol, record) for c in ckpts]
    jobs, owners = _jobs(plans, n_envs, episodes_per_job, device)

    name = plans[0].ckpt.name if len(plans) == 1 else f"{len(plans)} checkpoints"
    where = "" if executor.in_process else f" on {executor.describe()}"
    total = sum(len(job.episodes) for job in jobs)
    try:
        with progress_bar() as bars:
            bar = bars.add_task(f"eval {name}{where}", total=total, status="",
                                visible=progress)
            done = [0, 0]

            def ended(episode: EpisodeJob) -> None:
                done[0] += 1
                done[1] += episode.success
                bars.update(bar, advance=1, status=f"success {done[1]}/{done[0]}")

            def job_done(index: int) -> None:
                if not executor.in_process:  # in this process, ended() counted the episodes
                    bars.update(bar, advance=len(jobs[index].episodes))

            work = (lambda job: run_eval_job(job, ended)) if executor.in_process \
                else run_eval_job
            outcomes = executor.map(work, jobs, desc=f"vla eval {name}",
                                    labels=[job.label for job in jobs], on_done=job_done)
    finally:
        _loaded.clear()  # the model is not kept beyond the evaluation in this process

    for job, owner, outcome in zip(jobs, owners, outcomes):
        plan = plans[owner]
        by_key = {(e.task.task_id, e.index): e for e in plan.episodes}
        actions = outcome.actions or (None,) * len(job.episodes)
        for episode, success, steps, digest, executed in zip(
                job.episodes, outcome.successes, outcome.steps, outcome.digests, actions):
            target = by_key[(episode.task.task_id, episode.index)]
            target.success, target.steps, target.actions_digest = success, steps, digest
            target.actions = None if executed is None else list(executed)
        plan.env_steps += outcome.env_steps
        plan.seconds += outcome.seconds
    if record:
        for plan in plans:
            write_recordings(plan, record_dir if len(plans) == 1
                             else record_dir / plan.ckpt.name)
    return [plan_result(plan, seed, episodes_per_task, suites, device) for plan in plans]


def evaluate_checkpoint(ckpt: Path, suites: Sequence[str], *, episodes_per_task: int,
                        seed: int = 0, tasks: Sequence[str] | None = None,
                        protocol: str | None = None, progress: bool = True,
                        n_envs: int = DEFAULT_EVAL_ENVS, episodes_per_job: int | None = None,
                        executor: Executor | None = None, record: int = 0,
                        record_dir: Path | None = None, vla: str | None = None,
                        backend: str | None = None, device: str = "cpu") -> dict[str, Any]:
    """Success of checkpoint ``ckpt`` on every task of ``suites`` (kind
    ``diffrl-eval/vla-eval``); see :func:`evaluate_checkpoints`."""
    return evaluate_checkpoints(
        [ckpt], suites, episodes_per_task=episodes_per_task, seed=seed, tasks=tasks,
        protocol=protocol, progress=progress, n_envs=n_envs,
        episodes_per_job=episodes_per_job, executor=executor, record=record,
        record_dir=record_dir, vla=vla, backend=backend, device=device)[0]
