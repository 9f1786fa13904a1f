"""VLA evaluation results as the report's Table I and Table II rows.

A report receives single evaluations (``diffrl-eval/vla-eval``: one checkpoint evaluated
once) and multi-seed aggregates (``diffrl-eval/vla-eval-seeds``, which carry their runs).
Both are flattened into runs; the runs of one protocol (in-distribution or OOD zero-shot)
are grouped by the set of data sources the VLA was trained on, one table row per set.

A cell (one row, one evaluated suite) pools every run of that row that evaluated the
suite: the success rate per training seed (mean ± population std when several seeds) and
the Wilson interval of the pooled successes. Runs trained with different hyper-parameters
never share a table: their hashes differ and the comparison would not be the paper's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from diffrl_eval.constants import SIMULATED_TELEOP_LABEL
from diffrl_eval.documents import (
    IN_DISTRIBUTION,
    OOD_ZERO_SHOT,
    VLA_EVAL,
    VLA_EVAL_SEEDS,
    VlaEvalResult,
    VlaSeedsResult,
)
from diffrl_eval.errors import UserError
from diffrl_eval.metrics import wilson_interval

VLA_EVAL_KIND = VLA_EVAL.name
VLA_SEEDS_KIND = VLA_EVAL_SEEDS.name
VLA_KINDS = (VLA_EVAL_KIND, VLA_SEEDS_KIND)

TABLE_NAMES = {IN_DISTRIBUTION: "Table I (in-distribution)", OOD_ZERO_SHOT: "Table II (OOD zero-shot)"}

# --- validation ----------------------------------------------------------------------------------


def is_vla_result(value: Any) -> bool:
    """Whether ``value`` claims to be a VLA evaluation result (single or multi-seed)."""
    return isinstance(value, Mapping) and value.get("kind") in VLA_KINDS


def validate_run(run: Any, *, where: str) -> None:
    """Check one ``diffrl-eval/vla-eval`` result has every key the tables read."""
    VlaEvalResult.check(run, where=where)


def validate_vla_result(result: Any, *, where: str) -> None:
    """Check a single evaluation or a multi-seed aggregate (and each of its runs)."""
    kind = result.get("kind") if isinstance(result, Mapping) else None
    if kind == VLA_SEEDS_KIND:
        VlaSeedsResult.check(result, where=where)
    elif kind is None or kind == VLA_EVAL_KIND:  # not an object, or no kind: named there
        VlaEvalResult.check(result, where=where)
    else:
        raise UserError(f"VLA result {where} has kind {kind!r}; expected one of "
                        f"{', '.join(VLA_KINDS)}")


def evaluation_runs(results: Sequence[Any]) -> list[Mapping[str, Any]]:
    """Every single evaluation in ``results`` (aggregates contribute their runs), validated.

    The same evaluation given twice (alone and inside an aggregate) counts once.
    """
    runs: list[Mapping[str, Any]] = []
    seen: set[tuple] = set()
    for position, result in enumerate(results, start=1):
        validate_vla_result(result, where=f"#{position}")
        for run in result["runs"] if result["kind"] == VLA_SEEDS_KIND else [result]:
            key = (
                run.get("checkpoint_hash"),
                run["protocol"],
                run["eval_seed"],
                run["episodes_per_task"],
                tuple(sorted(run["per_suite"])),
            )
            if key[0] is not None and key in seen:
                continue
            seen.add(key)
            runs.append(run)
    return runs


# --- pooling over seeds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedSummary:
    """One cell: success per training seed, and the Wilson interval of the pooled counts."""

    seeds: tuple[int, ...]
    rates: tuple[float, ...]  # per seed, in ``seeds`` order
    successes: int  # pooled over seeds
    episodes: int
    ci_low: float
    ci_high: float

    @property
    def rate(self) -> float:
        return self.successes / self.episodes if self.episodes else math.nan

    @property
    def mean(self) -> float:
        return sum(self.rates) / len(self.rates)

    @property
    def std(self) -> float:
        """Population standard deviation over seeds (ddof = 0, as the aggregates use)."""
        mean = self.mean
        return math.sqrt(sum((rate - mean) ** 2 for rate in self.rates) / len(self.rates))

    def success_dict(self) -> dict[str, Any]:
        """The pooled counts in the ``<Success>`` shape the table formatting reads."""
        return {
            "successes": self.successes,
            "episodes": self.episodes,
            "rate": self.rate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": 0.95,
        }


def pool_by_seed(samples: Sequence[tuple[int, Mapping[str, Any]]]) -> SeedSummary | None:
    """Pool ``(training seed, <Success>)`` samples: counts per seed, then over seeds."""
    per_seed: dict[int, list[int]] = {}
    for seed, success in samples:
        counts = per_seed.setdefault(int(seed), [0, 0])
        counts[0] += int(success["successes"])
        counts[1] += int(success["episodes"])
    per_seed = {seed: counts for seed, counts in per_seed.items() if counts[1] > 0}
    if not per_seed:
        return None
    seeds = tuple(sorted(per_seed))
    successes = sum(per_seed[seed][0] for seed in seeds)
    episodes = sum(per_seed[seed][1] for seed in seeds)
    low, high = wilson_interval(successes, episodes)
    return SeedSummary(
        seeds=seeds,
        rates=tuple(per_seed[seed][0] / per_seed[seed][1] for seed in seeds),
        successes=successes,
        episodes=episodes,
        ci_low=low,
        ci_high=high,
    )


# --- table rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VlaRow:
    """One training-data row of Table I or II: the runs of VLAs trained on ``sources``."""

    sources: tuple[str, ...]
    runs: tuple[Mapping[str, Any], ...]
    per_suite: dict[str, SeedSummary]
    overall: SeedSummary | None

    @property
    def label(self) -> str:
        return " + ".join(self.sources)

    @property
    def is_mix(self) -> bool:
        return len(self.sources) > 1

    @property
    def is_simulated_teleoperation(self) -> bool:
        """True when part of the training data stands in for human teleoperation."""
        return any(
            SIMULATED_TELEOP_LABEL in str(dataset.get("source_label") or "").lower()
            for run in self.runs
            for dataset in run["training"]["datasets"]
            if isinstance(dataset, Mapping)
        )

    @property
    def train_suites(self) -> tuple[str, ...]:
        ordered: dict[str, None] = {}
        for run in self.runs:
            ordered.update(dict.fromkeys(str(s) for s in run["training"]["train_suites"]))
        return tuple(ordered)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(sorted({int(run["training"]["seed"]) for run in self.runs}))


def row_label(sources: Sequence[str]) -> str:
    return " + ".join(sorted(sources))


def check_one_hparams(runs: Sequence[Mapping[str, Any]], table: str) -> None:
    """Refuse a table whose runs were trained with different hyper-parameters."""
    first = runs[0]
    for run in runs[1:]:
        if run["hparams_hash"] != first["hparams_hash"]:
            raise UserError(
                f"{table} would mix VLAs trained with different hyper-parameters: hparams_hash "
                f"{first['hparams_hash']!r} ({row_label(first['training']['sources'])}, seed "
                f"{first['training']['seed']}) and {run['hparams_hash']!r} "
                f"({row_label(run['training']['sources'])}, seed {run['training']['seed']})"
            )


def suites_of(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Evaluated suites in first-seen order."""
    ordered: dict[str, None] = {}
    for run in runs:
        ordered.update(dict.fromkeys(run["per_suite"]))
    return list(ordered)


