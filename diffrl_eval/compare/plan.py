"""What a `compare` run does: its settings (:class:`CompareRun`) and its plan, the ordered
list of typed stage records that :mod:`.orchestration` walks.

For every source: generate a dataset per suite (the in-distribution suites and the OOD
training suite) and measure it; train the VLA on each in-distribution dataset (one model
per training seed) and evaluate it on the suite's fixed initial states; train it on the
OOD suite (each source alone, and the Human+RL mixture) and evaluate it zero-shot on the
OOD suites; last, write the results and the report. Given a human dataset (``demos_from``,
:mod:`.human_selection`), the human source's data are taken from it instead of generated,
and the sources that clone demonstrations clone it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diffrl_eval import registry
from diffrl_eval.compare import human_selection
from diffrl_eval.compare.presets import Preset, get_preset, preset_tasks
from diffrl_eval.compare.stages import StageStore
from diffrl_eval.constants import DEFAULT_VLA
from diffrl_eval.dataset.demonstrations import load_demonstrations
from diffrl_eval.documents import COMPARE_RUN, IN_DISTRIBUTION, OOD_ZERO_SHOT
from diffrl_eval.envs.base import EnvBackend, get_backend
from diffrl_eval.errors import UserError
from diffrl_eval.executor import Executor
from diffrl_eval.generator import GeneratorConfig, cloning_sources
from diffrl_eval.vla.hparams import read_hparams_file

if TYPE_CHECKING:
    from diffrl_eval.dataset import Dataset

RUN_FILE = "run.json"
HUMAN = human_selection.HUMAN
MIX_PARTNER = "diffusion-ppo"  # the paper's Human+RL row mixes human with its RL data


# --- the stage records ----------------------------------------------------------------------
@dataclass(frozen=True)
class Generate:
    """Generate (or, for recorded human data, select) ``source``'s dataset of ``suite``."""

    source: str
    suite: str
    tasks: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"generate {self.source} {self.suite}"


@dataclass(frozen=True)
class Measure:
    """The data-quality metrics of the dataset of ``data``."""

    data: Generate

    @property
    def label(self) -> str:
        return f"metrics {self.data.source} {self.data.suite}"


@dataclass(frozen=True)
class Train:
    """Train the VLA with ``seed`` on the datasets of ``data`` (one suite, one or more
    sources)."""

    data: tuple[Generate, ...]
    seed: int

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(d.source for d in self.data)

    @property
    def label(self) -> str:
        return f"train {'+'.join(self.sources)} {self.data[0].suite} seed {self.seed}"


@dataclass(frozen=True)
class Evaluate:
    """Evaluate the VLA of ``trained`` on ``suites`` (suite -> its tasks) by ``protocol``."""

    trained: Train
    suites: tuple[tuple[str, tuple[str, ...]], ...]
    protocol: str

    @property
    def label(self) -> str:
        return (f"evaluate {'+'.join(self.trained.sources)} {self.protocol} "
                f"seed {self.trained.seed}")


@dataclass(frozen=True)
class Report:
    """Write ``results/``, the verdict and ``report.html``."""

    label: str = "report"


Stage = Generate | Measure | Train | Evaluate | Report


# --- the settings -------------------------------------------------------------------------
@dataclass
class CompareRun:
    """The settings of one `compare` invocation, and its stages' shared state."""

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
    # a human dataset: the human source's episodes, and what the cloning sources clone
    # (None: the human generator makes them, where the backend can)
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

    def recorded(self, source: str) -> bool:
        """Whether ``source``'s data are selected from ``demos_from``, not generated."""
        return source == HUMAN and self.demos_from is not None

    # --- the human demonstrations ---------------------------------------------------------
    def cloning_sources(self) -> list[str]:
        """The run's sources that clone human demonstrations."""
        return cloning_sources(self.sources)

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
                    f"{human_selection.DEMOS_FROM_FLAG} OUT to compare"
                )
            return
        needed = {source: int(self.generator_config(source).n_demonstrations)
                  for source in self.cloning_sources()}
        human_selection.check_coverage(
            self.demonstrations, [t for ts in self.data_suites().values() for t in ts],
            None, needed)
        if HUMAN in self.sources:  # the human source takes each suite's episode count
            for suite, tasks in self.data_suites().items():
                human_selection.check_coverage(self.demonstrations, tasks,
                                               self.preset.episodes_for(suite), {})

    def generator_options(self, source: str) -> dict[str, Any]:
        """The preset's options of ``source``, with ``demos_from`` for a cloning source."""
        options = self.preset.options_for(source)
        if self.demos_from is not None and source in self.cloning_sources():
            options["demos_from"] = str(Path(self.demos_from).absolute())
        return options

    def generator_config(self, source: str) -> GeneratorConfig:
        return registry.generators.load(source).make_config(self.generator_options(source))


