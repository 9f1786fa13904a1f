"""The answer of a `compare` run: each source against its baselines, and the paper's claims.

:func:`build_verdict` reads the run's results (metrics of each dataset, VLA evaluations)
and returns the ``diffrl-eval/verdict`` document written to ``results/verdict.json`` and
shown at the top of the report:

- ``comparisons``: for every (source, baseline) pair, the difference ``source - baseline``
  in in-distribution and OOD zero-shot VLA success and in each data-quality metric, with a
  95% interval (:mod:`.intervals`), the difference this run could detect, and a label:
  *better*, *worse* or *not distinguishable at this size*.
- ``findings``: each claim of the study marked *reproduced*, *contradicted* or
  *inconclusive* (or *not tested* when the run lacks a source), with the numbers behind it.
- ``recommendation``: one line when the run is too small to see a 10-point difference in
  in-distribution success.

Pure: dicts in, a dict out; no files, no models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from diffrl_eval.compare import intervals
from diffrl_eval.compare.intervals import BETTER, WORSE, Difference
from diffrl_eval.documents import IN_DISTRIBUTION, OOD_ZERO_SHOT, VERDICT

HUMAN = "human"
GAUSSIAN_RL = "gaussian-ppo"
DIFFUSION_RL = "diffusion-ppo"
MIX = "+".join(sorted([HUMAN, DIFFUSION_RL]))  # the Human+RL training mixture's label

TARGET_DIFFERENCE = 0.10  # a run should see a 10-point difference in success

REPRODUCED = "reproduced"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive"
NOT_TESTED = "not tested"


@dataclass(frozen=True)
class Quantity:
    """One compared quantity: its key in the verdict, how it reads, which way is better."""

    key: str
    title: str
    higher_is_better: bool
    unit: str = ""


SUCCESS = {
    IN_DISTRIBUTION: Quantity("success_in_distribution", "in-distribution VLA success", True),
    OOD_ZERO_SHOT: Quantity("success_ood_zero_shot", "OOD zero-shot VLA success", True),
}
LENGTH = Quantity("trajectory_length", "trajectory length (steps to success)", False, "steps")
NO_OP = Quantity("no_op_fraction", "no-op fraction of steps", False)
JERK = Quantity("mean_squared_jerk", "mean squared jerk", False, "(m/s³)²")
LDLJ = Quantity("log_dimensionless_jerk", "log dimensionless jerk (closer to 0: smoother)", True)
VARIANCE = Quantity("action_variance", "action variance across successful episodes", False)
QUALITY = (LENGTH, NO_OP, JERK, LDLJ, VARIANCE)


# --- inputs ----------------------------------------------------------------------------------
def _training_label(evaluation: Mapping[str, Any]) -> str:
    return "+".join(evaluation["training"]["sources"])


@dataclass(frozen=True)
class TaskOutcome:
    """One model's evaluation of one task: its counts, and where recorded, each episode's
    success and reset seed (what pairs it with another source's episode)."""

    successes: int
    episodes: int
    per_episode: np.ndarray | None = None  # (N,) bool
    episode_seeds: tuple[int, ...] | None = None


def success_outcomes(evaluations: Sequence[Mapping[str, Any]]
                     ) -> dict[tuple[str, str], dict[int, dict[str, TaskOutcome]]]:
    """``{(protocol, training label): {seed: {task: outcome}}}``. A run given twice (alone
    and in a multi-seed aggregate) counts once."""
    found: dict[tuple[str, str], dict[int, dict[str, TaskOutcome]]] = {}
    # a multi-seed aggregate (``diffrl-eval/vla-eval-seeds``) carries its runs
    runs = [run for e in evaluations for run in (e["runs"] if "runs" in e else [e])]
    for evaluation in runs:
        by_seed = found.setdefault((evaluation["protocol"], _training_label(evaluation)), {})
        tasks = by_seed.setdefault(int(evaluation["training"]["seed"]), {})
        for task, summary in evaluation["per_task"].items():
            outcomes = summary.get("episode_successes")
            seeds = summary.get("episode_seeds")
            tasks[task] = TaskOutcome(
                int(summary["successes"]), int(summary["episodes"]),
                None if outcomes is None else np.asarray(outcomes, dtype=bool),
                None if seeds is None else tuple(int(s) for s in seeds))
    return found


def _paired(cells: Sequence[TaskOutcome]) -> bool:
    """Whether every cell of a task has per-episode outcomes of the same episodes."""
    first = cells[0]
    return all(c.per_episode is not None and len(c.per_episode) == len(first.per_episode)
               and c.episode_seeds == first.episode_seeds for c in cells)


def _success_difference(source: Mapping[int, Mapping[str, TaskOutcome]],
                        baseline: Mapping[int, Mapping[str, TaskOutcome]]
                        ) -> Difference | None:
    """Paired bootstrap over the tasks both evaluated (every seed of each side), or
    Newcombe's interval on pooled counts when the episodes cannot be paired (not
    recorded, or not the same episodes)."""
    tasks = sorted(set.intersection(*(set(t) for t in [*source.values(), *baseline.values()])))
    if not tasks:
        return None
    if all(_paired([side[seed][task] for side in (source, baseline) for seed in side])
           for task in tasks):
        return intervals.success_difference(
            [np.stack([source[seed][task].per_episode for seed in sorted(source)])
             for task in tasks],
            [np.stack([baseline[seed][task].per_episode for seed in sorted(baseline)])
             for task in tasks])

    def pooled(side: Mapping[int, Mapping[str, TaskOutcome]]) -> tuple[int, int]:
        cells = [seed_tasks[task] for seed_tasks in side.values() for task in tasks]
        return sum(c.successes for c in cells), sum(c.episodes for c in cells)

    return intervals.pooled_success_difference(*pooled(source), *pooled(baseline))


def quality_samples(metrics: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per source, pooled over its datasets: the per-episode values each data-quality
    difference resamples (length: successful episodes' steps to success; no-op: (2, N)
    no-op steps and steps; jerks: episodes where defined) and per-task action variance."""
    pooled: dict[str, dict[str, Any]] = {}
    for result in metrics:
        source = result["dataset"].get("source") or "?"
        entry = pooled.setdefault(source, {"length": [], "no_ops": [], "steps": [], "jerk": [],
                                           "ldlj": [], "variance": {}})
        for episode in result.get("episodes", []):
            if episode.get("steps_to_success") is not None:
                entry["length"].append(episode["steps_to_success"])
            entry["no_ops"].append(episode["no_op_count"])
            entry["steps"].append(episode["length"])
            if episode.get("mean_squared_jerk") is not None:
                entry["jerk"].append(episode["mean_squared_jerk"])
            if episode.get("log_dimensionless_jerk") is not None:
                entry["ldlj"].append(episode["log_dimensionless_jerk"])
        for task, summary in result.get("per_task", {}).items():
            if summary.get("action_variance") is not None:
                entry["variance"][task] = summary["action_variance"]
    return pooled


def _quality_difference(quantity: Quantity, source: Mapping[str, Any],
                        baseline: Mapping[str, Any]) -> Difference | None:
    if quantity is NO_OP:
        return intervals.metric_difference(
            np.array([source["no_ops"], source["steps"]]),
            np.array([baseline["no_ops"], baseline["steps"]]),
            statistic=intervals.ratio_of_sums)
    if quantity is VARIANCE:  # one value per task: tasks both have, paired
        tasks = sorted(set(source["variance"]) & set(baseline["variance"]))
        return intervals.metric_difference(
            np.array([source["variance"][t] for t in tasks]),
            np.array([baseline["variance"][t] for t in tasks]), paired=True)
    key = {LENGTH: "length", JERK: "jerk", LDLJ: "ldlj"}[quantity]
    return intervals.metric_difference(np.array(source[key]), np.array(baseline[key]))


# --- comparisons -----------------------------------------------------------------------------
def _entry(source: str, baseline: str, quantity: Quantity, difference: Difference | None
           ) -> dict[str, Any] | None:
    if difference is None:
        return None
    return {"source": source, "baseline": baseline, "quantity": quantity.key,
            "title": quantity.title, "higher_is_better": quantity.higher_is_better,
            "unit": quantity.unit, **difference.as_dict(),
            "label": intervals.label(difference, quantity.higher_is_better)}


def comparison_pairs(sources: Sequence[str], labels: Sequence[str],
                     baselines: Sequence[str]) -> list[tuple[str, str]]:
    """(source, baseline) pairs: every label against ``human`` and each of ``baselines``;
    and what the paper's claims compare besides: the Human+RL mixture against its RL
    partner, diffusion-RL against Gaussian-RL."""
    pairs: list[tuple[str, str]] = []
    for baseline in dict.fromkeys([HUMAN, *baselines]):
        if baseline in sources:
            pairs += [(label, baseline) for label in labels if label != baseline]
    for source, baseline in ((MIX, DIFFUSION_RL), (DIFFUSION_RL, GAUSSIAN_RL)):
        if source in labels and baseline in labels:
            pairs.append((source, baseline))
    return list(dict.fromkeys(pairs))


def build_verdict(metrics: Sequence[Mapping[str, Any]],
                  evaluations: Sequence[Mapping[str, Any]], *, sources: Sequence[str],
                  baselines: Sequence[str] = ()) -> dict[str, Any]:
    """The ``diffrl-eval/verdict`` document of one run (see the module docstring)."""
    outcomes = success_outcomes(evaluations)
    samples = quality_samples(metrics)
    comparisons: list[dict[str, Any]] = []
    for protocol, quantity in SUCCESS.items():
        labels = sorted({label for p, label in outcomes if p == protocol},
                        key=lambda name: (name not in sources, name))
        for source, baseline in comparison_pairs(sources, labels, baselines):
            if (protocol, baseline) in outcomes:
                comparisons.append(_entry(source, baseline, quantity, _success_difference(
                    outcomes[(protocol, source)], outcomes[(protocol, baseline)])))
    for source, baseline in comparison_pairs(sources, [s for s in sources if s in samples],
                                             baselines):
        if baseline in samples and source in samples:
            comparisons += [_entry(source, baseline, quantity, _quality_difference(
                quantity, samples[source], samples[baseline])) for quantity in QUALITY]
    comparisons = [c for c in comparisons if c is not None]
    return {
        **VERDICT.header(),
        "confidence": intervals.CONFIDENCE,
        "power": intervals.POWER,
        "sources": list(sources),
        "baselines": [b for b in dict.fromkeys([HUMAN, *baselines]) if b in sources],
        "size": _size(outcomes),
        "comparisons": comparisons,
        "findings": findings(comparisons, samples),
        "recommendation": recommendation(comparisons, _size(outcomes)),
    }


def _size(outcomes: Mapping[tuple[str, str], Mapping[int, Mapping[str, Any]]]
          ) -> dict[str, Any]:
    """Per protocol: training seeds, tasks and evaluation episodes per source (all seeds)."""
    size: dict[str, Any] = {}
    for (protocol, _), by_seed in sorted(outcomes.items()):
        tasks = sorted({t for seed_tasks in by_seed.values() for t in seed_tasks})
        episodes = sum(c.episodes for seed_tasks in by_seed.values()
                       for c in seed_tasks.values())
        entry = size.setdefault(protocol, {"seeds": sorted(by_seed), "tasks": len(tasks),
                                           "episodes_per_source": episodes})
        entry["episodes_per_source"] = min(entry["episodes_per_source"], episodes)
    return size


def recommendation(comparisons: Sequence[Mapping[str, Any]], size: Mapping[str, Any]
                   ) -> str | None:
    """One line when in-distribution success differences of 10 points would go unseen."""
    found = [c for c in comparisons if c["quantity"] == SUCCESS[IN_DISTRIBUTION].key
             and c["minimum_detectable"] is not None]
    if not found:
        return None
    worst = max(found, key=lambda c: c["minimum_detectable"])
    if worst["minimum_detectable"] <= TARGET_DIFFERENCE:
        return None
    baseline_rate = min(max(worst["baseline_value"], 0.05), 0.95)
    needed = intervals.episodes_for_difference(TARGET_DIFFERENCE, baseline_rate)
    have = size.get(IN_DISTRIBUTION, {}).get("episodes_per_source", 0)
    return (f"This run detects in-distribution differences of about "
            f"{worst['minimum_detectable']:.0%} or more ({have} evaluation episodes per "
            f"source); seeing 10 points needs about {needed} per source (e.g. "
            f"--preset standard).")


# --- the paper's findings ----------------------------------------------------------------------
@dataclass(frozen=True)
class Expectation:
    """The claim expects ``source - baseline`` in ``quantity`` to be labelled ``expected``."""

    source: str
    baseline: str
    quantity: Quantity
    expected: str


def _mark(expectations: Sequence[Expectation], comparisons: Sequence[Mapping[str, Any]]
          ) -> tuple[str, list[str]]:
    """Reproduced when every expectation holds with its interval, contradicted when one
    is significantly the other way, else inconclusive; the evidence, one line each."""
    by_key = {(c["source"], c["baseline"], c["quantity"]): c for c in comparisons}
    evidence, labels = [], []
    for want in expectations:
        found = by_key.get((want.source, want.baseline, want.quantity.key))
        if found is None:
            return NOT_TESTED, [f"{want.source} vs {want.baseline}: not in this run"]
        labels.append((found["label"], want.expected))
        evidence.append(format_difference(found))
    if all(got == want for got, want in labels):
        return REPRODUCED, evidence
    if any(got in (BETTER, WORSE) and got != want for got, want in labels):
        return CONTRADICTED, evidence
    return INCONCLUSIVE, evidence


def format_difference(comparison: Mapping[str, Any], *, with_label: bool = True) -> str:
    """``<quantity>, diffusion-ppo − human: +12.0 points [+3.1, +20.5] (better)``, one
    line (without the label when ``with_label`` is false)."""
    is_rate = comparison["quantity"].startswith("success") or comparison["quantity"] == NO_OP.key

    def number(value: float | None) -> str:
        if value is None:
            return "n/a"
        return f"{100 * value:+.1f}" if is_rate else f"{value:+.3g}"

    unit = " points" if is_rate else (f" {comparison['unit']}" if comparison["unit"] else "")
    interval = (f" [{number(comparison['ci_low'])}, {number(comparison['ci_high'])}]"
                if comparison["ci_low"] is not None else " (no interval)")
    label = f" ({comparison['label']})" if with_label else ""
    return (f"{comparison['title']}, {comparison['source']} − {comparison['baseline']}: "
            f"{number(comparison['difference'])}{unit}{interval}{label}")


def _no_op_mark(samples: Mapping[str, Mapping[str, Any]]) -> tuple[str, list[str]]:
    rl = [s for s in (GAUSSIAN_RL, DIFFUSION_RL) if s in samples]
    if not rl:
        return NOT_TESTED, ["no RL source in this run"]
    counts = {s: (int(sum(samples[s]["no_ops"])), int(sum(samples[s]["steps"]))) for s in rl}
    evidence = [f"{s}: {n:,} no-op steps of {steps:,}" for s, (n, steps) in counts.items()]
    if HUMAN in samples:
        evidence.append(f"human: {int(sum(samples[HUMAN]['no_ops'])):,} no-op steps of "
                        f"{int(sum(samples[HUMAN]['steps'])):,}")
    return (REPRODUCED if all(n == 0 for n, _ in counts.values()) else CONTRADICTED), evidence


def _claims() -> list[tuple[str, str, list[Expectation]]]:
    id_success, ood_success = SUCCESS[IN_DISTRIBUTION], SUCCESS[OOD_ZERO_SHOT]
    others = (HUMAN, GAUSSIAN_RL)
    return [
        ("in-distribution-ranking",
         "In-distribution VLA success: diffusion-RL data > human > Gaussian-RL data",
         [Expectation(DIFFUSION_RL, HUMAN, id_success, BETTER),
          Expectation(GAUSSIAN_RL, HUMAN, id_success, WORSE)]),
        ("zero-shot-ranking", "OOD zero-shot VLA success: Human+RL > RL > human",
         [Expectation(MIX, DIFFUSION_RL, ood_success, BETTER),
          Expectation(DIFFUSION_RL, HUMAN, ood_success, BETTER)]),
        ("shortest", "Diffusion-RL data has the shortest trajectories",
         [Expectation(DIFFUSION_RL, other, LENGTH, BETTER) for other in others]),
        ("smoothest", "Diffusion-RL data is the smoothest (lowest mean squared jerk)",
         [Expectation(DIFFUSION_RL, other, JERK, BETTER) for other in others]),
        ("least-variable", "Diffusion-RL data is the least variable across episodes",
         [Expectation(DIFFUSION_RL, other, VARIANCE, BETTER) for other in others]),
    ]


def _reverse(comparisons: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each comparison also read the other way round (baseline − source), so that a claim
    can name a pair in either order."""
    flipped = {BETTER: WORSE, WORSE: BETTER}
    reversed_ = []
    for c in comparisons:
        reversed_.append({
            **c, "source": c["baseline"], "baseline": c["source"],
            "source_value": c["baseline_value"], "baseline_value": c["source_value"],
            "difference": -c["difference"],
            "ci_low": None if c["ci_high"] is None else -c["ci_high"],
            "ci_high": None if c["ci_low"] is None else -c["ci_low"],
            "label": flipped.get(c["label"], c["label"])})
    return reversed_


def findings(comparisons: Sequence[Mapping[str, Any]],
             samples: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The study's claims, each marked for this run with its evidence."""
    readable = [*comparisons, *_reverse(comparisons)]
    marked = []
    for key, claim, expectations in _claims():
        mark, evidence = _mark(expectations, readable)
        marked.append({"key": key, "claim": claim, "mark": mark, "evidence": evidence})
    mark, evidence = _no_op_mark(samples)
    marked.insert(2, {"key": "no-no-ops", "claim": "RL data has no no-op steps",
                      "mark": mark, "evidence": evidence})
    return marked
