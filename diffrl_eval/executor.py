"""Where per-task work runs: in this process (``local``) or on Ray workers (``ray``).

Expert training, dataset generation and VLA evaluation are independent per task. An
:class:`Executor` runs one function over a list of items and hands the results back in
item order, so what is written from them (datasets, hashes) does not depend on which
executor ran the work or in which order the workers finished.

``local`` runs the items one after the other in this process and needs no Ray; an
exception propagates at once, as if there were no executor. ``ray`` submits every item as
a Ray task: without an address it starts a Ray runtime on this machine (one worker per
CPU, or ``workers``); with one it joins that cluster. A task whose worker process dies
(killed, out of memory, a crashed node) is run again up to ``max_retries`` times; an
exception raised by the work itself is not retried, since running the same seeded work
again gives the same exception. Failed items are reported together, in one line, once
every other item has finished.
"""

from __future__ import annotations

import os
import sys
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from diffrl_eval.errors import UserError, unknown_choice

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "ray")
RAY_INSTALL_HINT = 'pip install "diffrl-eval[ray]"'
DEFAULT_MAX_RETRIES = 2  # runs after the first when a worker process dies


class Executor(ABC):
    """Runs ``fn`` over ``items``; results come back in item order."""

    name: str = ""
    #: True when ``fn`` runs in this process: it may then close over live objects (a
    #: progress display) and return lazy iterators. Remote executors pickle ``fn`` and
    #: each item, and ``fn`` must return a picklable value.
    in_process: bool = True

    @abstractmethod
    def imap(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str,
             labels: Sequence[str] | None = None,
             on_done: Callable[[int], None] | None = None) -> Iterator[R]:
        """Yield ``fn(item)`` for each item, in item order.

        ``desc`` names the work and ``labels`` the items (default ``str(item)``) in the
        error raised when items fail. ``on_done(index)`` is called in this process as each
        item finishes, in the order they finish (for progress displays).
        """

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str,
            labels: Sequence[str] | None = None,
            on_done: Callable[[int], None] | None = None) -> list[R]:
        """``list(imap(...))``: every result, in item order."""
        return list(self.imap(fn, items, desc=desc, labels=labels, on_done=on_done))

    def describe(self) -> str:
        """One line for logs and progress displays."""
        return self.name

    def close(self) -> None:  # noqa: B027 - nothing to release unless a subclass started it
        """Release what the executor started (a Ray runtime); idempotent."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """One item after the other in this process; the first exception propagates."""

    name = "local"
    in_process = True

    def imap(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str,
             labels: Sequence[str] | None = None,
             on_done: Callable[[int], None] | None = None) -> Iterator[R]:
        for index, item in enumerate(items):
            result = fn(item)
            if on_done is not None:
                on_done(index)
            yield result


class RayExecutor(Executor):
    """Each item is one Ray task (one CPU each); a runtime is started or joined lazily.

    ``address`` None starts a Ray runtime on this machine with ``workers`` CPUs (default:
    every CPU) unless this process is already connected to one; otherwise ``ray.init``
    joins the cluster at ``address`` (``auto``, ``HOST:PORT``, or ``ray://HOST:PORT``
    through Ray Client). ``workers`` also caps the tasks in flight at once.
    """

    name = "ray"
    in_process = False

    def __init__(self, *, address: str | None = None, workers: int | None = None,
                 max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        if workers is not None and workers < 1:
            raise UserError(f"--workers must be a positive integer, got {workers}")
        if max_retries < 0:
            raise UserError(f"max_retries must be >= 0, got {max_retries}")
        self.ray = import_ray()
        self.address = address
        self.workers = workers
        self.max_retries = max_retries
        self._started_runtime = False

    def describe(self) -> str:
        where = f"cluster {self.address}" if self.address else "local runtime"
        size = f", {self.workers} workers" if self.workers else ""
        return f"ray ({where}{size})"

    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        import logging

        options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
        if self.address is None:
            # "local": a new runtime even when a cluster runs on this machine (ray.init()
            # alone would join that one)
            options["num_cpus"] = self.workers or os.cpu_count() or 1
        try:
            ray.init(address=self.address or "local", **options)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            target = self.address or "a local runtime"
            message = " ".join(str(exc).split())
            raise UserError(f"could not start or join Ray at {target}: {message}") from None
        self._started_runtime = True

    def close(self) -> None:
        if self._started_runtime and self.ray.is_initialized():
            self.ray.shutdown()
        self._started_runtime = False

    def imap(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str,
             labels: Sequence[str] | None = None,
             on_done: Callable[[int], None] | None = None) -> Iterator[R]:
        ray = self.ray
        items = list(items)
        names = list(labels) if labels is not None else [str(item) for item in items]
        if len(names) != len(items):
            raise ValueError(f"{len(names)} labels for {len(items)} items")
        if not items:
            return
        self._connect()
        # application errors are deterministic for seeded work: retry only dead workers
        remote = ray.remote(_call_item).options(num_cpus=1, max_retries=self.max_retries,
                                                retry_exceptions=False)
        shared_fn = ray.put(fn)  # pickled once, not once per item
        limit = self.workers or len(items)
        waiting = list(range(len(items)))  # not yet submitted, in item order
        running: dict[Any, int] = {}  # object ref -> item index
        results: dict[int, Any] = {}
        failures: dict[int, BaseException] = {}
        next_to_yield = 0

        def submit() -> None:
            while waiting and len(running) < limit:
                index = waiting.pop(0)
                running[remote.remote(shared_fn, items[index])] = index

        try:
            submit()
            while running or next_to_yield < len(items):
                while next_to_yield in results and next_to_yield not in failures:
                    yield results.pop(next_to_yield)
                    next_to_yield += 1
                if not running:
                    break
                (ready,), _ = ray.wait(list(running), num_returns=1)
                index = running.pop(ready)
                try:
                    results[index] = ray.get(ready)
                except Exception as exc:  # the item's failure, reported with the others
                    failures[index] = _unwrap(ray, exc)
                    results[index] = None
                del ready
                if on_done is not None:
                    on_done(index)
                submit()
        finally:
            for ref in running:  # the consumer stopped early: do not leave work running
                ray.cancel(ref, force=True)
        if failures:
            raise failed_items_error(desc, names, failures, executor=self.describe())


def _call_item(fn: Callable[[T], R], item: T) -> R:
    """What a Ray worker runs for one item."""
    return fn(item)


def _unwrap(ray: Any, exc: BaseException) -> BaseException:
    """The exception the work raised (not Ray's wrapper), or Ray's for a lost worker."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = exc.as_instanceof_cause()
        original = getattr(exc, "cause", None)
        return original if isinstance(original, BaseException) else cause
    return exc


def _worker_lost(exc: BaseException) -> bool:
    """Ray's errors for work that never finished (matched by name: Ray is optional)."""
    return any(cls.__name__ in WORKER_LOST for cls in type(exc).__mro__)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, UserError):
        return text
    if _worker_lost(exc):
        return f"{type(exc).__name__} (its worker died on every attempt)"
    lines = str(exc).strip().splitlines()
    first = " ".join(lines[0].split())[:200] if lines else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class TasksFailedError(UserError):
    """Some items of a remote run failed; the others finished first.

    ``failed`` maps each failed item's label to why. ``lost_workers`` is True when an item
    failed because its worker died on every attempt rather than because the work raised:
    such a failure says nothing about the work, and a rerun may succeed.
    """

    def __init__(self, message: str, *, failed: dict[str, str], lost_workers: bool) -> None:
        super().__init__(message)
        self.failed = failed
        self.lost_workers = lost_workers