def build_plan(run: CompareRun) -> list[Stage]:
    """Every stage of ``run``, in the order they run."""
    plan: list[Stage] = []
    data = {(source, suite): Generate(source, suite, tuple(tasks))
            for source in run.sources for suite, tasks in run.data_suites().items()}
    for generated in data.values():
        plan += [generated, Measure(generated)]
    for source in run.sources:
        for suite, tasks in run.in_distribution.items():
            for seed in run.seeds:
                trained = Train((data[(source, suite)],), seed)
                plan += [trained, Evaluate(trained, ((suite, tuple(tasks)),), IN_DISTRIBUTION)]
    train_suite, _ = run.ood_train
    ood_eval = tuple((suite, tuple(tasks)) for suite, tasks in run.ood_eval.items())
    for mix in run.training_mixes():
        for seed in run.seeds:
            trained = Train(tuple(data[(source, train_suite)] for source in mix), seed)
            plan += [trained, Evaluate(trained, ood_eval, OOD_ZERO_SHOT)]
    plan.append(Report())
    return plan


# --- planning from the command line's values ---------------------------------------------
def plan_compare(sources: list[str], backend: str, preset: str, seeds: list[int] | None,
                 out: Path, hparams_file: Path | None = None, demos_from: Path | None = None,
                 baselines: list[str] | None = None, vla: str = DEFAULT_VLA,
                 device: str = "cpu") -> CompareRun:
    """Check the settings before any work starts (the human demonstrations apart: see
    :meth:`CompareRun.check_demonstrations`). ``sources``: registered generator names;
    ``seeds`` None: the preset's; ``baselines``: sources of the run; ``vla``: the VLA every
    source trains (reached through the registry); ``device``: the torch device it runs on
    (resolved)."""
    from diffrl_eval.vla.training import trainable_vla

    vla_cls = trainable_vla(vla)
    env_backend = get_backend(backend)
    chosen = get_preset(preset, env_backend)
    hparams = (vla_cls.resolve_hparams(read_hparams_file(hparams_file))
               if hparams_file is not None else preset_hparams(vla_cls, chosen))
    out = Path(out)
    run_file = out / RUN_FILE
    if run_file.is_file():
        try:
            previous = json.loads(run_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            previous = {}
        if not COMPARE_RUN.is_kind_of(previous):
            raise UserError(f"{out} holds something other than a compare run")
    return CompareRun(list(sources), env_backend, chosen,
                      list(seeds) if seeds is not None else list(chosen.seeds), out, hparams,
                      vla=vla, device=device,
                      demos_from=None if demos_from is None else Path(demos_from).absolute(),
                      baselines=list(baselines or []))


def preset_hparams(vla_cls: Any, preset: Preset) -> dict[str, Any]:
    """The hparams a compare preset gives the VLA: the VLA's hparams preset of the compare
    preset's size, when it declares one of that name (tiny-vla: quick, full), with the
    compare preset's overrides for that VLA; otherwise the VLA's own defaults."""
    from diffrl_eval.vla.hparams import PRESET_KEY

    overrides = preset.vla_hparams.get(vla_cls.name, {})
    if preset.vla_hparams_preset in vla_cls.hparams_presets:
        return vla_cls.resolve_hparams({PRESET_KEY: preset.vla_hparams_preset, **overrides})
    return vla_cls.resolve_hparams(dict(overrides))
