"""`compare`: the whole question for several data sources, resumably.

For every source: generate a dataset per suite (in-distribution suites and the OOD
training suite), measure it, train the VLA on it (one hparams file for every source,
one model per training seed), evaluate in-distribution on the suite's fixed initial
states and zero-shot on the OOD suites, including a Human+RL mixture. Then write
``results/`` (Parquet + JSON) and ``report.html``.

Every stage is keyed by a hash of its configuration and inputs (:mod:`.stages`), so a
rerun skips what is done and an interruption loses at most the stage in progress.

Given a human dataset (``demos_from``, :mod:`.demonstrations`), the human source's data
are taken from it instead of generated, and the RL sources clone it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from diffrl_eval import __version__, registry
from diffrl_eval.atomic import write_bytes_atomic, write_text_atomic
from diffrl_eval.compare import demonstrations
from diffrl_eval.compare.presets import Preset, get_preset, preset_tasks
from diffrl_eval.compare.stages import StageStore, digest
from diffrl_eval.compare.verdict import build_verdict
from diffrl_eval.constants import DEFAULT_VLA
from diffrl_eval.dataset.demonstrations import load_demonstrations
from diffrl_eval.envs.base import EnvBackend, get_backend
from diffrl_eval.errors import UserError, unknown_choice
from diffrl_eval.executor import Executor, TasksFailedError
from diffrl_eval.progress import progress_bar
from diffrl_eval.vla.hparams import read_hparams_file

if TYPE_CHECKING:
    from diffrl_eval.dataset import Dataset

RESULTS_DIR = "results"
REPORT_FILE = "report.html"
RUN_FILE = "run.json"
VERDICT_FILE = "verdict.json"
CLIPS_DIR = "clips"
ROLLOUTS_DIR = "rollouts"
CLIP_SIZE = 160
HUMAN = demonstrations.HUMAN
MIX_PARTNER = "diffusion-ppo"  # the paper's Human+RL row mixes human with its RL data
DATA_SEED = 0
EVAL_SEED = 0


class _NotRecorded(Exception):
    """Carries a stage's error past the stage store, which would record it as the stage's
    lasting outcome: Ray workers lost on every attempt may not be lost on a rerun."""

    def __init__(self, error: UserError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class CompareRun:
    """The plan of one `compare` invocation."""

    sources: list[str]
    backend: EnvBackend
    preset: Preset
    seeds: list[int]
    out: Path
    hparams: dict[str, Any]
    vla: str = DEFAULT_VLA
    # the torch device the VLA trains and evaluates on; part of the training and evaluation
    # stage keys when not the CPU (the last bits of the weights depend on it)
    device: str = "cpu"
    # runs each dataset's per-task generation (None: in this process); not part of any
    # stage key, since every executor gives the same datasets
    executor: Executor | None = None
    # Fig. 7 of the report: the task and the first action dimension of the variance band
    # (None: the report's default, the first task every source has a curve for)
    variance_task: str | None = None
    variance_dimension: int = 1
    # a human dataset: the human source's episodes, and what the RL sources clone (None:
    # the human generator makes them, where the backend can)
    demos_from: Path | None = None
    # sources each source is also compared with in the verdict, besides human
    baselines: list[str] = field(default_factory=list)
    store: StageStore = field(init=False)
    # episode clips for the report (paths relative to ``out``), gathered as stages finish
    clips: list[dict[str, Any]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.store = StageStore(self.out)

    # --- what runs ------------------------------------------------------------------------
    @property
    def in_distribution(self) -> dict[str, list[str]]:
        return {suite: preset_tasks(self.backend, suite, count)
                for suite, count in self.preset.in_distribution.items()}

    @property
    def ood_train(self) -> tuple[str, list[str]]:
        suite, count = self.preset.ood_train
        return suite, preset_tasks(self.backend, suite, count)

    @property
    def ood_eval(self) -> dict[str, list[str]]:
        return {suite: preset_tasks(self.backend, suite, count)
                for suite, count in self.preset.ood_eval.items()}

    def data_suites(self) -> dict[str, list[str]]:
        suite, tasks = self.ood_train
        return {**self.in_distribution, suite: tasks}

    def training_mixes(self) -> list[list[str]]:
        """Source lists trained on the OOD suite: each source alone, and Human+RL."""
        mixes = [[source] for source in self.sources]
        if HUMAN in self.sources and MIX_PARTNER in self.sources:
            mixes.append(sorted([HUMAN, MIX_PARTNER]))
        return mixes

    # --- the human demonstrations ---------------------------------------------------------
    def cloning_sources(self) -> list[str]:
        """The run's sources that clone human demonstrations (configs with ``demos_from``)."""
        return [source for source in self.sources
                if "demos_from" in {f.name for f in dataclasses.fields(
                    registry.generators.load(source).config_cls)}]

    @cached_property
    def demonstrations(self) -> Dataset:
        """The ``demos_from`` dataset, loaded once and checked to be human data of the
        backend."""
        assert self.demos_from is not None
        return load_demonstrations(self.demos_from, self.backend.name)

    def check_demonstrations(self) -> None:
        """Refuse, before any work, a run whose human demonstrations cannot be had: none
        given where the backend cannot generate them, or a ``demos_from`` dataset that is
        not human data of the backend or lacks episodes of a task the run generates."""
        users = [s for s in self.sources if s == HUMAN or s in self.cloning_sources()]
        if self.demos_from is None:
            hint = self.backend.human_demonstrations_hint
            if hint is not None and users:
                raise UserError(
                    f"compare generates every source's data, but on backend "
                    f"{self.backend.name!r} source {users[0]!r} needs human demonstrations, "
                    f"which it does not generate: {hint}, then pass "
                    f"{demonstrations.DEMOS_FROM_FLAG} OUT to compare"
                )
            return
        needed = {source: int(self.generator_config(source).n_demonstrations)
                  for source in self.cloning_sources()}
        demonstrations.check_coverage(
            self.demonstrations, [t for ts in self.data_suites().values() for t in ts],
            None, needed)
        if HUMAN in self.sources:  # the human source takes each suite's episode count
            for suite, tasks in self.data_suites().items():
                demonstrations.check_coverage(self.demonstrations, tasks,
                                              self.preset.episodes_for(suite), {})

    def generator_options(self, source: str) -> dict[str, Any]:
        """The preset's options of ``source``, with ``demos_from`` for a cloning source."""
        options = self.preset.options_for(source)
        if self.demos_from is not None and source in self.cloning_sources():
            options["demos_from"] = str(Path(self.demos_from).absolute())
        return options

    def generator_config(self, source: str) -> Any:
        return registry.generators.load(source).make_config(self.generator_options(source))

    def n_stages(self) -> int:
        n_data = len(self.sources) * len(self.data_suites())
        n_id = len(self.sources) * len(self.in_distribution) * len(self.seeds)
        n_ood = len(self.training_mixes()) * len(self.seeds)
        return 2 * n_data + 2 * n_id + 2 * n_ood + 1

    # --- stages -----------------------------------------------------------------------------
    def dataset_stage(self, source: str, suite: str, tasks: list[str]) -> dict[str, Any]:
        if source == HUMAN and self.demos_from is not None:
            return self._recorded_dataset_stage(suite, tasks)
        options = self.generator_options(source)
        key_options = dict(options)
        if "demos_from" in options:  # by content, not path: moved data is the same data
            key_options["demos_from"] = self.demonstrations.content_hash
        key = {"source": source, "backend": self.backend.name, "suite": suite, "tasks": tasks,
               "episodes": self.preset.episodes_for(suite), "seed": DATA_SEED,
               "options": key_options, "version": __version__}

        def produce(directory: Path) -> dict[str, Any]:
            from diffrl_eval.generation import generate_dataset

            generator_cls = registry.generators.load(source)
            generator = generator_cls(self.backend, generator_cls.make_config(options),
                                      workdir=self.out)
            started = time.perf_counter()
            specs = [self.backend.task(t) for t in tasks]
            try:
                path = generate_dataset(
                    generator, specs, n_episodes=self.preset.episodes_for(suite),
                    seed=DATA_SEED, out=directory / "dataset", suite=suite,
                    executor=self.executor)
            except TasksFailedError as exc:
                if exc.lost_workers:  # not the work's fault: fail now, record nothing
                    raise _NotRecorded(exc) from exc
                raise
            seconds = time.perf_counter() - started
            expert_steps, expert_seconds = _expert_cost(generator, specs)
            return {**_dataset_result(path, seconds, expert_steps, expert_seconds),
                    "expert_curves": _expert_curves(generator, specs)}

        return self._stored_dataset(source, suite, key, produce)

    def _recorded_dataset_stage(self, suite: str, tasks: list[str]) -> dict[str, Any]:
        """The human source's dataset of ``suite``: its tasks' episodes of ``demos_from``."""
        key = {"source": HUMAN, "backend": self.backend.name, "suite": suite, "tasks": tasks,
               "episodes": self.preset.episodes_for(suite),
               "demos_from": self.demonstrations.content_hash, "version": __version__}

        def produce(directory: Path) -> dict[str, Any]:
            started = time.perf_counter()
            path = demonstrations.write_selection(
                self.demonstrations, tasks, self.preset.episodes_for(suite),
                directory / "dataset", suite)
            return _dataset_result(path, time.perf_counter() - started, None, None)

        return self._stored_dataset(HUMAN, suite, key, produce)

    def _stored_dataset(self, source: str, suite: str, key: dict[str, Any],
                        produce: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
        try:
            directory, record = self.store.run("dataset", key, produce,
                                               expected_errors=(UserError,))
        except _NotRecorded as wrapped:
            raise wrapped.error from None
        return {**record, "path": str(directory / "dataset"), "source": source,
                "suite": suite}

    def metrics_stage(self, dataset: dict[str, Any]) -> dict[str, Any]:
        key = {"content_hash": dataset["result"]["content_hash"], "version": __version__}

        def produce(directory: Path) -> dict[str, Any]:
            from diffrl_eval.dataset import load_dataset
            from diffrl_eval.metrics import compute_metrics

            result = compute_metrics(load_dataset(dataset["path"]))
            (directory / "metrics.json").write_text(json.dumps(result, indent=2))
            return {}

        directory, _ = self.store.run("metrics", key, produce)
        return json.loads((directory / "metrics.json").read_text())

    def _device_key(self) -> dict[str, str]:
        """The device's part of a stage key: nothing for the CPU, so that runs from before
        devices were selectable keep their keys."""
        return {} if self.device == "cpu" else {"device": self.device}

    def train_stage(self, datasets: list[dict[str, Any]], seed: int) -> dict[str, Any]:
        from diffrl_eval.vla.hparams import hparams_hash

        key = {"datasets": sorted(d["result"]["content_hash"] for d in datasets),
               "hparams": hparams_hash(self.hparams), "seed": seed, "vla": self.vla,
               "version": __version__, **self._device_key()}

        def produce(directory: Path) -> dict[str, Any]:
            from diffrl_eval.vla.training import train_vla

            train_vla([Path(d["path"]) for d in datasets], directory / "checkpoint",
                      vla=self.vla, hparams=self.hparams, seed=seed, device=self.device)
            return {}

        directory, record = self.store.run("vla-train", key, produce)
        return {**record, "checkpoint": str(directory / "checkpoint"),
                "digest": directory.name}

    def eval_stage(self, trained: dict[str, Any], suites: dict[str, list[str]],
                   protocol: str) -> dict[str, Any]:
        key = {"trained": trained["digest"], "suites": suites, "protocol": protocol,
               "episodes_per_task": self.preset.eval_episodes_per_task, "seed": EVAL_SEED,
               "record": self.preset.record_per_task, "version": __version__,
               **self._device_key()}

        def produce(directory: Path) -> dict[str, Any]:
            from diffrl_eval.vla.evaluation import evaluate_checkpoint

            tasks = [task for suite_tasks in suites.values() for task in suite_tasks]
            result = evaluate_checkpoint(
                Path(trained["checkpoint"]), list(suites),
                episodes_per_task=self.preset.eval_episodes_per_task, seed=EVAL_SEED,
                tasks=tasks, protocol=protocol, record=self.preset.record_per_task,
                record_dir=directory / ROLLOUTS_DIR, device=self.device,
            )
            (directory / "eval.json").write_text(json.dumps(result, indent=2))
            return {}

        directory, _ = self.store.run("vla-eval", key, produce)
        result = json.loads((directory / "eval.json").read_text())
        label = "+".join(result["training"]["sources"])
        for task, summary in result["per_task"].items():
            self.clips += [{"source": label, "task": task, "kind": "VLA rollout",
                            "success": r["success"], "instruction": r["instruction"],
                            "path": str((directory / r["path"]).relative_to(self.out))}
                           for r in summary.get("recordings", [])
                           if result["training"]["seed"] == self.seeds[0]]
        return result


# measured on the reference machine (2 CPU cores): environment steps per second with a
# policy in the loop, and seconds per gradient step of the experts' BC and of tiny-vla
ENV_STEPS_PER_SECOND = {"tabletop": 3000.0, "libero": 19.0}
BC_STEP_SECONDS = 0.03
# tiny-vla, per hparams preset: full 248 s for 12,000 steps (20.7 ms; reports/results/tiny-vla.md,
# language experiment), quick 14-27 s for 6,000 steps (2.3-4.5 ms; reports/results/presets.md),
# rounded up for a shared machine
VLA_STEP_SECONDS = {"quick": 0.005, "full": 0.025}


def estimate_cost(run: CompareRun) -> dict[str, float]:
    """Environment steps, gradient steps and hours the plan takes from scratch (upper
    bound: every episode runs to its step limit). Human data taken from ``demos_from``
    cost no env steps; an expert's demonstrations do (generated, or replayed to recover
    the object poses)."""
    limits = {t.task_id: t.max_steps for t in run.backend.tasks()}
    env_steps = grad_steps = 0.0
    for source in run.sources:
        options = run.preset.options_for(source)
        ppo = options.get("ppo", {})
        recorded = source == HUMAN and run.demos_from is not None
        for suite, tasks in run.data_suites().items():
            for task in tasks:
                if not recorded:
                    env_steps += run.preset.episodes_for(suite) * limits[task]
                if "bc_gradient_steps" in options:
                    grad_steps += options["bc_gradient_steps"]
                    env_steps += options.get("n_demonstrations", 0) * limits[task]
                    env_steps += (ppo.get("n_iterations", 0) * ppo.get("n_envs", 0)
                                  * ppo.get("n_steps", 0) * 8)
    trainings = (len(run.sources) * len(run.in_distribution) + len(run.training_mixes()))
    grad_steps_vla = trainings * len(run.seeds) * float(run.hparams.get("train_steps", 0))
    vla_step_seconds = VLA_STEP_SECONDS.get(run.preset.vla_hparams_preset,
                                            VLA_STEP_SECONDS["full"])
    eval_tasks = [t for tasks in run.in_distribution.values() for t in tasks]
    ood_tasks = [t for tasks in run.ood_eval.values() for t in tasks]
    env_steps += len(run.seeds) * run.preset.eval_episodes_per_task * (
        len(run.sources) * sum(limits[t] for t in eval_tasks)
        + len(run.training_mixes()) * sum(limits[t] for t in ood_tasks))
    rate = ENV_STEPS_PER_SECOND.get(run.backend.name, ENV_STEPS_PER_SECOND["libero"])
    seconds = (env_steps / rate + grad_steps * BC_STEP_SECONDS
               + grad_steps_vla * vla_step_seconds)
    return {"env_steps": env_steps, "gradient_steps": grad_steps + grad_steps_vla,
            "hours": seconds / 3600.0, "env_steps_per_second": rate}


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


def _expert_cost(generator: Any, tasks: Sequence[Any]) -> tuple[int | None, float | None]:
    """Environment steps and seconds the generator's experts took to train (None for a
    source without experts)."""
    if not hasattr(generator, "expert_run"):
        return None, None
    steps, seconds = 0, 0.0
    for task in tasks:
        summary = generator.expert_run(task).directory / "expert.json"
        if summary.is_file():
            values = json.loads(summary.read_text())
            steps += int(values.get("env_steps", 0))
            seconds += float(values.get("ppo_seconds", 0.0)) + float(
                values.get("bc", {}).get("seconds", 0.0))
    return steps, round(seconds, 3)


def _expert_curves(generator: Any, tasks: Sequence[Any]) -> dict[str, Any]:
    """Per task: the expert's training success against cumulative env steps, one point per
    PPO iteration (empty for a source without experts)."""
    if not hasattr(generator, "expert_run"):
        return {}
    curves = {}
    for task in tasks:
        history = generator.expert_run(task).history()
        if history:
            steps = np.cumsum([row["env_steps"] for row in history])
            curves[task.task_id] = {
                "env_steps": [int(s) for s in steps],
                "success_rate": [None if not np.isfinite(row["success_rate"])
                                 else float(row["success_rate"]) for row in history]}
    return curves


def expert_curves(datasets: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """``{source: {task: curve}}`` over every finished dataset stage."""
    curves: dict[str, dict[str, Any]] = {}
    for (source, _), record in sorted(datasets.items()):
        found = record["result"].get("expert_curves") if record["status"] == "done" else None
        if found:
            curves.setdefault(source, {}).update(found)
    return curves


def data_clips(run: CompareRun, datasets: dict[tuple[str, str], dict[str, Any]]
               ) -> list[dict[str, Any]]:
    """One clip per source and in-distribution task: the task's first successful episode
    (else its first), replayed, with the step and outcome drawn on it. None where the
    backend cannot render (no OpenGL, no replay)."""
    from diffrl_eval.clip import CLIP_FPS, annotate, episode_captions, episode_frames, write_clip
    from diffrl_eval.dataset import load_dataset

    clips = []
    directory = run.out / RESULTS_DIR / CLIPS_DIR
    for (source, suite), record in sorted(datasets.items()):
        if suite not in run.in_distribution or record["status"] != "done":
            continue
        dataset = load_dataset(record["path"])
        episodes = dataset.frames_df.group_by(["task_id", "episode_index"]).agg(
            pl.col("success").any()).sort(["task_id", "success", "episode_index"],
                                          descending=[False, True, False])
        for row in episodes.unique("task_id", keep="first", maintain_order=True).iter_rows(
                named=True):
            try:
                frames = episode_frames(dataset, row["episode_index"], image_size=CLIP_SIZE)
            except UserError:
                return clips
            path = directory / f"data-{source}-{row['task_id']}.mp4"
            write_clip(annotate(frames, episode_captions(len(frames), row["success"])),
                       path, fps=CLIP_FPS)
            clips.append({"source": source, "task": row["task_id"], "kind": "data",
                          "success": bool(row["success"]),
                          "path": str(path.relative_to(run.out))})
    return clips


def parse_sources(text: str) -> list[str]:
    sources = [s.strip() for s in text.split(",") if s.strip()]
    if not sources:
        raise UserError("--sources must name at least one generator")
    if len(set(sources)) != len(sources):
        raise UserError(f"--sources lists a generator twice: {text}")
    known = registry.generators.names()
    for source in sources:
        if source not in known:
            raise unknown_choice("generator", source, known)
    return sources


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise UserError(f"--seeds must list distinct non-negative integers, got {text!r}")
    return seeds


def parse_baselines(text: str | None, sources: Sequence[str]) -> list[str]:
    """The ``--baseline-source`` names: comma-separated sources of this run."""
    names = [s.strip() for s in (text or "").split(",") if s.strip()]
    for name in names:
        if name not in sources:
            raise unknown_choice("--baseline-source (a source of this run)", name, sources)
    return list(dict.fromkeys(names))


def plan_compare(sources: str, backend: str, preset: str, seeds: str | None, out: Path,
                 hparams_file: Path | None = None, demos_from: Path | None = None,
                 baselines: str | None = None, vla: str = DEFAULT_VLA,
                 device: str = "cpu") -> CompareRun:
    """Validate the inputs before any work starts (the human demonstrations apart: see
    :meth:`CompareRun.check_demonstrations`). ``seeds`` None: the preset's. ``vla``: the
    VLA every source trains (reached through the registry); ``device``: the torch device
    it runs on (resolved)."""
    from diffrl_eval.vla.training import trainable_vla

    vla_cls = trainable_vla(vla)
    source_list = parse_sources(sources)
    baseline_list = parse_baselines(baselines, source_list)
    env_backend = get_backend(backend)
    chosen = get_preset(preset, env_backend)
    seed_list = parse_seeds(seeds) if seeds is not None else list(chosen.seeds)
    hparams = (vla_cls.resolve_hparams(read_hparams_file(hparams_file))
               if hparams_file is not None else preset_hparams(vla_cls, chosen))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out must be a directory, got the file {out}")
    run_file = out / RUN_FILE
    if run_file.is_file():
        try:
            previous = json.loads(run_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            previous = {}
        if previous.get("kind") != RUN_KIND:
            raise UserError(f"{out} holds something other than a compare run")
    return CompareRun(source_list, env_backend, chosen, seed_list, out, hparams, vla=vla,
                      device=device,
                      demos_from=None if demos_from is None else Path(demos_from).absolute(),
                      baselines=baseline_list)


def preset_hparams(vla_cls: Any, preset: Preset) -> dict[str, Any]:
    """The hparams a compare preset gives the VLA: the VLA's hparams preset of the compare
    preset's size, when it declares one of that name (tiny-vla: quick, full), with the
    compare preset's overrides for that VLA; otherwise the VLA's own defaults."""
    from diffrl_eval.vla.hparams import PRESET_KEY

    overrides = preset.vla_hparams.get(vla_cls.name, {})
    if preset.vla_hparams_preset in vla_cls.hparams_presets:
        return vla_cls.resolve_hparams({PRESET_KEY: preset.vla_hparams_preset, **overrides})
    return vla_cls.resolve_hparams(dict(overrides))


RUN_KIND = "diffrl-eval/compare-run"


def execute(run: CompareRun, *, show_progress: bool = True) -> dict[str, Any]:
    """Run (or finish) every stage, then write results and the report."""
    from diffrl_eval.vla.hparams import hparams_hash

    run.check_demonstrations()
    started = time.perf_counter()
    datasets: dict[tuple[str, str], dict[str, Any]] = {}
    metrics: list[dict[str, Any]] = []
    evaluations: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    with progress_bar() as progress:
        overall = progress.add_task("compare", total=run.n_stages(), status="",
                                    visible=show_progress)

        def advance(label: str) -> None:
            progress.update(overall, advance=1, description=f"compare: {label}")

        for source in run.sources:
            for suite, tasks in run.data_suites().items():
                progress.update(overall, description=f"compare: generate {source} {suite}")
                record = run.dataset_stage(source, suite, tasks)
                datasets[(source, suite)] = record
                advance(f"generated {source} {suite}")
                if record["status"] != "done":
                    failures.append({"stage": f"generate {source} {suite}",
                                     "error": record["error"]})
                    advance("skipped metrics")
                    continue
                progress.update(overall, description=f"compare: metrics {source} {suite}")
                metrics.append(run.metrics_stage(record))
                advance(f"measured {source} {suite}")

        def usable(source: str, suite: str) -> dict[str, Any] | None:
            record = datasets.get((source, suite))
            return record if record and record["status"] == "done" else None

        for source in run.sources:
            for suite, tasks in run.in_distribution.items():
                for seed in run.seeds:
                    record = usable(source, suite)
                    if record is None:
                        advance("skipped")
                        advance("skipped")
                        continue
                    progress.update(overall, description=f"compare: train {source} {suite} "
                                                         f"seed {seed}")
                    trained = run.train_stage([record], seed)
                    advance(f"trained {source} {suite}")
                    progress.update(overall, description=f"compare: evaluate {source} {suite}")
                    evaluations.append(run.eval_stage(trained, {suite: tasks},
                                                      "in-distribution"))
                    advance(f"evaluated {source} {suite}")
        train_suite, _ = run.ood_train
        for mix in run.training_mixes():
            for seed in run.seeds:
                records = [usable(source, train_suite) for source in mix]
                if any(r is None for r in records):
                    advance("skipped")
                    advance("skipped")
                    continue
                name = "+".join(mix)
                progress.update(overall, description=f"compare: train {name} {train_suite}")
                trained = run.train_stage(records, seed)  # type: ignore[arg-type]
                advance(f"trained {name} {train_suite}")
                progress.update(overall, description=f"compare: zero-shot {name}")
                evaluations.append(run.eval_stage(trained, run.ood_eval, "ood-zero-shot"))
                advance(f"evaluated {name} zero-shot")
        progress.update(overall, description="compare: report")
        summary = write_results(run, datasets, metrics, evaluations, failures,
                                hparams_hash(run.hparams))
        advance("report written")
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    return summary


def generation_cost(datasets: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """Per source: environment steps and wall time of data generation (and experts)."""
    cost: dict[str, dict[str, Any]] = {}
    for (source, _), record in sorted(datasets.items()):
        if record["status"] != "done":
            continue
        result = record["result"]
        entry = cost.setdefault(source, {"env_steps": 0, "wall_seconds": 0.0, "episodes": 0,
                                         "expert_env_steps": None, "expert_seconds": None})
        entry["env_steps"] += result["env_steps"]
        entry["wall_seconds"] = round(entry["wall_seconds"] + result["wall_seconds"], 3)
        entry["episodes"] += result["episodes"]
        if result.get("expert_env_steps") is not None:
            entry["expert_env_steps"] = (entry["expert_env_steps"] or 0) + result[
                "expert_env_steps"]
            entry["expert_seconds"] = round((entry["expert_seconds"] or 0.0)
                                            + result["expert_seconds"], 3)
    return cost


def _quality_rows(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for result in metrics:
        overall = result["overall"]
        rows.append({
            "source": result["dataset"]["source"], "suite": result["dataset"]["suite"],
            "content_hash": result["dataset"]["content_hash"],
            "episodes": result["dataset"]["n_episodes"],
            "success_rate": overall["success"]["rate"],
            "trajectory_length_mean": overall["trajectory_length"]["mean"],
            "no_op_count": overall["no_op_count"],
            "no_op_fraction": overall["no_op_fraction"],
            "mean_squared_jerk_mean": overall["mean_squared_jerk"]["mean"],
            "log_dimensionless_jerk_mean": overall["log_dimensionless_jerk"]["mean"],
            "action_variance": overall["action_variance"],
        })
    return rows


def _vla_rows(evaluations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for result in evaluations:
        for suite, summary in result["per_suite"].items():
            rows.append({
                "protocol": result["protocol"],
                "train_sources": "+".join(result["training"]["sources"]),
                "train_suites": ",".join(result["training"]["train_suites"]),
                "eval_suite": suite, "seed": result["training"]["seed"],
                "successes": summary["successes"], "episodes": summary["episodes"],
                "rate": summary["rate"], "ci_low": summary["ci_low"],
                "ci_high": summary["ci_high"], "hparams_hash": result["hparams_hash"],
            })
    return rows


def results_hash(datasets: dict[tuple[str, str], dict[str, Any]],
                 metrics: list[dict[str, Any]], evaluations: list[dict[str, Any]]) -> str:
    """A digest of every result value that must repeat (no paths, no timings)."""
    content = {
        "datasets": sorted((s, suite, r["status"], r["result"].get("content_hash"))
                           for (s, suite), r in datasets.items()),
        "quality": sorted(json.dumps(row, sort_keys=True) for row in _quality_rows(metrics)),
        "vla": sorted(json.dumps({k: v for k, v in row.items()}, sort_keys=True)
                      for row in _vla_rows(evaluations)),
        "per_task": sorted(json.dumps([e["protocol"], e["training"]["sources"],
                                       e["training"]["seed"],
                                       {t: v["successes"] for t, v in e["per_task"].items()}])
                           for e in evaluations),
    }
    return digest(content)


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import io

    buffer = io.BytesIO()
    pl.DataFrame(rows).write_parquet(buffer)
    write_bytes_atomic(path, buffer.getvalue(), overwrite=True)


def design_summary(run: CompareRun) -> str:
    """What the run's design can detect, in one sentence (printed, and atop the report)."""
    from diffrl_eval.compare.presets import minimum_detectable_difference

    episodes = run.preset.in_distribution_episodes(run.backend, len(run.seeds))
    detectable = minimum_detectable_difference(run.preset, run.backend, n_seeds=len(run.seeds))
    return (f"Design: {episodes:,} in-distribution evaluation episodes per source, which "
            f"detect success differences of about {detectable:.0%} or more (80% power, 5% "
            "level, near 50% success).")


def preset_note(run: CompareRun) -> str:
    return f"{run.preset.note} {design_summary(run)}"


def write_results(run: CompareRun, datasets, metrics, evaluations, failures,
                  hparams_digest: str) -> dict[str, Any]:
    results = run.out / RESULTS_DIR
    cost = generation_cost(datasets)
    _write_parquet(results / "data_quality.parquet", _quality_rows(metrics))
    _write_parquet(results / "vla_success.parquet", _vla_rows(evaluations))
    write_text_atomic(results / "metrics.json", json.dumps(metrics, indent=2), overwrite=True)
    write_text_atomic(results / "vla_evaluations.json", json.dumps(evaluations, indent=2),
                      overwrite=True)
    write_text_atomic(results / "generation_cost.json", json.dumps(cost, indent=2),
                      overwrite=True)
    verdict = build_verdict(metrics, evaluations, sources=run.sources, baselines=run.baselines)
    write_text_atomic(results / VERDICT_FILE, json.dumps(verdict, indent=2), overwrite=True)
    curves = expert_curves(datasets)
    write_text_atomic(results / "expert_curves.json", json.dumps(curves, indent=2),
                      overwrite=True)
    clips = [*data_clips(run, datasets), *run.clips]
    write_text_atomic(results / "clips.json", json.dumps(clips, indent=2), overwrite=True)
    digest_value = results_hash(datasets, metrics, evaluations)
    # what the page cannot read from the results themselves (it shows versions, backend,
    # VLA, seeds and hparams hash from them)
    metadata = {"preset": run.preset.name, "sources": ", ".join(run.sources),
                "results hash": digest_value}
    demos = None
    if run.demos_from is not None:
        demos = {"path": str(run.demos_from), "content_hash": run.demonstrations.content_hash}
        metadata["human demonstrations"] = f"{demos['path']} ({demos['content_hash']})"
    if failures:
        metadata["failed stages"] = "; ".join(f"{f['stage']}: {f['error']}" for f in failures)
    build_report = registry.report_builders.load("html")
    report_path = run.out / REPORT_FILE
    # the builder never overwrites; a rerun's page replaces the old one by rename
    staged = run.out / f".{REPORT_FILE}.{os.getpid()}.html"
    staged.unlink(missing_ok=True)
    try:
        build_report(metrics, staged, title=f"diffrl-eval compare ({run.preset.name})",
                     metadata=metadata, vla_results=evaluations or None,
                     generation_cost=cost or None, preset_note=preset_note(run),
                     variance_task=run.variance_task,
                     variance_dimension=run.variance_dimension, verdict=verdict,
                     expert_curves=curves or None, clips=clips, clips_base=run.out)
        staged.replace(report_path)
    finally:
        staged.unlink(missing_ok=True)
    summary = {
        "kind": RUN_KIND, "schema_version": 1, "preset": run.preset.name,
        "backend": run.backend.name, "sources": run.sources, "seeds": run.seeds,
        "hparams_hash": hparams_digest, "results_hash": digest_value,
        "demos_from": demos, "failures": failures, "report": REPORT_FILE,
        "stages_run": len(run.store.ran), "stages_reused": len(run.store.reused),
    }
    write_text_atomic(run.out / RUN_FILE, json.dumps(summary, indent=2), overwrite=True)
    return summary
