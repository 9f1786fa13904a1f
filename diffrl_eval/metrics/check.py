"""Data-quality regression checks: a dataset's metrics against a baseline or thresholds.

What `diffrl-eval check` decides, as pure functions over metrics results (the
``diffrl-eval/metrics`` JSON of :func:`diffrl_eval.metrics.compute_metrics`):

- :func:`compare_with_baseline`: every checked metric at every scope (overall, per suite,
  per task) against the same metric of a known-good result. A move in the metric's bad
  direction larger than its tolerance is a regression; moves in the good direction never
  are.
- :func:`check_thresholds`: absolute requirements such as ``no_op_count == 0`` read from
  a thresholds file (:func:`parse_thresholds`).

Which direction is bad, per metric (``CHECKED_METRICS``):

============================  ==========================================================
``success_rate``              down is bad
``trajectory_length``         up is bad (mean steps to success)
``no_op_count``               up is bad
``no_op_fraction``            up is bad
``mean_squared_jerk``         up is bad (mean over episodes)
``log_dimensionless_jerk``    down is bad (closer to zero is smoother)
``action_variance``           up is bad (less consistent across successful episodes)
============================  ==========================================================

A metric that the baseline defines but the dataset does not (no successful episode left,
so no trajectory length) is a regression; a task of the baseline that the dataset lacks
is one too. Input that cannot be compared at all (not a metrics result, another backend
or suite, an unknown metric name, a malformed threshold) raises :class:`UserError`.
"""

from __future__ import annotations

import math
import operator
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from diffrl_eval.documents import METRICS, InvalidDocument, MetricsResult
from diffrl_eval.errors import UserError, unknown_choice
from diffrl_eval.validation import loads_json

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_RELATIVE_TOLERANCE = 0.05

OVERALL = "overall"
SUITE = "suite"
TASK = "task"
EVERY = "*"  # in a thresholds file: every suite / every task of the dataset


# --- the metrics a check can read ------------------------------------------------------------


def _statistic_mean(key: str) -> Callable[[Mapping[str, Any]], float | None]:
    return lambda summary: summary[key]["mean"]


@dataclass(frozen=True)
class CheckedMetric:
    """One number of a ``<Summary>`` that a check compares, and which way is worse."""

    name: str
    higher_is_better: bool
    description: str
    read: Callable[[Mapping[str, Any]], float | None] = field(repr=False, compare=False)

    def value(self, summary: Mapping[str, Any]) -> float | None:
        """The metric in ``summary``; None when undefined (null in the JSON, or NaN)."""
        raw = self.read(summary)
        if raw is None:
            return None
        number = float(raw)
        return number if math.isfinite(number) else None

    @property
    def bad_direction(self) -> str:
        return "down" if self.higher_is_better else "up"


CHECKED_METRICS: dict[str, CheckedMetric] = {
    metric.name: metric
    for metric in (
        CheckedMetric(
            "success_rate", True, "share of successful episodes",
            lambda summary: summary["success"]["rate"],
        ),
        CheckedMetric(
            "trajectory_length", False, "mean steps to success of successful episodes",
            _statistic_mean("trajectory_length"),
        ),
        CheckedMetric(
            "no_op_count", False, "no-op steps (OpenVLA's rule)",
            lambda summary: summary["no_op_count"],
        ),
        CheckedMetric(
            "no_op_fraction", False, "no-op steps as a share of all steps",
            lambda summary: summary["no_op_fraction"],
        ),
        CheckedMetric(
            "mean_squared_jerk", False, "mean over episodes of the end-effector's squared jerk",
            _statistic_mean("mean_squared_jerk"),
        ),
        CheckedMetric(
            "log_dimensionless_jerk", True, "mean log dimensionless jerk (closer to 0: smoother)",
            _statistic_mean("log_dimensionless_jerk"),
        ),
        CheckedMetric(
            "action_variance", False, "action variance across successful episodes",
            lambda summary: summary["action_variance"],
        ),
    )
}


