"""The JSON documents this tool writes and reads: each kind and layout version, in one place.

A document names what it is (``kind``) and the layout it follows (``schema_version``);
readers refuse another kind or a version they do not know, in one line
(:func:`diffrl_eval.validation.read_versioned_json`). Every kind and version is a
:class:`DocumentKind` below and nowhere else.

The results documents are dataclasses: ``from_json`` checks a parsed JSON object (kind,
version, every key its readers rely on) and ``to_json`` gives the object exactly as it is
written, key order included, so files stay byte-identical across versions of this module.
Top-level keys a document carries beyond its named fields (a metrics result's ``semantics``
and ``quality`` blocks) are kept in ``extra``, in their order, after the named ones.

Kinds and where they are written: ``diffrl-eval/metrics`` (``metrics --json``,
``compare``; :class:`MetricsResult`), ``diffrl-eval/vla-eval`` (``vla eval --json``;
:class:`VlaEvalResult`), ``diffrl-eval/vla-eval-seeds`` (``vla eval`` of several training
seeds; :class:`VlaSeedsResult`), ``diffrl-eval/check`` (``check --json``;
:class:`CheckResult`), ``diffrl-eval/vla-checkpoint`` (``checkpoint.json`` of ``vla
train``; :class:`VlaCheckpointInfo`), ``diffrl-eval/verdict`` and
``diffrl-eval/compare-run`` (``compare``), and the dataset manifest (``manifest.json``, a
version and no kind). reports/results/results-files.md lists their keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from diffrl_eval.errors import UserError
from diffrl_eval.validation import non_finite_path


@dataclass(frozen=True)
class DocumentKind:
    """What a JSON document says it is: ``kind_key: name`` and ``version_key: version``.

    ``name`` None: the document carries no kind (a dataset manifest, an hparams file);
    ``version`` None: it carries no version (a check outcome). ``readable``: the versions
    a reader accepts when it reads more than the one written (default: ``version``).
    """

    name: str | None
    version: Any
    kind_key: str = "kind"
    version_key: str = "schema_version"
    readable: tuple[Any, ...] = ()

    @property
    def versions(self) -> tuple[Any, ...]:
        return self.readable or (self.version,)

    def header(self) -> dict[str, Any]:
        """The keys that open a document of this kind, in the order they are written."""
        header: dict[str, Any] = {}
        if self.name is not None:
            header[self.kind_key] = self.name
        if self.version is not None:
            header[self.version_key] = self.version
        return header

    def is_kind_of(self, document: Any) -> bool:
        """Whether ``document`` is a JSON object that says it is of this kind."""
        return isinstance(document, Mapping) and (
            self.name is None or document.get(self.kind_key) == self.name)

    def reads_version_of(self, document: Mapping[str, Any]) -> bool:
        return self.version is None or document.get(self.version_key) in self.versions


METRICS = DocumentKind("diffrl-eval/metrics", 1)
VLA_EVAL = DocumentKind("diffrl-eval/vla-eval", 1)
VLA_EVAL_SEEDS = DocumentKind("diffrl-eval/vla-eval-seeds", 1)
VLA_RESULTS = (VLA_EVAL, VLA_EVAL_SEEDS)
CHECK = DocumentKind("diffrl-eval/check", None)
VLA_CHECKPOINT = DocumentKind("diffrl-eval/vla-checkpoint", 1)
DATASET_MANIFEST = DocumentKind(None, 1)
JSON_OBJECT = DocumentKind(None, None)  # any JSON object: an hparams file
VERDICT = DocumentKind("diffrl-eval/verdict", 1)
COMPARE_RUN = DocumentKind("diffrl-eval/compare-run", 1)


class InvalidDocument(UserError):
    """A results document without a key its readers rely on, or with a value of the wrong
    type. ``problem`` is one of ``not_object``, ``kind``, ``version``, ``missing``,
    ``not_mapping``, ``not_list``, ``not_number``, ``not_finite``, ``protocol``,
    ``hparams``; ``path`` the key path (``overall.success``); ``scope`` the summary it lies
    in, if any. The message is the default wording; a reader
    with its own established wording rephrases from the fields."""

    def __init__(self, message: str, *, problem: str, path: str = "", scope: str = "",
                 found: Any = None) -> None:
        super().__init__(message)
        self.problem = problem
        self.path = path
        self.scope = scope
        self.found = found


D = TypeVar("D", bound="ResultDocument")


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


# the default of a field added after the first documents of its kind were written: a
# document read without it is written back without it
ABSENT: Any = _Absent()


@dataclass
class ResultDocument:
    """A results document: its named fields, then ``extra`` top-level keys in their order."""

    KIND: ClassVar[DocumentKind]
    NOUN: ClassVar[str] = "result"  # how messages name a document of this kind
    # the named fields every document of the kind has (None: all; the others were added
    # later and default to ABSENT)
    REQUIRED: ClassVar[tuple[str, ...] | None] = None

    extra: dict[str, Any] = field(default_factory=dict, kw_only=True)

    @classmethod
    def named_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "extra")

    @classmethod
    def required_fields(cls) -> tuple[str, ...]:
        return cls.named_fields() if cls.REQUIRED is None else cls.REQUIRED

    def to_json(self) -> dict[str, Any]:
        """The JSON object as written: header, named fields in order, then ``extra``."""
        return {**self.KIND.header(),
                **{name: getattr(self, name) for name in self.named_fields()
                   if getattr(self, name) is not ABSENT},
                **self.extra}

    @classmethod
    def from_json(cls: type[D], document: Any, *, where: str) -> D:
        """The document ``document``, checked; a one-line :class:`InvalidDocument` names
        ``where`` and the first problem."""
        cls.check(document, where=where)
        named = cls.named_fields()
        return cls(**{name: document[name] for name in named if name in document},
                   extra={k: v for k, v in document.items()
                          if k not in named and k not in cls.KIND.header()})

    @classmethod
    def check(cls, document: Any, *, where: str) -> None:
        """Kind, version and the named fields (subclasses check what their readers read)."""
        cls.check_header(document, where=where)
        require_keys(document, cls.required_fields(), f"{cls.NOUN} {where}", "")

    @classmethod
    def check_header(cls, document: Any, *, where: str) -> None:
        """A JSON object of this kind and version."""
        label = f"{cls.NOUN} {where}"
        if not isinstance(document, Mapping):
            raise InvalidDocument(
                f"{label} is a {type(document).__name__}, not a JSON object",
                problem="not_object", found=type(document).__name__)
        kind = document.get(cls.KIND.kind_key)
        if not cls.KIND.is_kind_of(document):
            raise InvalidDocument(f"{label} has kind {kind!r}; expected {cls.KIND.name!r}",
                                  problem="kind", found=kind)
        if not cls.KIND.reads_version_of(document):
            version = document.get(cls.KIND.version_key)
            raise InvalidDocument(
                f"{label} has {cls.KIND.version_key} {version!r}; this version reads "
                f"{cls.KIND.version}", problem="version", found=version)


# -- checking helpers ---------------------------------------------------------------------
def require_mapping(value: Any, label: str, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidDocument(f"{label}: {path or '(top level)'!r} must be a JSON object",
                              problem="not_mapping", path=path)
    return value


def require_keys(value: Any, keys: Sequence[str], label: str, path: str,
                 scope: str = "") -> Mapping[str, Any]:
    """``value`` is an object holding every one of ``keys`` (``path``: where it lies)."""
    require_mapping(value, label, path)
    missing = [key for key in keys if key not in value]
    if missing:
        location = f"{path}.{missing[0]}" if path else missing[0]
        raise InvalidDocument(f"{label} is missing key {location!r}", problem="missing",
                              path=location, scope=scope)
    return value


def require_numbers(value: Mapping[str, Any], keys: Sequence[str], label: str, path: str,
                    scope: str = "") -> None:
    """Each of ``keys`` is a number or null (undefined), never text or a list."""
    for key in keys:
        item = value[key]
        if item is not None and (isinstance(item, bool) or not isinstance(item, (int, float))):
            raise InvalidDocument(f"{label}: {path}.{key} must be a number or null, got {item!r}",
                                  problem="not_number", path=f"{path}.{key}", scope=scope,
                                  found=item)


# -- metrics ------------------------------------------------------------------------------
SUMMARY_KEYS = (
    "success",
    "trajectory_length",
    "no_op_count",
    "no_op_fraction",
    "mean_squared_jerk",
    "log_dimensionless_jerk",
    "action_variance",
)
SUCCESS_KEYS = ("successes", "episodes", "rate", "ci_low", "ci_high")
STATISTIC_KEYS = ("count", "mean", "std")
_STATISTICS = ("trajectory_length", "mean_squared_jerk", "log_dimensionless_jerk")
_SCALARS = ("no_op_count", "no_op_fraction", "action_variance")
METRICS_DATASET_KEYS = ("source", "backend", "n_episodes", "n_frames")
METRICS_EPISODE_KEYS = ("task_id", "success", "mean_squared_jerk", "log_dimensionless_jerk")
# what a reader of a metrics result may read, and the top-level keys each part is made of
METRICS_PARTS = {
    "dataset": ("dataset",),
    "summaries": ("overall", "per_suite", "per_task"),
    "curves": ("action_variance_curves",),
    "episodes": ("episodes",),
}


@dataclass
class MetricsResult(ResultDocument):
    """What ``diffrl-eval metrics`` measures of one dataset (see
    :func:`diffrl_eval.metrics.compute_metrics`): the dataset block, overall / per-suite /
    per-task summaries, per-task action-variance curves and one record per episode."""

    KIND: ClassVar[DocumentKind] = METRICS
    NOUN: ClassVar[str] = "metrics result"

    dataset: dict[str, Any]
    overall: dict[str, Any]
    per_suite: dict[str, Any]
    per_task: dict[str, Any]
    action_variance_curves: dict[str, Any]
    episodes: list[dict[str, Any]]

    @classmethod
    def check(cls, document: Any, *, where: str,
              reads: Sequence[str] = tuple(METRICS_PARTS)) -> None:
        """Every key and number of the parts a reader ``reads`` (of :data:`METRICS_PARTS`;
        the report reads all, ``check`` the summaries), every number finite."""
        cls.check_header(document, where=where)
        label = f"{cls.NOUN} {where}"
        require_keys(document, [key for part in METRICS_PARTS if part in reads
                                for key in METRICS_PARTS[part]], label, "")
        if "dataset" in reads:
            require_keys(document["dataset"], METRICS_DATASET_KEYS, label, "dataset")
        if "summaries" in reads:
            summaries = [("overall", document["overall"])]
            for container in ("per_suite", "per_task"):
                items = require_mapping(document[container], label, container).items()
                summaries += [(f"{container}.{name}", summary) for name, summary in items]
            for path, summary in summaries:
                _check_summary(summary, label, path)
        if "curves" in reads:
            curves = require_mapping(document["action_variance_curves"], label,
                                     "action_variance_curves")
            for task_id, curve in curves.items():
                require_keys(curve, ("variance",), label, f"action_variance_curves.{task_id}")
        if "episodes" in reads:
            episodes = document["episodes"]
            if not isinstance(episodes, list):
                raise InvalidDocument(f"{label}: 'episodes' must be a list", problem="not_list",
                                      path="episodes")
            for index, episode in enumerate(episodes):
                require_keys(episode, METRICS_EPISODE_KEYS, label, f"episodes[{index}]")
        # a NaN compares false with everything: a check against it would pass whatever it held
        found = non_finite_path(document)
        if found is not None:
            raise InvalidDocument(f"{label}: {found} is not a finite number",
                                  problem="not_finite", path=found)


def _check_summary(summary: Any, label: str, path: str) -> None:
    require_keys(summary, SUMMARY_KEYS, label, path, scope=path)
    require_keys(summary["success"], SUCCESS_KEYS, label, f"{path}.success", scope=path)
    require_numbers(summary["success"], SUCCESS_KEYS, label, f"{path}.success", scope=path)
    for statistic in _STATISTICS:
        require_keys(summary[statistic], STATISTIC_KEYS, label, f"{path}.{statistic}",
                     scope=path)
        require_numbers(summary[statistic], STATISTIC_KEYS, label, f"{path}.{statistic}",
                        scope=path)
    require_numbers(summary, _SCALARS, label, path, scope=path)


# -- VLA evaluation -----------------------------------------------------------------------
IN_DISTRIBUTION = "in-distribution"
OOD_ZERO_SHOT = "ood-zero-shot"
PROTOCOLS = (IN_DISTRIBUTION, OOD_ZERO_SHOT)
VLA_TRAINING_KEYS = ("seed", "datasets", "sources", "train_suites")


@dataclass(kw_only=True)
class VlaEvalResult(ResultDocument):
    """One checkpoint evaluated once (``vla eval``): success per task, suite and overall
    with Wilson intervals, and where the checkpoint came from. The fields that default to
    :data:`ABSENT` were added after the first results were written; readers do not rely
    on them."""

    KIND: ClassVar[DocumentKind] = VLA_EVAL
    NOUN: ClassVar[str] = "VLA result"
    REQUIRED: ClassVar[tuple[str, ...]] = (
        "vla", "hparams_hash", "training", "backend", "protocol", "eval_seed",
        "episodes_per_task", "per_task", "per_suite", "overall")

    vla: str
    checkpoint: str | None = ABSENT
    checkpoint_hash: str | None = ABSENT
    hparams_hash: str
    training: dict[str, Any]
    backend: str
    protocol: str
    eval_seed: int
    episodes_per_task: int
    per_task: dict[str, Any]
    per_suite: dict[str, Any]
    overall: dict[str, Any]
    env_steps: int | None = ABSENT
    device: str | None = ABSENT
    wall_seconds: float | None = ABSENT
    tool_version: str | None = ABSENT

    @classmethod
    def check(cls, document: Any, *, where: str) -> None:
        """Every key the report's tables read: the training sources, a known protocol,
        success counts per suite and overall."""
        super().check(document, where=where)
        label = f"{cls.NOUN} {where}"
        training = require_keys(document["training"], VLA_TRAINING_KEYS, label, "training")
        sources = training["sources"]
        if not (isinstance(sources, list) and sources and all(isinstance(s, str) for s in sources)):
            raise InvalidDocument(f"{label}: 'training.sources' must be a non-empty list of names",
                                  problem="not_list", path="training.sources")
        if document["protocol"] not in PROTOCOLS:
            raise InvalidDocument(f"{label} has protocol {document['protocol']!r}; expected one "
                                  f"of {', '.join(PROTOCOLS)}", problem="protocol",
                                  path="protocol", found=document["protocol"])
        per_suite = require_mapping(document["per_suite"], label, "per_suite")
        for suite, success in per_suite.items():
            _check_success_counts(success, label, f"per_suite.{suite}")
        _check_success_counts(document["overall"], label, "overall")


def _check_success_counts(success: Any, label: str, path: str) -> None:
    require_keys(success, SUCCESS_KEYS, label, path)
    successes, episodes = success["successes"], success["episodes"]
    if not (isinstance(successes, int) and isinstance(episodes, int)
            and 0 <= successes <= episodes):
        raise InvalidDocument(f"{label}: {path!r} needs integers 0 <= successes <= episodes, "
                              f"got {successes!r}/{episodes!r}", problem="not_number", path=path)


@dataclass
class VlaSeedsResult(ResultDocument):
    """Several training seeds' evaluations aggregated: mean and population std of the
    success rates, with every run kept in ``runs``."""

    KIND: ClassVar[DocumentKind] = VLA_EVAL_SEEDS
    NOUN: ClassVar[str] = "VLA result"
    REQUIRED: ClassVar[tuple[str, ...]] = ("hparams_hash", "runs")

    hparams_hash: str
    sources: list[str]
    protocol: str
    seeds: list[int]
    per_suite: dict[str, Any]
    overall: dict[str, Any]
    per_task: dict[str, Any]
    runs: list[dict[str, Any]]

    @classmethod
    def check(cls, document: Any, *, where: str) -> None:
        """Each run a valid evaluation of the aggregate's hparams."""
        super().check(document, where=where)
        label = f"{cls.NOUN} {where}"
        runs = document["runs"]
        if not isinstance(runs, list) or not runs:
            raise InvalidDocument(f"{label}: 'runs' must be a non-empty list of evaluations",
                                  problem="not_list", path="runs")
        for index, run in enumerate(runs):
            VlaEvalResult.check(run, where=f"{where} runs[{index}]")
            if run["hparams_hash"] != document["hparams_hash"]:
                raise InvalidDocument(
                    f"{label}: runs[{index}] has hparams_hash {run['hparams_hash']!r} but the "
                    f"aggregate says {document['hparams_hash']!r}", problem="hparams",
                    path=f"runs[{index}].hparams_hash")


