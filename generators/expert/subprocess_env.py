"""Chunk environments spread over worker processes, behind ChunkVectorEnv's interface.

PPO's rollout alternates batched policy inference (one forward pass for all N envs) with
environment stepping, which is pure Python + MuJoCo and single-threaded. Here W worker
processes each own a contiguous block of the N environments (an in-process
:class:`~generators.expert.chunk_env.ChunkVectorEnv`) and execute a whole chunk for their
block per request, so the physics of the blocks runs in parallel while the policy stays
in the main process. One request per worker and decision keeps the messaging cost
(~0.1 ms) small against the chunk it carries (n/W envs x Te steps of ~0.08 ms each).

The main process keeps a mirror of every env's To-step observation history, refreshed
from each reply, so reading observations costs no round trip. Resets are queued and
travel with the next request. Workers get the reset seeds and the actions from the main
process, so the episodes are a function of those alone: the same seeds give the same
rollouts, and the same trained expert, whatever W.

Workers start with ``forkserver`` (``spawn`` where that is missing), run one torch
thread, ignore Ctrl-C (the main process shuts them down) and exit when their pipe closes,
so none outlives the process that started them.

Shape legend: N environments, n selected environments, Te executed steps, Da action dim,
To observation steps.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import traceback
import weakref
from typing import Any

import numpy as np
import torch

from diffrl_eval.envs.base import TaskSpec
from diffrl_eval.errors import UserError
from generators.expert.chunk_env import (
    ChunkEnvs,
    ChunkOutcome,
    ChunkVectorEnv,
    checked_chunks,
    policy_env_options,
)
from generators.expert.observation import LOWDIM_KEYS, ObservationHistory, observation_keys

JOIN_TIMEOUT_S = 5.0  # a worker asked to close gets this long before it is terminated

Reset = tuple[int, int | None, int | None]  # (env index, seed, init state index)


def default_env_workers() -> int:
    """One worker per CPU core this process may run on (1: stay in-process)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without affinity masks
        return max(1, os.cpu_count() or 1)


def check_env_workers(workers: int | None) -> int:
    """``workers`` as a count (None: :func:`default_env_workers`); < 1 is a one-line error."""
    if workers is None:
        return default_env_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UserError(
            f"env_workers must be a whole number >= 1 (1: environments in the main process; "
            f"omit it for one worker per CPU core); got {workers!r}"
        )
    return workers


def chunk_env_for_policy(backend, task: TaskSpec, n_envs: int, policy_config, *,
                         workers: int = 1, **env_options: Any) -> ChunkEnvs:
    """N envs for a policy with ``policy_config``: in this process when ``workers`` is 1,
    otherwise spread over ``min(workers, n_envs)`` worker processes."""
    workers = check_env_workers(workers)
    if min(workers, n_envs) <= 1:
        return ChunkVectorEnv.for_policy(backend, task, n_envs, policy_config, **env_options)
    return SubprocessChunkVectorEnv(
        backend, task, n_envs, policy_config.n_obs_steps, observation_keys(policy_config),
        workers=workers, **policy_env_options(policy_config, env_options),
    )


def _start_context():
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # the server imports torch, MuJoCo and this module once; each worker forks from it
    # with them loaded instead of importing them again (seconds per worker)
    context.set_forkserver_preload([__name__])
    return context


def _portable(exc: BaseException) -> BaseException:
    """``exc`` as it can cross the pipe: a UserError as itself, anything else (a bug) as a
    RuntimeError carrying the worker's traceback."""
    if isinstance(exc, UserError):
        try:
            pickle.dumps(exc)
            return exc
        except Exception:  # noqa: BLE001 - an unpicklable error still reaches the user
            return UserError(str(exc))
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return RuntimeError(f"environment worker failed:\n{trace}")


