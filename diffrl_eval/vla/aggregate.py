"""Evaluation results as data: success counts with Wilson intervals, multi-seed aggregates.

The JSON layouts (kind ``diffrl-eval/vla-eval`` for one checkpoint, kind
``diffrl-eval/vla-eval-seeds`` for several training seeds) are what ``compare`` and the
report read. Results trained with different hyper-parameters (different
``hparams_hash``) are never aggregated: the comparison would not be like for like.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from diffrl_eval.documents import VLA_EVAL, VlaSeedsResult
from diffrl_eval.errors import UserError
from diffrl_eval.metrics.success import wilson_interval

CONFIDENCE = 0.95


def success_summary(successes: int, episodes: int) -> dict[str, Any]:
    """``successes`` out of ``episodes`` with its Wilson 95% interval."""
    low, high = wilson_interval(int(successes), int(episodes), CONFIDENCE)
    return {
        "successes": int(successes),
        "episodes": int(episodes),
        "rate": successes / episodes if episodes else 0.0,
        "ci_low": low,
        "ci_high": high,
        "confidence": CONFIDENCE,
    }


def check_same_hparams(hashes: Sequence[str], where: Sequence[str] | None = None) -> str:
    """The one hparams hash of ``hashes``; two different ones are a one-line error."""
    if not hashes:
        raise UserError("no results to aggregate")
    first = hashes[0]
    for i, other in enumerate(hashes):
        if other != first:
            names = ""
            if where is not None:
                names = f" ({where[0]} vs {where[i]})"
            raise UserError(
                f"results were trained with different hyper-parameters{names}: hparams_hash "
                f"{first} vs {other}; they cannot be aggregated or compared"
            )
    return first


def _spread(rates: Sequence[float]) -> dict[str, Any]:
    values = np.asarray(rates, dtype=np.float64)
    return {"mean": float(values.mean()), "std": float(values.std(ddof=0)),
            "rates": [float(r) for r in values]}


def aggregate_seeds(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and population std (ddof = 0) of success rates across training seeds.

    Every result must share the hparams hash, the training sources, the protocol and the
    evaluated tasks; anything else is a one-line :class:`UserError`.
    """
    results = list(results)
    if not results:
        raise UserError("no results to aggregate")
    for result in results:
        if not VLA_EVAL.is_kind_of(result):
            raise UserError(f"not a VLA evaluation result (kind {result.get('kind')!r})")
    check_same_hparams([r["hparams_hash"] for r in results],
                       [r.get("checkpoint", "?") for r in results])
    first = results[0]
    for result in results[1:]:
        for label, key in (("training sources", lambda r: r["training"]["sources"]),
                           ("protocol", lambda r: r["protocol"]),
                           ("evaluated tasks", lambda r: sorted(r["per_task"]))):
            if key(result) != key(first):
                raise UserError(f"results differ in {label} ({key(first)} vs {key(result)}); "
                                "only runs that differ in their seed are aggregated")
    return VlaSeedsResult(
        hparams_hash=first["hparams_hash"],
        sources=first["training"]["sources"],
        protocol=first["protocol"],
        seeds=[int(r["training"]["seed"]) for r in results],
        per_suite={suite: _spread([r["per_suite"][suite]["rate"] for r in results])
                   for suite in first["per_suite"]},
        overall=_spread([r["overall"]["rate"] for r in results]),
        per_task={task: _spread([r["per_task"][task]["rate"] for r in results])
                  for task in first["per_task"]},
        runs=results,
    ).to_json()
