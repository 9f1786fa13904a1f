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
from diffrl_eval.documents import MetricsResult
from diffrl_eval.errors import UserError
from diffrl_eval.validation import loads_json, require_finite


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
    """Check that ``result`` is a metrics dict with every key the report reads
    (:meth:`MetricsResult.check <diffrl_eval.documents.MetricsResult.check>`).

    ``where`` names the result in the message (its position or its file).
    """
    MetricsResult.check(result, where=where)


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
