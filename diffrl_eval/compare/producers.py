"""What each stage of a `compare` run produces, and the key it is stored under.

Every stage is keyed by a hash of its configuration and inputs (:mod:`.stages`), so a
rerun skips what is done and an interruption loses at most the stage in progress. Each
function returns the stage's record (``status``, ``result``...) with where its output lies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diffrl_eval import __version__, registry
from diffrl_eval.compare import human_selection
from diffrl_eval.compare.plan import HUMAN, CompareRun
from diffrl_eval.documents import MetricsResult, VlaEvalResult
from diffrl_eval.errors import UserError
from diffrl_eval.executor import TasksFailedError
from diffrl_eval.generator import TrainsExperts

ROLLOUTS_DIR = "rollouts"
DATA_SEED = 0
EVAL_SEED = 0


class _NotRecorded(Exception):
    """Carries a stage's error past the stage store, which would record it as the stage's
    lasting outcome: Ray workers lost on every attempt may not be lost on a rerun."""

    def __init__(self, error: UserError) -> None:
        super().__init__(str(error))
        self.error = error


def dataset_stage(run: CompareRun, source: str, suite: str, tasks: list[str]
                  ) -> dict[str, Any]:
    """``source``'s dataset of ``suite`` (``tasks``): generated, or for the human source
    of a run given ``demos_from``, selected from it."""
    if run.recorded(source):
        return _recorded_dataset_stage(run, suite, tasks)
    options = run.generator_options(source)
    key_options = dict(options)
    if "demos_from" in options:  # by content, not path: moved data is the same data
        key_options["demos_from"] = run.demonstrations.content_hash
    key = {"source": source, "backend": run.backend.name, "suite": suite, "tasks": tasks,
           "episodes": run.preset.episodes_for(suite), "seed": DATA_SEED,
           "options": key_options, "version": __version__}

    def produce(directory: Path) -> dict[str, Any]:
        from diffrl_eval.datagen import generate_dataset

        generator_cls = registry.generators.load(source)
        generator = generator_cls(run.backend, generator_cls.make_config(options),
                                  workdir=run.out)
        started = time.perf_counter()
        specs = [run.backend.task(t) for t in tasks]
        try:
            path = generate_dataset(
                generator, specs, n_episodes=run.preset.episodes_for(suite),
                seed=DATA_SEED, out=directory / "dataset", suite=suite,
                executor=run.executor)
        except TasksFailedError as exc:
            if exc.lost_workers:  # not the work's fault: fail now, record nothing
                raise _NotRecorded(exc) from exc
            raise
        seconds = time.perf_counter() - started
        if isinstance(generator, TrainsExperts):
            spent = generator.expert_cost(specs)
            return {**_dataset_result(path, seconds, spent.env_steps, spent.seconds),
                    "expert_curves": generator.expert_curves(specs)}
        return {**_dataset_result(path, seconds, None, None), "expert_curves": {}}

    return _stored_dataset(run, source, suite, key, produce)


def _recorded_dataset_stage(run: CompareRun, suite: str, tasks: list[str]) -> dict[str, Any]:
    """The human source's dataset of ``suite``: its tasks' episodes of ``demos_from``."""
    key = {"source": HUMAN, "backend": run.backend.name, "suite": suite, "tasks": tasks,
           "episodes": run.preset.episodes_for(suite),
           "demos_from": run.demonstrations.content_hash, "version": __version__}

    def produce(directory: Path) -> dict[str, Any]:
        started = time.perf_counter()
        path = human_selection.write_selection(
            run.demonstrations, tasks, run.preset.episodes_for(suite),
            directory / "dataset", suite)
        return _dataset_result(path, time.perf_counter() - started, None, None)

    return _stored_dataset(run, HUMAN, suite, key, produce)


def _stored_dataset(run: CompareRun, source: str, suite: str, key: dict[str, Any],
                    produce: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    try:
        directory, record = run.store.run("dataset", key, produce,
                                          expected_errors=(UserError,))
    except _NotRecorded as wrapped:
        raise wrapped.error from None
    return {**record, "path": str(directory / "dataset"), "source": source, "suite": suite}


def _dataset_result(path: Path, seconds: float, expert_steps: int | None,
                    expert_seconds: float | None) -> dict[str, Any]:
    """A dataset stage's result: what the dataset is and what producing it cost (its
    env steps: its frames, generated or recorded)."""
    from diffrl_eval.dataset import load_dataset

    dataset = load_dataset(path)
    return {"content_hash": dataset.content_hash,
            "episodes": int(dataset.manifest["n_episodes"]),
            "env_steps": int(dataset.frames_df.height),
            "wall_seconds": round(seconds, 3),
            "expert_env_steps": expert_steps, "expert_seconds": expert_seconds}


def metrics_stage(run: CompareRun, dataset: dict[str, Any]) -> dict[str, Any]:
    """The data-quality metrics of a finished dataset stage's dataset."""
    key = {"content_hash": dataset["result"]["content_hash"], "version": __version__}

    def produce(directory: Path) -> dict[str, Any]:
        from diffrl_eval.dataset import load_dataset
        from diffrl_eval.metrics import compute_metrics

        result = compute_metrics(load_dataset(dataset["path"]))
        (directory / "metrics.json").write_text(json.dumps(result, indent=2))
        return {}

    directory, _ = run.store.run("metrics", key, produce)
    result = json.loads((directory / "metrics.json").read_text())
    MetricsResult.check(result, where=str(directory / "metrics.json"))
    return result


