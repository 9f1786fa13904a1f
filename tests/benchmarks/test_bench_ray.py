"""Per-task expert training on Ray: 2 workers against 1, on the same 2 tasks.

Each task trains a ``diffusion-ppo`` expert (MLP decoder, as the presets use on CPU) from
scratch with a small budget: 20 simulated demonstrations, 2,000 behaviour-cloning steps and
2 PPO iterations of 10 environments x 32 chunks. One Ray worker trains the two experts one
after the other (the baseline, timed once in the same session); two workers train them at
the same time (timed through pytest-benchmark). Every Ray worker uses one torch thread.
The bar is a 1.8x speed-up on 2 cores; the experts must come out bit-identical whichever
way they were trained. The default in-process run (torch using every core
for one task at a time) is timed too and reported, not judged.

The per-task costs (behaviour-cloning seconds per step, PPO seconds per environment step,
wall seconds per task) are printed for the README's scaling model, with the tasks' CPU
share (CPU seconds over wall seconds) and, as a control, the cores two plain processes get
at once before and after: on a machine shared with other work these fall below 1 and 2,
and tell a slow-down caused by the neighbours from one caused by Ray.

Run: ``pytest tests/benchmarks/test_bench_ray.py --benchmark-only -p no:cacheprovider -s``
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from diffrl_eval.envs.base import get_backend
from diffrl_eval.executor import LocalExecutor, RayExecutor
from generators.diffusion_ppo import DiffusionPPOGenerator
from generators.expert_commands import train_expert_run

ray = pytest.importorskip("ray")

TASKS = ["spatial_left_cube_on_plate", "goal_open_drawer"]
REQUIRED_SPEEDUP = 1.8
EXPERT = {
    "n_demonstrations": 20, "bc_gradient_steps": 2000,
    "policy": {"decoder": "mlp"},
    "ppo": {"n_iterations": 2, "n_envs": 10, "n_steps": 32, "batch_size": 1000,
            "critic_warmup_iterations": 1},
}


def expert_runs(root: Path) -> list:
    generator = DiffusionPPOGenerator(get_backend("tabletop"),
                                      DiffusionPPOGenerator.make_config(EXPERT))
    return [generator.expert_run(generator.backend.task(t), root / t) for t in TASKS]


def timed_training(run) -> tuple[list, float, float]:
    """One expert's curves, and the wall and CPU seconds its training took where it ran."""
    wall, cpu = time.perf_counter(), time.process_time()
    history = train_expert_run(run)
    return history, time.perf_counter() - wall, time.process_time() - cpu


def train_all(executor, root: Path) -> tuple[float, list]:
    runs = expert_runs(root)
    started = time.perf_counter()
    results = executor.map(timed_training, runs, desc="bench",
                           labels=[run.task.task_id for run in runs])
    return time.perf_counter() - started, results


def cpu_share(results) -> float:
    """CPU seconds over wall seconds of the tasks: below 1 when other work took the cores."""
    return sum(cpu for _, _, cpu in results) / sum(wall for _, wall, _ in results)


def warm_worker(_: int) -> int:
    """Start a worker and import what training needs, so that start-up is not timed."""
    import generators.diffusion_ppo  # noqa: F401

    time.sleep(1.0)  # keeps the first worker busy so that the second one starts too
    return os.getpid()


def burn_cpu(seconds: float) -> tuple[float, float]:
    """Busy-loop for ``seconds`` of CPU time; the wall and CPU seconds that took."""
    wall, cpu = time.perf_counter(), time.process_time()
    while time.process_time() - cpu < seconds:
        pass
    return time.perf_counter() - wall, time.process_time() - cpu


def free_cores() -> float:
    """Cores two plain processes get at once here (2.0 on an idle 2-core machine)."""
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        timings = pool.map(burn_cpu, [2.0, 2.0])
    return sum(cpu / wall for wall, cpu in timings)


def expert_costs(root: Path) -> list[dict[str, float]]:
    costs = []
    for task in TASKS:
        summary = json.loads((root / task / "expert.json").read_text())
        costs.append({"bc_seconds": summary["bc"]["seconds"],
                      "bc_seconds_per_step": summary["bc"]["seconds"]
                      / EXPERT["bc_gradient_steps"],
                      "ppo_seconds": summary["ppo_seconds"],
                      "ppo_env_steps": summary["env_steps"]})
    return costs


@pytest.fixture(scope="module")
def ray_runtime():
    import sys

    # the workers cannot import this module by name: send its functions by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def test_two_ray_workers_train_two_experts_at_least_1_8x_faster_than_one(
        benchmark, ray_runtime, tmp_path):
    pids = RayExecutor(workers=2).map(warm_worker, [0, 1], desc="warm-up")
    assert len(set(pids)) == 2, "two worker processes are running"
    load_before = os.getloadavg()[0]
    cores_before = free_cores()
    one_worker_s, one_results = train_all(RayExecutor(workers=1), tmp_path / "one")
    rounds = iter(range(100))

    def fresh_directory():
        return (RayExecutor(workers=2), tmp_path / f"two-{next(rounds)}"), {}

    two_workers_s, two_results = benchmark.pedantic(train_all, setup=fresh_directory,
                                                    rounds=1, iterations=1)
    local_s, _ = train_all(LocalExecutor(), tmp_path / "local")
    load_after = os.getloadavg()[0]
    cores_after = free_cores()
    speedup = one_worker_s / two_workers_s
    costs = expert_costs(tmp_path / "one")
    benchmark.extra_info.update(
        tasks=TASKS, one_worker_s=one_worker_s, two_workers_s=two_workers_s,
        local_in_process_s=local_s, speedup=speedup, per_task=costs,
        task_wall_s=[[wall for _, wall, _ in r] for r in (one_results, two_results)],
        cpu_share_one_worker=cpu_share(one_results),
        cpu_share_two_workers=cpu_share(two_results),
        load_average_before=load_before, load_average_after=load_after,
        free_cores_before=cores_before, free_cores_after=cores_after,
    )
    print(f"\n2 experts: 1 Ray worker {one_worker_s:.1f} s, 2 Ray workers {two_workers_s:.1f} s "
          f"(speed-up {speedup:.2f}x), in-process {local_s:.1f} s; load average "
          f"{load_before:.1f} -> {load_after:.1f}; CPU share of the tasks "
          f"{cpu_share(one_results):.2f} (1 worker), {cpu_share(two_results):.2f} (2 workers); "
          f"two plain processes got {cores_before:.2f} -> {cores_after:.2f} cores")
    for label, results in (("1 worker", one_results), ("2 workers", two_results)):
        print(f"  {label}: task wall s " + ", ".join(f"{wall:.1f}" for _, wall, _ in results))
    for task, cost in zip(TASKS, costs):
        print(f"  {task}: BC {cost['bc_seconds']:.1f} s "
              f"({cost['bc_seconds_per_step'] * 1e3:.1f} ms/step), PPO {cost['ppo_seconds']:.1f} s "
              f"for {cost['ppo_env_steps']} env steps")
    assert [len(history) for history, _, _ in two_results] == [2, 2]
    for task in TASKS:  # the executor changes where experts train, not what they are
        for part in ("bc", "policy", "value"):
            weights = {(tmp_path / name / task / part / "weights.safetensors").read_bytes()
                       for name in ("one", "two-0", "local")}
            assert len(weights) == 1, (task, part)
    assert speedup >= REQUIRED_SPEEDUP