@dataclass
class VlaCheckpointInfo(ResultDocument):
    """What ``vla train`` records of a checkpoint (``checkpoint.json``): which VLA, its
    complete hparams and their hash, the backend, the training provenance, where and how
    long it trained; when written, ``extra`` adds the VLA's content hash of the files beside
    it and each file's hash (:func:`diffrl_eval.vla.checkpoint.write_info`)."""

    KIND: ClassVar[DocumentKind] = VLA_CHECKPOINT
    NOUN: ClassVar[str] = "VLA checkpoint"
    REQUIRED: ClassVar[tuple[str, ...]] = ("vla", "hparams", "hparams_hash", "backend",
                                           "training")

    vla: str
    hparams: dict[str, Any]
    hparams_hash: str
    backend: str
    training: dict[str, Any]
    device: str | None = ABSENT
    train_seconds: float | None = ABSENT
    tool_version: str | None = ABSENT


# -- check --------------------------------------------------------------------------------
@dataclass
class CheckResult(ResultDocument):
    """What ``check`` concluded about one dataset (``check --json``)."""

    KIND: ClassVar[DocumentKind] = CHECK
    NOUN: ClassVar[str] = "check result"

    dataset: str
    passed: bool
    fail_on: str
    errors: int
    warnings: list[str]
    findings: list[dict[str, Any]]