def _worker(conn, backend, task: TaskSpec, n_envs: int, n_obs_steps: int,
            keys: tuple[str, ...], env_options: dict[str, Any]) -> None:
    """Serve requests for n_envs envs until told to close or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a worker only steps simulators (its torch use is converting observations): one
    # thread each, so that N workers do not start N pools of intra-op threads on the
    # cores the simulators need (not measured on its own; the main process's one-thread
    # rule is, see ExpertRun.train)
    torch.set_num_threads(1)
    try:
        venv = ChunkVectorEnv.make(backend, task, n_envs, n_obs_steps, keys, **env_options)
    except BaseException as exc:  # noqa: BLE001 - reported to the main process
        conn.send(("error", _portable(exc)))
        conn.close()
        return
    conn.send(("ready", None))
    try:
        while True:
            try:
                command, payload = conn.recv()
            except (EOFError, OSError):
                break
            if command == "close":
                break
            resets, indices, chunks = payload
            try:
                for index, seed, init_state_index in resets:
                    venv.reset_env(index, seed=seed, init_state_index=init_state_index)
                outcome = venv.step_chunk(indices, chunks) if len(indices) else None
                touched = np.union1d([r[0] for r in resets], indices).astype(np.int64)
                conn.send(("ok", (outcome, touched, venv.history.frames(touched))))
            except Exception as exc:  # noqa: BLE001 - reported to the main process
                conn.send(("error", _portable(exc)))
    finally:
        venv.close()
        conn.close()


def _shutdown(processes: list, connections: list) -> None:
    """Ask every worker to close, then terminate (and kill) whichever does not."""
    for conn in connections:
        try:
            conn.send(("close", None))
        except (OSError, ValueError):
            pass
    for process in processes:
        process.join(JOIN_TIMEOUT_S)
        if process.is_alive():
            process.terminate()
            process.join(1.0)
        if process.is_alive():
            process.kill()
            process.join()
    for conn in connections:
        conn.close()


class SubprocessChunkVectorEnv:
    """N environments of one task in ``workers`` processes, stepped chunk by chunk.

    Same interface and same outcomes as :class:`ChunkVectorEnv` (``reset_env``,
    ``observation``, ``step_chunk``, ``close``); use it as a context manager or call
    :meth:`close`.
    """

    def __init__(self, backend, task: TaskSpec, n_envs: int, n_obs_steps: int,
                 keys: tuple[str, ...] = LOWDIM_KEYS, *, workers: int,
                 **env_options: Any) -> None:
        workers = check_env_workers(workers)
        self.task = task
        self.n_envs = n_envs
        self.blocks = np.array_split(np.arange(n_envs), min(workers, n_envs))
        self._owner = np.concatenate([np.full(len(b), w) for w, b in enumerate(self.blocks)])
        self._first = np.array([b[0] for b in self.blocks])
        self.history = ObservationHistory(n_envs, n_obs_steps, keys)
        self._pending: list[Reset] = []
        self._processes: list = []
        self._connections: list = []
        self._closer = weakref.finalize(self, _shutdown, self._processes, self._connections)
        context = _start_context()
        try:
            for block in self.blocks:
                parent, child = context.Pipe()
                process = context.Process(
                    target=_worker, daemon=True, name="chunk-env-worker",
                    args=(child, backend, task, len(block), n_obs_steps, keys, env_options),
                )
                process.start()
                child.close()
                self._processes.append(process)
                self._connections.append(parent)
            for worker in range(len(self.blocks)):
                self._receive(worker)
        except BaseException:
            self.close()
            raise

    @property
    def workers(self) -> int:
        return len(self.blocks)

    def __len__(self) -> int:
        return self.n_envs

    def __enter__(self) -> SubprocessChunkVectorEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        self._closer()

    def reset_env(self, index: int, *, seed: int | None, init_state_index: int | None) -> None:
        """Start a new episode in env ``index`` (sent with the next request)."""
        if not 0 <= index < self.n_envs:
            raise IndexError(f"env {index} out of range for {self.n_envs} envs")
        self._pending.append((int(index), seed, init_state_index))

    def observation(self, indices: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """Policy input of envs ``indices`` (all when None): key -> (n, To, D)."""
        if self._pending:
            self._exchange(np.zeros(0, dtype=np.int64), np.zeros((0, 1, 1), np.float32))
        return self.history.tensors(indices)

    def step_chunk(self, indices: np.ndarray, chunks: np.ndarray) -> ChunkOutcome:
        """Execute ``chunks`` (n, Te, Da) in the envs ``indices`` (n,), each until its
        chunk is spent or its episode ends; the workers run their blocks in parallel."""
        indices = np.asarray(indices, dtype=np.int64)
        chunks = checked_chunks(chunks, len(indices))
        return self._exchange(indices, chunks)

    # --- messaging -------------------------------------------------------------------------
    def _exchange(self, indices: np.ndarray, chunks: np.ndarray) -> ChunkOutcome:
        """Send every worker its resets and chunks, then gather the replies in row order."""
        resets, self._pending = self._pending, []
        owners = self._owner[indices]
        rows_of: dict[int, np.ndarray] = {}
        for worker in range(self.workers):
            rows = np.flatnonzero(owners == worker)
            first = self._first[worker]
            mine = [(i - first, s, k) for i, s, k in resets if self._owner[i] == worker]
            if len(rows) or mine:
                rows_of[worker] = rows
                self._connections[worker].send(
                    ("step", (mine, indices[rows] - first, chunks[rows]))
                )
        try:
            return self._gather(rows_of, len(indices))
        except BaseException:
            # a worker's error leaves the other replies unread: these envs are done for
            self.close()
            raise

    def _gather(self, rows_of: dict[int, np.ndarray], n: int) -> ChunkOutcome:
        result = ChunkOutcome(np.zeros(n, np.float32), np.zeros(n, bool), np.zeros(n, bool),
                              np.zeros(n, np.int64), [None] * n)
        for worker, rows in rows_of.items():
            outcome, touched, frames = self._receive(worker)
            self.history.write(touched + self._first[worker], frames)
            if outcome is None:
                continue
            result.rewards[rows] = outcome.rewards
            result.terminated[rows] = outcome.terminated
            result.truncated[rows] = outcome.truncated
            result.steps[rows] = outcome.steps
            for row, episode in zip(rows, outcome.episodes):
                result.episodes[row] = episode
        return result

    def _receive(self, worker: int) -> Any:
        try:
            status, payload = self._connections[worker].recv()
        except (EOFError, OSError):
            code = self._processes[worker].exitcode
            raise RuntimeError(f"environment worker {worker} exited unexpectedly "
                               f"(exit code {code})") from None
        if status == "error":
            raise payload
        return payload
