"""How much parallelism the machine gives right now, for benchmarks and experiments that
compare one process against several.

Two processes spin the same pure-Python loop at once (started together at a barrier);
the ratio of their work per second to one process alone is 2.0 on two free cores and
~1.0 (or less) when other jobs hold the cores. A speed-up from worker processes can only
be judged against it.
"""

from __future__ import annotations

import multiprocessing
import time


def _spin(n: int = 20_000_000) -> None:
    total = 0
    for i in range(n):
        total += i


def _spin_after(barrier) -> None:
    barrier.wait()
    _spin()


def machine_parallelism() -> float:
    """Work per second of two processes at once over one process alone (process start-up
    excluded: both start spinning at a barrier)."""
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    _spin()
    alone = time.perf_counter() - started
    barrier = context.Barrier(3)
    processes = [context.Process(target=_spin_after, args=(barrier,)) for _ in range(2)]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    for process in processes:
        process.join()
    return 2 * alone / (time.perf_counter() - started)