def checked_metric(name: str) -> CheckedMetric:
    """The metric called ``name``; ``UserError`` listing the valid names otherwise."""
    try:
        return CHECKED_METRICS[name]
    except KeyError:
        raise unknown_choice("metric", name, CHECKED_METRICS) from None


# --- reading metrics results ----------------------------------------------------------------

_HINT = "write one with 'diffrl-eval metrics DATASET --json FILE'"


def validate_metrics_result(result: Any, *, where: str) -> Mapping[str, Any]:
    """Check that ``result`` is a metrics result with every number a check reads (the one
    check of :class:`~diffrl_eval.documents.MetricsResult`, worded for ``check``).

    ``where`` names it in the one-line ``UserError`` (e.g. ``"baseline 'base.json'"``).
    """
    try:
        MetricsResult.check(result, where=where, reads=("summaries",))
        if not isinstance(result.get("dataset"), Mapping):  # its backend and suite are compared
            raise InvalidDocument("", problem="not_mapping", path="dataset")
    except InvalidDocument as problem:
        raise UserError(_check_wording(problem, where)) from None
    return result


def _check_wording(problem: InvalidDocument, where: str) -> str:
    """How ``check`` has always named a problem of a baseline or a metrics file."""
    if problem.problem in ("not_object", "kind"):
        kind = problem.found if problem.problem == "kind" else None
        return (f"{where} is not a metrics result (kind {kind!r}, expected {METRICS.name!r}); "
                f"{_HINT}")
    if problem.problem == "version":
        return f"{where} has schema_version {problem.found!r}; check reads {METRICS.version}"
    if problem.problem in ("missing", "not_mapping") and "." not in problem.path:
        return f"{where} is missing the object {problem.path!r}; {_HINT}"
    if problem.problem == "not_finite":
        return f"{where}: {problem.path} is not a finite number"
    if problem.problem == "not_number":
        return f"{where} has a malformed summary at {problem.scope!r}; {_HINT}"
    if problem.problem == "missing":
        return f"{where} is missing key {problem.path!r}; {_HINT}"
    return f"{where} has a malformed {problem.path!r}; {_HINT}"


def read_metrics_json(path: Path, *, role: str) -> Mapping[str, Any]:
    """A metrics result from a JSON file, validated; ``role`` names it in errors."""
    path = Path(path)
    where = f"{role} {str(path)!r}"
    if path.is_dir():
        raise UserError(f"{where} is a directory; give a metrics JSON file")
    return validate_metrics_result(loads_json(_read_text(path, where), where), where=where)