WORKER_LOST = ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError", "TaskCancelledError",
               "LocalRayletDiedError", "ObjectLostError")


def failed_items_error(desc: str, names: Sequence[str], failures: dict[int, BaseException],
                       *, executor: str) -> TasksFailedError:
    """One line naming every failed item and why; tracebacks of bugs go to stderr."""
    for index in sorted(failures):
        exc = failures[index]
        if not isinstance(exc, UserError) and exc.__traceback__ is not None:
            print(f"--- {desc}: {names[index]} failed on {executor} ---", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)
    failed = {names[index]: _reason(failures[index]) for index in sorted(failures)}
    listed = "; ".join(f"{name} ({reason})" for name, reason in failed.items())
    lost = any(_worker_lost(exc) for exc in failures.values())
    return TasksFailedError(
        f"{desc}: {len(failures)} of {len(names)} items failed on {executor}, nothing was "
        f"written as complete: {listed}", failed=failed, lost_workers=lost)


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(
            f"--executor ray needs Ray, which is not installed; install it with {RAY_INSTALL_HINT}"
        ) from None
    return ray


def make_executor(kind: str = "local", *, address: str | None = None,
                  workers: int | None = None) -> Executor:
    """The executor a command line asked for (``--executor``, ``--ray-address``, ``--workers``)."""
    if kind not in EXECUTORS:
        error = unknown_choice("executor", kind, EXECUTORS)
        raise UserError(f"{error} (ray needs {RAY_INSTALL_HINT})")
    if kind == "local":
        if address is not None:
            raise UserError("--ray-address needs --executor ray")
        if workers is not None and workers != 1:
            raise UserError("--workers needs --executor ray (local runs one task at a time)")
        return LocalExecutor()
    return RayExecutor(address=address, workers=workers)


__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "RayExecutor", "TasksFailedError",
           "failed_items_error", "import_ray", "make_executor"]
