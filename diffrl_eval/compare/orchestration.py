"""Running a `compare` plan: every stage in order, resumably, with one progress bar whose
total is the plan's length.

A dataset that failed (an expert that cannot reach the goal) is recorded as a failed
stage; the stages that need it are skipped, and the report says which failed.
"""

from __future__ import annotations

import time
from typing import Any

from diffrl_eval.compare import producers
from diffrl_eval.compare.outputs import write_results
from diffrl_eval.compare.plan import (
    CompareRun,
    Evaluate,
    Generate,
    Measure,
    Report,
    Stage,
    Train,
    build_plan,
)
from diffrl_eval.progress import progress_bar


def execute(run: CompareRun, *, show_progress: bool = True) -> dict[str, Any]:
    """Run (or finish) every stage, then write results and the report."""
    from diffrl_eval.vla.hparams import hparams_hash

    run.check_demonstrations()
    started = time.perf_counter()
    plan = build_plan(run)
    datasets: dict[tuple[str, str], dict[str, Any]] = {}
    metrics: list[dict[str, Any]] = []
    evaluations: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    trained: dict[Train, dict[str, Any]] = {}
    summary: dict[str, Any] = {}

    def usable(data: Generate) -> dict[str, Any] | None:
        record = datasets.get((data.source, data.suite))
        return record if record and record["status"] == "done" else None

    def run_stage(stage: Stage) -> bool:
        """Run ``stage``; False when it is skipped (what it needs did not finish)."""
        if isinstance(stage, Generate):
            record = producers.dataset_stage(run, stage.source, stage.suite, list(stage.tasks))
            datasets[(stage.source, stage.suite)] = record
            if record["status"] != "done":
                failures.append({"stage": stage.label, "error": record["error"]})
        elif isinstance(stage, Measure):
            record = usable(stage.data)
            if record is None:
                return False
            metrics.append(producers.metrics_stage(run, record))
        elif isinstance(stage, Train):
            records = [usable(data) for data in stage.data]
            if any(r is None for r in records):
                return False
            trained[stage] = producers.train_stage(run, records, stage.seed)  # type: ignore[arg-type]
        elif isinstance(stage, Evaluate):
            if stage.trained not in trained:
                return False
            suites = {suite: list(tasks) for suite, tasks in stage.suites}
            evaluations.append(producers.eval_stage(run, trained[stage.trained], suites,
                                                    stage.protocol))
        elif isinstance(stage, Report):
            summary.update(write_results(run, datasets, metrics, evaluations, failures,
                                         hparams_hash(run.hparams)))
        return True

    with progress_bar() as progress:
        overall = progress.add_task("compare", total=len(plan), status="",
                                    visible=show_progress)
        for stage in plan:
            progress.update(overall, description=f"compare: {stage.label}")
            done = run_stage(stage)
            progress.update(overall, advance=1,
                            description=f"compare: {'' if done else 'skipped '}{stage.label}")
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    return summary