def _read_text(path: Path, where: str) -> str:
    """The text of the file ``path``; one line naming ``where`` when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{where} not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {where}: {error}") from None


# --- findings ---------------------------------------------------------------------------------


class Status(str, Enum):
    """The outcome of one comparison; only ``REGRESSION`` fails a check."""

    REGRESSION = "regression"
    WORSE_WITHIN_TOLERANCE = "worse, within tolerance"
    BETTER = "better"
    UNCHANGED = "unchanged"
    NEW = "new"  # undefined in the baseline, defined now
    PASSED = "passed"  # a threshold that holds


@dataclass(frozen=True)
class Finding:
    """One metric at one scope, compared with its reference (a baseline value or a bound).

    ``reference`` is the baseline's value or the threshold's bound; ``detail`` says what the
    comparison was (relative change and allowance, or the threshold as written).
    """

    scope: str  # "overall", "suite NAME", "task NAME"
    metric: str
    reference: float | None
    value: float | None
    status: Status
    detail: str

    @property
    def is_regression(self) -> bool:
        return self.status is Status.REGRESSION

    @property
    def moved(self) -> bool:
        """Whether the metric differs from its reference (every threshold counts as moved)."""
        return self.status is not Status.UNCHANGED


def regressions(findings: Iterable[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.is_regression]


def scope_label(level: str, name: str | None = None) -> str:
    return level if level == OVERALL else f"{level} {name}"


LEVELS = (OVERALL, SUITE, TASK)


def _scoped_summaries(
    result: Mapping[str, Any], levels: Sequence[str] = LEVELS, *, merge_equal: bool = True
) -> dict[str, Mapping[str, Any]]:
    """The summaries of ``levels`` by scope label: overall, then suites, then tasks
    (``merge_equal``: leave out a suite whose summary equals the overall one)."""
    summaries: dict[str, Mapping[str, Any]] = {}
    if OVERALL in levels:
        summaries[scope_label(OVERALL)] = result["overall"]
    for suite, summary in result["per_suite"].items() if SUITE in levels else ():
        # A dataset of one suite has that suite's summary equal to the overall one: checking
        # it twice would only print every row twice.
        if not merge_equal or summary != result["overall"] or OVERALL not in levels:
            summaries[scope_label(SUITE, suite)] = summary
    for task, summary in result["per_task"].items() if TASK in levels else ():
        summaries[scope_label(TASK, task)] = summary
    return summaries


# --- against a baseline -------------------------------------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move in its bad direction before it is a regression.

    The allowance is ``relative`` times the baseline's magnitude, but never less than
    ``absolute``: a baseline of zero (no no-ops) allows exactly ``absolute``.
    """

    relative: float = DEFAULT_RELATIVE_TOLERANCE
    absolute: float = 0.0

    def __post_init__(self) -> None:
        for name in ("relative", "absolute"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise UserError(f"{name} tolerance must be a finite number >= 0, got {value}")

    def allowance(self, baseline: float) -> float:
        return max(self.relative * abs(baseline), self.absolute)

    def describe(self) -> str:
        parts = [f"{100 * self.relative:g}%"]
        if self.absolute:
            parts.append(f"at least {self.absolute:g}")
        return ", ".join(parts)


def check_comparable(result: Mapping[str, Any], baseline: Mapping[str, Any]) -> None:
    """Refuse a baseline of another backend or suite: its numbers mean something else."""
    for key in ("backend", "suite"):
        ours = result["dataset"].get(key)
        theirs = baseline["dataset"].get(key)
        if ours != theirs:
            raise UserError(
                f"the baseline is from {key} {theirs!r} but the dataset is from {key} {ours!r}; "
                "compare datasets of the same backend and suite"
            )


def _compare_value(
    metric: CheckedMetric, reference: float | None, value: float | None, tolerance: Tolerance
) -> tuple[Status, str]:
    if reference is None:
        return (Status.UNCHANGED, "undefined in both") if value is None else (
            Status.NEW, "undefined in the baseline"
        )
    if value is None:
        return Status.REGRESSION, "undefined now, defined in the baseline"
    change = value - reference
    relative = f"{100 * change / abs(reference):+.1f}%" if reference else f"{change:+.4g}"
    allowed = tolerance.allowance(reference)
    worsening = -change if metric.higher_is_better else change
    if change == 0:
        return Status.UNCHANGED, "no change"
    detail = f"{relative} (allowed {metric.bad_direction} {allowed:.4g}: {tolerance.describe()})"
    if worsening <= 0:
        return Status.BETTER, relative
    # A move of exactly the allowance is allowed, whatever the rounding of the subtraction.
    if worsening > allowed and not math.isclose(worsening, allowed, rel_tol=1e-9, abs_tol=1e-12):
        return Status.REGRESSION, detail
    return Status.WORSE_WITHIN_TOLERANCE, detail


def compare_with_baseline(
    result: Mapping[str, Any],
    baseline: Mapping[str, Any],
    *,
    tolerance: Tolerance = Tolerance(),
    per_metric: Mapping[str, Tolerance] | None = None,
    metrics: Sequence[str] | None = None,
    levels: Sequence[str] = LEVELS,
) -> list[Finding]:
    """Every ``metrics`` (default: all checked metrics) at every scope of the baseline.

    ``levels`` limits the scopes (``overall``, ``suite``, ``task``): per-task numbers of a
    small dataset are noisy. ``per_metric`` overrides ``tolerance`` for the metrics it
    names. Scopes of the baseline that the result lacks are regressions; scopes only the
    result has are not compared. Raises ``UserError`` for an unknown metric or level name
    or an incomparable baseline.
    """
    per_metric = dict(per_metric or {})
    for name in per_metric:
        checked_metric(name)
    chosen = [checked_metric(name) for name in (metrics or CHECKED_METRICS)]
    for level in levels:
        if level not in LEVELS:
            raise unknown_choice("scope", level, LEVELS)
    check_comparable(result, baseline)
    # every scope of the result, even a suite equal to its overall: the baseline may not
    # have dropped the same ones
    ours = _scoped_summaries(result, levels, merge_equal=False)
    findings = []
    for scope, reference_summary in _scoped_summaries(baseline, levels).items():
        summary = ours.get(scope)
        for metric in chosen:
            reference = metric.value(reference_summary)
            if summary is None:
                findings.append(
                    Finding(scope, metric.name, reference, None, Status.REGRESSION,
                            f"{scope} is missing from the dataset")
                )
                continue
            status, detail = _compare_value(
                metric, reference, metric.value(summary), per_metric.get(metric.name, tolerance)
            )
            findings.append(
                Finding(scope, metric.name, reference, metric.value(summary), status, detail)
            )
    return findings


# --- against thresholds --------------------------------------------------------------------------

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "==": operator.eq,
}
# "<=" before "<": the alternation takes the first operator that matches.
_THRESHOLD = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op><=|>=|==|<|>)\s*(?P<value>\S+)\s*$"
)