def _device_key(run: CompareRun) -> dict[str, str]:
    """The device's part of a stage key: nothing for the CPU, so that runs from before
    devices were selectable keep their keys."""
    return {} if run.device == "cpu" else {"device": run.device}


def train_stage(run: CompareRun, datasets: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """The VLA trained with ``seed`` on finished dataset stages' datasets."""
    from diffrl_eval.vla.hparams import hparams_hash

    key = {"datasets": sorted(d["result"]["content_hash"] for d in datasets),
           "hparams": hparams_hash(run.hparams), "seed": seed, "vla": run.vla,
           "version": __version__, **_device_key(run)}

    def produce(directory: Path) -> dict[str, Any]:
        from diffrl_eval.vla.training import train_vla

        train_vla([Path(d["path"]) for d in datasets], directory / "checkpoint",
                  vla=run.vla, hparams=run.hparams, seed=seed, device=run.device)
        return {}

    directory, record = run.store.run("vla-train", key, produce)
    return {**record, "checkpoint": str(directory / "checkpoint"), "digest": directory.name}


def eval_stage(run: CompareRun, trained: dict[str, Any], suites: dict[str, list[str]],
               protocol: str) -> dict[str, Any]:
    """The evaluation of a trained VLA on ``suites`` (suite -> tasks); its recorded
    rollouts of the first training seed join the report's clips."""
    key = {"trained": trained["digest"], "suites": suites, "protocol": protocol,
           "episodes_per_task": run.preset.eval_episodes_per_task, "seed": EVAL_SEED,
           "record": run.preset.record_per_task, "version": __version__, **_device_key(run)}

    def produce(directory: Path) -> dict[str, Any]:
        from diffrl_eval.vla.evaluation import evaluate_checkpoint

        tasks = [task for suite_tasks in suites.values() for task in suite_tasks]
        result = evaluate_checkpoint(
            Path(trained["checkpoint"]), list(suites),
            episodes_per_task=run.preset.eval_episodes_per_task, seed=EVAL_SEED,
            tasks=tasks, protocol=protocol, record=run.preset.record_per_task,
            record_dir=directory / ROLLOUTS_DIR, device=run.device,
        )
        (directory / "eval.json").write_text(json.dumps(result, indent=2))
        return {}

    directory, _ = run.store.run("vla-eval", key, produce)
    result = json.loads((directory / "eval.json").read_text())
    VlaEvalResult.check(result, where=str(directory / "eval.json"))
    label = "+".join(result["training"]["sources"])
    for task, summary in result["per_task"].items():
        run.clips += [{"source": label, "task": task, "kind": "VLA rollout",
                       "success": r["success"], "instruction": r["instruction"],
                       "path": str((directory / r["path"]).relative_to(run.out))}
                      for r in summary.get("recordings", [])
                      if result["training"]["seed"] == run.seeds[0]]
    return result
