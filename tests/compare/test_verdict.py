"""The verdict: differences with intervals that follow the design, labels, and the paper's
claims marked on crafted results."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffrl_eval.compare import intervals
from diffrl_eval.compare.verdict import (
    CONTRADICTED,
    INCONCLUSIVE,
    NOT_TESTED,
    REPRODUCED,
    build_verdict,
)
from tests.reports.report_fixtures import wilson

TASKS = ("task-a", "task-b")


def evaluation(sources: list[str], protocol: str, seed: int,
               outcomes: dict[str, list[bool]], *, per_episode: bool = True,
               eval_seed: int = 0) -> dict:
    """A ``diffrl-eval/vla-eval`` result carrying what the verdict reads."""
    per_task = {}
    for task, successes in outcomes.items():
        per_task[task] = {"successes": int(sum(successes)), "episodes": len(successes),
                          "episode_seeds": [1000 * eval_seed + i for i in range(len(successes))]}
        if per_episode:
            per_task[task]["episode_successes"] = [bool(s) for s in successes]
    return {"protocol": protocol, "training": {"sources": sources, "seed": seed},
            "per_task": per_task}


def outcomes_at(rate: float, n: int, rng: np.random.Generator) -> list[bool]:
    return list(rng.random(n) < rate)


def metrics(source: str, lengths: list[int], jerks: list[float], no_ops: list[int],
            variance: dict[str, float]) -> dict:
    """A ``diffrl-eval/metrics`` result with the per-episode rows the verdict reads."""
    episodes = [{"steps_to_success": length, "length": length, "no_op_count": no_op,
                 "mean_squared_jerk": jerk, "log_dimensionless_jerk": -math.log(jerk)}
                for length, jerk, no_op in zip(lengths, jerks, no_ops)]
    return {"dataset": {"source": source}, "episodes": episodes,
            "per_task": {task: {"action_variance": v} for task, v in variance.items()}}


def by_key(verdict: dict) -> dict:
    return {(c["source"], c["baseline"], c["quantity"]): c for c in verdict["comparisons"]}


def test_a_large_success_difference_is_better_and_its_mirror_worse():
    rng = np.random.default_rng(0)
    evaluations = [
        evaluation(["human"], "in-distribution", 0, {t: outcomes_at(0.3, 50, rng) for t in TASKS}),
        evaluation(["diffusion-ppo"], "in-distribution", 0,
                   {t: outcomes_at(0.9, 50, rng) for t in TASKS}),
        evaluation(["gaussian-ppo"], "in-distribution", 0,
                   {t: [False] * 50 for t in TASKS}),
    ]
    found = by_key(build_verdict([], evaluations,
                                 sources=["human", "gaussian-ppo", "diffusion-ppo"]))
    better = found[("diffusion-ppo", "human", "success_in_distribution")]
    assert better["label"] == "better"
    assert better["ci_low"] > 0.4 and better["difference"] == pytest.approx(
        better["source_value"] - better["baseline_value"])
    assert found[("gaussian-ppo", "human", "success_in_distribution")]["label"] == "worse"


def test_identical_sources_are_not_distinguishable():
    rng = np.random.default_rng(1)
    shared = {t: outcomes_at(0.5, 40, rng) for t in TASKS}
    evaluations = [evaluation([s], "in-distribution", 0, shared)
                   for s in ("human", "diffusion-ppo")]
    data = [metrics(s, [30, 40, 50, 60], [1.0, 2.0, 3.0, 4.0], [0, 1, 0, 2],
                    {"task-a": 0.1, "task-b": 0.2}) for s in ("human", "diffusion-ppo")]
    verdict = build_verdict(data, evaluations, sources=["human", "diffusion-ppo"])
    assert verdict["comparisons"]
    for comparison in verdict["comparisons"]:
        assert comparison["difference"] == 0
        assert comparison["label"] == "not distinguishable at this size", comparison


def hand_bootstrap(source: list[np.ndarray], baseline: list[np.ndarray], n_resamples: int,
                   seed: int) -> tuple[float, float]:
    """The documented resampling, one resample at a time with explicit loops."""
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, t.shape[1], size=(n_resamples, t.shape[1])) for t in source]
    seeds_source = rng.integers(0, source[0].shape[0], size=(n_resamples, source[0].shape[0]))
    seeds_baseline = rng.integers(0, baseline[0].shape[0],
                                  size=(n_resamples, baseline[0].shape[0]))
    replicates = []
    for r in range(n_resamples):
        rates = []
        for side, seeds in ((source, seeds_source[r]), (baseline, seeds_baseline[r])):
            hits = count = 0
            for s in seeds:
                for t, task in enumerate(side):
                    for e in draws[t][r]:
                        hits += int(task[s, e])
                        count += 1
            rates.append(hits / count)
        replicates.append(rates[0] - rates[1])
    ordered = sorted(replicates)
    return float(np.quantile(ordered, 0.025)), float(np.quantile(ordered, 0.975))


def test_success_interval_equals_a_hand_computed_bootstrap_with_a_fixed_seed():
    rng = np.random.default_rng(2)
    source = [rng.random((3, 12)) < 0.7, rng.random((3, 12)) < 0.5]
    baseline = [rng.random((2, 12)) < 0.4, rng.random((2, 12)) < 0.5]
    found = intervals.success_difference(source, baseline, n_resamples=300, seed=7)
    low, high = hand_bootstrap(source, baseline, 300, 7)
    assert (found.ci_low, found.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert found.difference == pytest.approx(
        np.mean(np.concatenate([t.ravel() for t in source]))
        - np.mean(np.concatenate([t.ravel() for t in baseline])))


def test_seeds_that_disagree_widen_the_interval():
    agree = [np.array([[True] * 10 + [False] * 10] * 3)]
    disagree = [np.array([[True] * 20, [False] * 20, [True] * 10 + [False] * 10])]
    baseline = [np.array([[True] * 10 + [False] * 10] * 3)]
    narrow = intervals.success_difference(agree, baseline)
    wide = intervals.success_difference(disagree, baseline)
    assert narrow.difference == wide.difference == 0
    assert wide.ci_high - wide.ci_low > 2 * (narrow.ci_high - narrow.ci_low)


def test_all_failures_still_state_what_the_design_could_detect():
    nothing = [np.zeros((1, 150), dtype=bool)]
    found = intervals.success_difference(nothing, nothing)
    assert (found.ci_low, found.ci_high) == (0, 0)
    # 150 episodes a side near a 5% success rate: detectable from about 7 points up
    assert found.minimum_detectable == pytest.approx(
        intervals.design_minimum_detectable_difference(150, 0.05))
    assert 0.05 < found.minimum_detectable < 0.15


def test_counts_without_episodes_use_newcombes_interval():
    evaluations = [
        evaluation(["human"], "ood-zero-shot", 0, {"t": [True] * 12 + [False] * 28},
                   per_episode=False),
        evaluation(["diffusion-ppo"], "ood-zero-shot", 0, {"t": [True] * 25 + [False] * 15},
                   per_episode=False),
    ]
    found = by_key(build_verdict([], evaluations, sources=["human", "diffusion-ppo"]))[
        ("diffusion-ppo", "human", "success_ood_zero_shot")]
    # Newcombe's hybrid score interval from the two Wilson intervals, by hand
    p1, p2 = 25 / 40, 12 / 40
    l1, u1 = wilson(25, 40)
    l2, u2 = wilson(12, 40)
    low = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    assert (found["ci_low"], found["ci_high"]) == pytest.approx((low, high), abs=1e-9)
    assert found["method"].startswith("Newcombe")


def test_episodes_that_are_not_the_same_are_not_paired():
    evaluations = [
        evaluation(["human"], "in-distribution", 0, {"t": [True] * 10 + [False] * 30}),
        evaluation(["diffusion-ppo"], "in-distribution", 0, {"t": [True] * 30 + [False] * 10},
                   eval_seed=1),
    ]
    found = by_key(build_verdict([], evaluations, sources=["human", "diffusion-ppo"]))[
        ("diffusion-ppo", "human", "success_in_distribution")]
    assert found["method"].startswith("Newcombe")
    assert found["difference"] == pytest.approx(0.5) and found["label"] == "better"


def test_no_op_fraction_is_no_op_steps_over_steps():
    data = [metrics("human", [10, 30], [1, 1], [5, 1], {}),
            metrics("gaussian-ppo", [20, 20], [1, 1], [0, 0], {})]
    found = by_key(build_verdict(data, [], sources=["human", "gaussian-ppo"]))[
        ("gaussian-ppo", "human", "no_op_fraction")]
    assert found["baseline_value"] == pytest.approx(6 / 40)
    assert found["source_value"] == 0


def paper_like_run(diffusion: float, human: float, gaussian: float, mix: float,
                   ood_diffusion: float, ood_human: float, n: int = 60,
                   diffusion_shorter: bool = True) -> dict:
    rng = np.random.default_rng(3)
    rates = {"human": human, "gaussian-ppo": gaussian, "diffusion-ppo": diffusion}
    evaluations = [evaluation([s], "in-distribution", 0,
                              {t: outcomes_at(rate, n, rng) for t in TASKS})
                   for s, rate in rates.items()]
    for sources, rate in ((["human"], ood_human), (["diffusion-ppo"], ood_diffusion),
                          (["diffusion-ppo", "human"], mix)):
        evaluations.append(evaluation(sources, "ood-zero-shot", 0,
                                      {t: outcomes_at(rate, n, rng) for t in TASKS}))
    tasks = {f"task-{i}": 0.0 for i in range(6)}
    short, long_ = list(rng.integers(40, 50, 80)), list(rng.integers(80, 100, 80))
    smooth, rough = list(rng.uniform(1, 2, 80)), list(rng.uniform(5, 8, 80))
    data = [
        metrics("diffusion-ppo", short if diffusion_shorter else long_,
                smooth, [0] * 80, {t: 0.01 + i * 1e-3 for i, t in enumerate(tasks)}),
        metrics("gaussian-ppo", long_ if diffusion_shorter else short, rough, [0] * 80,
                {t: 0.05 + i * 1e-3 for i, t in enumerate(tasks)}),
        metrics("human", long_ if diffusion_shorter else short, rough, [3] * 80,
                {t: 0.08 + i * 1e-3 for i, t in enumerate(tasks)}),
    ]
    return build_verdict(data, evaluations, sources=["human", "gaussian-ppo", "diffusion-ppo"])


def marks(verdict: dict) -> dict[str, str]:
    return {f["key"]: f["mark"] for f in verdict["findings"]}


def test_findings_reproduced_when_the_run_shows_the_papers_ordering():
    verdict = paper_like_run(diffusion=0.95, human=0.6, gaussian=0.2, mix=0.9,
                             ood_diffusion=0.5, ood_human=0.1)
    assert marks(verdict) == {"in-distribution-ranking": REPRODUCED,
                              "zero-shot-ranking": REPRODUCED, "no-no-ops": REPRODUCED,
                              "shortest": REPRODUCED, "smoothest": REPRODUCED,
                              "least-variable": REPRODUCED}
    first = verdict["findings"][0]["evidence"][0]
    assert "diffusion-ppo − human" in first and "points" in first


def test_findings_contradicted_when_the_ordering_is_reversed():
    verdict = paper_like_run(diffusion=0.2, human=0.6, gaussian=0.95, mix=0.1,
                             ood_diffusion=0.5, ood_human=0.9, diffusion_shorter=False)
    found = marks(verdict)
    assert found["in-distribution-ranking"] == CONTRADICTED
    assert found["zero-shot-ranking"] == CONTRADICTED
    assert found["shortest"] == CONTRADICTED


def test_findings_inconclusive_on_a_run_too_small_to_tell():
    verdict = paper_like_run(diffusion=0.5, human=0.5, gaussian=0.5, mix=0.5,
                             ood_diffusion=0.5, ood_human=0.5, n=4)
    found = marks(verdict)
    assert found["in-distribution-ranking"] == INCONCLUSIVE
    assert found["zero-shot-ranking"] == INCONCLUSIVE
    assert verdict["recommendation"] is not None and "standard" in verdict["recommendation"]


def test_claims_about_a_missing_source_are_not_tested():
    evaluations = [evaluation([s], "in-distribution", 0, {"t": [True, False] * 10})
                   for s in ("human", "diffusion-ppo")]
    found = marks(build_verdict([], evaluations, sources=["human", "diffusion-ppo"]))
    assert found["in-distribution-ranking"] == NOT_TESTED
    assert found["no-no-ops"] == NOT_TESTED


def test_a_named_baseline_adds_its_pairs():
    evaluations = [evaluation([s], "in-distribution", 0, {"t": [True, False] * 10})
                   for s in ("human", "gaussian-ppo", "diffusion-ppo")]
    verdict = build_verdict([], evaluations, sources=["human", "gaussian-ppo", "diffusion-ppo"],
                            baselines=["gaussian-ppo"])
    pairs = {(c["source"], c["baseline"]) for c in verdict["comparisons"]}
    assert ("human", "gaussian-ppo") in pairs and ("diffusion-ppo", "gaussian-ppo") in pairs
    assert verdict["baselines"] == ["human", "gaussian-ppo"]


def test_design_minimum_detectable_difference_matches_the_normal_approximation():
    # two proportions, n per arm, arcsine scale: h = (z_.975 + z_.8) * sqrt(2 / n)
    n, p0 = 300, 0.5
    h = (1.959963984540054 + 0.8416212335729143) * math.sqrt(2 / n)
    expected = math.sin(math.asin(math.sqrt(p0)) + h / 2) ** 2 - p0
    assert intervals.design_minimum_detectable_difference(n, p0) == pytest.approx(expected,
                                                                                   rel=1e-6)
    assert intervals.episodes_for_difference(expected, p0) in (n, n + 1)