@dataclass(frozen=True)
class Threshold:
    """``metric op bound`` at one scope (``name`` may be ``"*"``: every suite or task)."""

    level: str  # OVERALL, SUITE or TASK
    name: str | None
    metric: str
    op: str
    bound: float

    @property
    def text(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"

    def holds(self, value: float) -> bool:
        return _OPERATORS[self.op](value, self.bound)


def parse_threshold(text: str, *, level: str = OVERALL, name: str | None = None) -> Threshold:
    """One ``"metric op number"`` expression (op: <=, >=, <, >, ==) as a :class:`Threshold`."""
    if not isinstance(text, str):
        raise UserError(f"threshold {text!r} must be a string like 'success_rate >= 0.8'")
    match = _THRESHOLD.match(text)
    if match is None:
        raise UserError(
            f"malformed threshold {text!r}: expected 'METRIC OP NUMBER' with OP one of "
            f"{', '.join(_OPERATORS)}, e.g. 'no_op_count == 0'"
        )
    checked_metric(match["metric"])
    try:
        bound = float(match["value"])
    except ValueError:
        raise UserError(f"malformed threshold {text!r}: {match['value']!r} is not a number") from None
    if not math.isfinite(bound):
        raise UserError(f"malformed threshold {text!r}: the bound must be a finite number")
    return Threshold(level, name, match["metric"], match["op"], bound)


def _expressions(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise UserError(f"{where} must be a threshold string or a list of them")


def parse_thresholds(document: Mapping[str, Any]) -> list[Threshold]:
    """Thresholds from a parsed thresholds document (see :func:`read_thresholds`)."""
    thresholds: list[Threshold] = []
    unknown = sorted(set(document) - {OVERALL, SUITE, TASK})
    if unknown:
        raise UserError(
            f"unknown thresholds section {unknown[0]!r}; valid: {OVERALL}, {SUITE}, {TASK}"
        )
    for text in _expressions(document.get(OVERALL, []), OVERALL):
        thresholds.append(parse_threshold(text))
    for level in (SUITE, TASK):
        section = document.get(level, {})
        if not isinstance(section, Mapping):
            raise UserError(f"[{level}] must map {level} names to threshold strings")
        for name, value in section.items():
            for text in _expressions(value, f"{level} {name!r}"):
                thresholds.append(parse_threshold(text, level=level, name=name))
    if not thresholds:
        raise UserError("the thresholds file holds no threshold")
    return thresholds


def read_thresholds(path: Path) -> list[Threshold]:
    """Read a TOML thresholds file.

    Format::

        # top-level key: thresholds on the whole dataset
        overall = ["success_rate >= 0.8", "no_op_count == 0"]

        [suite]                       # per suite (the manifest's suite name)
        tabletop-spatial = ["mean_squared_jerk <= 1500"]

        [task]                        # per task id; "*" applies to every task
        "*" = "success_rate >= 0.5"
        spatial_left_cube_on_plate = ["trajectory_length <= 90"]

    Each threshold is ``METRIC OP NUMBER`` with OP one of ``<= >= < > ==``.
    """
    path = Path(path)
    text = _read_text(path, f"thresholds file {str(path)!r}")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"thresholds file {str(path)!r} is not valid TOML: {error}") from None
    try:
        return parse_thresholds(document)
    except UserError as error:
        raise UserError(f"thresholds file {str(path)!r}: {error}") from None


def check_thresholds(result: Mapping[str, Any], thresholds: Sequence[Threshold]) -> list[Finding]:
    """Each threshold at each scope it names; an undefined metric fails its threshold.

    Raises ``UserError`` when a threshold names a suite or task the result does not have.
    """
    containers = {SUITE: result["per_suite"], TASK: result["per_task"]}
    findings = []
    for threshold in thresholds:
        if threshold.level == OVERALL:
            scoped = [(scope_label(OVERALL), result["overall"])]
        else:
            container = containers[threshold.level]
            if threshold.name == EVERY:
                names = list(container)
            elif threshold.name in container:
                names = [threshold.name]
            else:
                raise unknown_choice(
                    f"{threshold.level} in thresholds (the dataset has no such {threshold.level})",
                    str(threshold.name),
                    container,
                )
            scoped = [(scope_label(threshold.level, n), container[n]) for n in names]
        metric = CHECKED_METRICS[threshold.metric]
        for scope, summary in scoped:
            value = metric.value(summary)
            required = f"required {threshold.op} {threshold.bound:g}"
            if value is None:
                status, detail = Status.REGRESSION, f"{required}; undefined"
            elif threshold.holds(value):
                status, detail = Status.PASSED, required
            else:
                status, detail = Status.REGRESSION, required
            findings.append(Finding(scope, metric.name, threshold.bound, value, status, detail))
    return findings


# --- tolerances from the command line ---------------------------------------------------------------


def parse_tolerances(
    relative: Sequence[str], absolute: Sequence[str] = ()
) -> tuple[Tolerance, dict[str, Tolerance]]:
    """Tolerances from ``--tolerance`` / ``--abs-tolerance`` values.

    Each value is ``NUMBER`` (the default for every metric) or ``METRIC=NUMBER`` (that
    metric only). Returns the default and the per-metric tolerances.
    """
    defaults = {"relative": DEFAULT_RELATIVE_TOLERANCE, "absolute": 0.0}
    specific: dict[str, dict[str, float]] = {}
    for kind, values in (("relative", relative), ("absolute", absolute)):
        for value in values:
            name, sep, number = value.rpartition("=")
            try:
                amount = float(number)
            except ValueError:
                raise UserError(
                    f"tolerance {value!r} must be NUMBER or METRIC=NUMBER, e.g. 0.05 or "
                    "mean_squared_jerk=0.2"
                ) from None
            if sep:
                checked_metric(name)
                specific.setdefault(name, {})[kind] = amount
            else:
                defaults[kind] = amount
    default = Tolerance(**defaults)
    return default, {name: Tolerance(**{**defaults, **given}) for name, given in specific.items()}
