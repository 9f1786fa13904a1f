"""The metrics results a report is made from: reading, validating, naming the sources.

A report consumes the JSON that ``diffrl-eval metrics --json`` writes (one dict per
dataset, ``kind == "diffrl-eval/metrics"``). This module checks that each dict has the
shape the tables and charts rely on, so that a malformed file fails with one clear line
instead of a ``KeyError`` deep inside chart code, and gives every result a unique,
human-readable name for legends and table rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffrl_eval.constants import SIMULATED_TELEOP_LABEL
from diffrl_eval.errors import UserError
from diffrl_eval.validation import loads_json, require_finite

METRICS_KIND = "diffrl-eval/metrics"
SUPPORTED_SCHEMA_VERSIONS = (1,)

_TOP_LEVEL_KEYS = ("dataset", "overall", "per_task", "action_variance_curves", "episodes")
_DATASET_KEYS = ("source", "backend", "n_episodes", "n_frames")
_SUMMARY_KEYS = (
    "success",
    "trajectory_length",
    "no_op_count",
    "mean_squared_jerk",
    "log_dimensionless_jerk",
    "action_variance",
)
_SUCCESS_KEYS = ("successes", "episodes", "rate", "ci_low", "ci_high")
_STATISTIC_KEYS = ("count", "mean", "std")
_EPISODE_KEYS = ("task_id", "success", "mean_squared_jerk", "log_dimensionless_jerk")


def read_result(path: Path) -> dict[str, Any]:
    """Read one metrics JSON file and validate it; ``UserError`` names the file and the problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot read metrics file {str(path)!r}: {error.strerror}") from None
    result = require_finite(loads_json(text, f"metrics file {str(path)!r}"),
                            f"metrics file {str(path)!r}")
    validate_result(result, where=repr(str(path)))
    return result


def validate_results(results: Sequence[Any], *, allow_none: bool = False) -> None:
    """Validate every result; raise ``UserError`` for the first problem, naming the result.

    ``allow_none``: an empty list is fine (the report has VLA results or an ablation to
    show instead).
    """
    if not results and not allow_none:
        raise UserError("a report needs at least one metrics result; none was given")
    for position, result in enumerate(results, start=1):
        validate_result(result, where=f"#{position}")


def validate_result(result: Any, *, where: str) -> None:
    """Check that ``result`` is a metrics dict with every key the report reads.

    ``where`` names the result in the message (its position or its file).
    """
    if not isinstance(result, Mapping):
        raise UserError(f"metrics result {where} is a {type(result).__name__}, not a JSON object")
    kind = result.get("kind")
    if kind != METRICS_KIND:
        raise UserError(f"metrics result {where} has kind {kind!r}; expected {METRICS_KIND!r}")
    version = result.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise UserError(
            f"metrics result {where} has schema_version {version!r}; this report reads "
            f"{', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))}"
        )
    _require(result, _TOP_LEVEL_KEYS, where, "")
    _require(result["dataset"], _DATASET_KEYS, where, "dataset")
    _require_summary(result["overall"], where, "overall")
    per_task = _require_mapping(result["per_task"], where, "per_task")
    for task_id, summary in per_task.items():
        _require_summary(summary, where, f"per_task.{task_id}")
    curves = _require_mapping(result["action_variance_curves"], where, "action_variance_curves")
    for task_id, curve in curves.items():
        _require(curve, ("variance",), where, f"action_variance_curves.{task_id}")
    episodes = result["episodes"]
    if not isinstance(episodes, list):
        raise UserError(f"metrics result {where}: 'episodes' must be a list")
    for index, episode in enumerate(episodes):
        _require(episode, _EPISODE_KEYS, where, f"episodes[{index}]")


def _require_summary(summary: Any, where: str, path: str) -> None:
    _require(summary, _SUMMARY_KEYS, where, path)
    _require(summary["success"], _SUCCESS_KEYS, where, f"{path}.success")
    _require_numbers(summary["success"], _SUCCESS_KEYS, where, f"{path}.success")
    for statistic in ("trajectory_length", "mean_squared_jerk", "log_dimensionless_jerk"):
        _require(summary[statistic], _STATISTIC_KEYS, where, f"{path}.{statistic}")
        _require_numbers(summary[statistic], _STATISTIC_KEYS, where, f"{path}.{statistic}")


def _require_numbers(value: Mapping[str, Any], keys: Sequence[str], where: str, path: str) -> None:
    """Each of ``keys`` is a number or null (undefined), never text or a list."""
    for key in keys:
        item = value[key]
        if item is not None and (isinstance(item, bool) or not isinstance(item, (int, float))):
            raise UserError(f"metrics result {where}: {path}.{key} must be a number or null, "
                            f"got {item!r}")


def _require_mapping(value: Any, where: str, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UserError(f"metrics result {where}: {path!r} must be a JSON object")
    return value


def _require(value: Any, keys: Sequence[str], where: str, path: str) -> None:
    _require_mapping(value, where, path or "(top level)")
    missing = [key for key in keys if key not in value]
    if missing:
        location = f"{path}.{missing[0]}" if path else missing[0]
        raise UserError(f"metrics result {where} is missing key {location!r}")


@dataclass(frozen=True)
class Source:
    """One result as the report shows it: a unique display name and its provenance."""

    name: str  # unique across the report: table rows
    result: Mapping[str, Any]
    # The figures' colour and legend entry: datasets of one generator on different suites
    # share it (the suite is on the axis), so "human" is one colour across suites.
    series: str = ""

    def __post_init__(self) -> None:
        if not self.series:
            object.__setattr__(self, "series", self.name)

    @property
    def suite(self) -> str:
        return str(self.dataset.get("suite") or "all")

    @property
    def dataset(self) -> Mapping[str, Any]:
        return self.result["dataset"]

    @property
    def source_label(self) -> str:
        return str(self.dataset.get("source_label") or self.dataset["source"])

    @property
    def is_simulated_teleoperation(self) -> bool:
        """True when the data stand in for human teleoperation (reports must say so)."""
        return SIMULATED_TELEOP_LABEL in self.source_label.lower()


def name_sources(results: Sequence[Mapping[str, Any]]) -> list[Source]:
    """Give each result a unique display name: its source, then its suite, then a number.

    Two datasets of the same source (say ``human`` on two suites) must not collapse into
    one legend entry.
    """
    sources = [str(result["dataset"]["source"]) for result in results]
    per_source = Counter(sources)
    with_suite = [
        name if per_source[name] == 1 else f"{name} ({result['dataset'].get('suite') or 'all'})"
        for name, result in zip(sources, results)
    ]
    counts = Counter(with_suite)
    seen: Counter[str] = Counter()
    names = []
    for name in with_suite:
        seen[name] += 1
        names.append(name if counts[name] == 1 else f"{name} #{seen[name]}")
    # One series per generator, unless two of its datasets share a suite: then the figures
    # could not tell them apart, and each dataset is its own series.
    suites_of: dict[str, list[str]] = {}
    for name, result in zip(sources, results):
        suites_of.setdefault(name, []).append(str(result["dataset"].get("suite") or "all"))
    merged = {name for name, suites in suites_of.items() if len(set(suites)) == len(suites)}
    return [
        Source(name=name, result=result, series=source if source in merged else name)
        for name, source, result in zip(names, sources, results)
    ]


def series_names(sources: Sequence[Source]) -> list[str]:
    """The figures' series in first-seen order."""
    return list(dict.fromkeys(source.series for source in sources))