def vla_rows(
    runs: Sequence[Mapping[str, Any]], protocol: str, source_order: Sequence[str] = ()
) -> list[VlaRow]:
    """The rows of one protocol's table, single sources first (in ``source_order``), mixes last.

    Raises ``UserError`` if the protocol's runs have different ``hparams_hash``.
    """
    chosen = [run for run in runs if run["protocol"] == protocol]
    if not chosen:
        return []
    check_one_hparams(chosen, TABLE_NAMES[protocol])
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for run in chosen:
        groups.setdefault(tuple(sorted(run["training"]["sources"])), []).append(run)
    rank = {name: index for index, name in enumerate(source_order)}

    def order(sources: tuple[str, ...]) -> tuple:
        return (len(sources) > 1, [rank.get(s, len(rank)) for s in sources], sources)

    rows = []
    for sources in sorted(groups, key=order):
        group = groups[sources]
        per_suite = {}
        for suite in suites_of(group):
            pooled = pool_by_seed(
                [(run["training"]["seed"], run["per_suite"][suite]) for run in group
                 if suite in run["per_suite"]]
            )
            if pooled is not None:
                per_suite[suite] = pooled
        overall = pool_by_seed(
            [(run["training"]["seed"], success) for run in group
             for success in run["per_suite"].values()]
            or [(run["training"]["seed"], run["overall"]) for run in group]
        )
        rows.append(VlaRow(sources=sources, runs=tuple(group), per_suite=per_suite, overall=overall))
    return rows
