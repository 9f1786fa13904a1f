"""Intervals for differences between two data sources, and the smallest difference a design
can detect.

Two designs occur in a `compare` run:

- **VLA success** (:func:`success_difference`): every source's VLA is evaluated on the same
  tasks, and episode ``i`` of a task starts, for every source, from the same initial state
  with the same reset seed. The two sources' episodes are therefore *paired* by (task,
  episode). Each source has its own trained models, one per training seed: seeds are a
  *random effect*, independent between the sources. The interval is a percentile bootstrap
  that follows this design: tasks are kept (they are the benchmark's, not a sample), episodes
  are resampled within each task with the same indices for both sources, and each source's
  training seeds are resampled on their own. ``scipy.stats.bootstrap`` resamples one index
  shared by all samples (``paired=True``) or one per sample, not this crossed scheme, so the
  resampling is written out here with numpy; where only pooled counts exist, Newcombe's
  interval (statsmodels) is used instead.
- **Data-quality metrics** (:func:`metric_difference`): episodes of two datasets are
  independent samples; the interval is ``scipy.stats.bootstrap`` over episodes.

Shape legend: S training seeds, T tasks, N episodes of a task, R bootstrap resamples.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
POWER = 0.80  # the minimum detectable difference is detected this often at CONFIDENCE
N_RESAMPLES = 4000
BOOTSTRAP_SEED = 0  # fixed: the same results give the same intervals, hence the same hash

BETTER = "better"
WORSE = "worse"
NOT_DISTINGUISHABLE = "not distinguishable at this size"


@dataclass(frozen=True)
class Difference:
    """``source - baseline`` with its interval, and the difference the design can detect.

    ``minimum_detectable`` is the absolute difference that this design detects with
    probability ``POWER`` at level ``1 - CONFIDENCE`` (two-sided), from the standard error of
    the difference: ``(z(1 - alpha/2) + z(power)) * SE``; for success rates whose SE is
    zero (all successes or all failures) the design's figure from the episode counts
    instead. None when undefined.
    """

    source_value: float
    baseline_value: float
    difference: float
    ci_low: float | None
    ci_high: float | None
    minimum_detectable: float | None
    method: str

    def as_dict(self) -> dict[str, float | str | None]:
        return asdict(self)


def label(difference: Difference, higher_is_better: bool) -> str:
    """*better* / *worse* when the interval excludes zero, else *not distinguishable*."""
    if difference.ci_low is None or difference.ci_high is None:
        return NOT_DISTINGUISHABLE
    if difference.ci_low > 0:
        return BETTER if higher_is_better else WORSE
    if difference.ci_high < 0:
        return WORSE if higher_is_better else BETTER
    return NOT_DISTINGUISHABLE


def detectable_multiplier(confidence: float = CONFIDENCE, power: float = POWER) -> float:
    """``z(1 - alpha/2) + z(power)``: standard errors between zero and a difference that a
    two-sided test at ``1 - confidence`` detects with probability ``power``."""
    return float(stats.norm.ppf(0.5 + confidence / 2) + stats.norm.ppf(power))


def _percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    return float(low), float(high)


def success_difference(
    source: Sequence[np.ndarray],
    baseline: Sequence[np.ndarray],
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> Difference:
    """Difference in success rate, ``source - baseline``, with a paired, seed-aware bootstrap.

    ``source[t]`` is a (S_source, N_t) boolean array: success of episode ``n`` of task ``t``
    for each training seed; ``baseline[t]`` is (S_baseline, N_t), its episode ``n`` paired with
    the source's. The rate is the mean over seeds, tasks and episodes (tasks weighted by their
    episodes).

    One resample draws, in this order: for each task, N_t episode indices (shared by both
    sources); then S_source seed indices; then S_baseline seed indices. Each from
    ``numpy.random.default_rng(seed)``, uniformly with replacement. With a single seed the
    interval carries no seed-to-seed variation (there is none to see).
    """
    if len(source) != len(baseline) or not source:
        raise ValueError("source and baseline need the same, non-empty list of tasks")
    rng = np.random.default_rng(seed)
    n_source, n_baseline = source[0].shape[0], baseline[0].shape[0]
    sums_source = np.zeros((n_source, n_resamples))  # (S, R): resampled successes per seed
    sums_baseline = np.zeros((n_baseline, n_resamples))
    total = 0
    for task_source, task_baseline in zip(source, baseline):
        if task_source.shape[1] != task_baseline.shape[1]:
            raise ValueError("paired tasks need the same number of episodes per source")
        n_episodes = task_source.shape[1]
        episodes = rng.integers(0, n_episodes, size=(n_resamples, n_episodes))  # (R, N)
        sums_source += np.asarray(task_source, dtype=np.float64)[:, episodes].sum(axis=2)
        sums_baseline += np.asarray(task_baseline, dtype=np.float64)[:, episodes].sum(axis=2)
        total += n_episodes
    seeds_source = rng.integers(0, n_source, size=(n_resamples, n_source))  # (R, S)
    seeds_baseline = rng.integers(0, n_baseline, size=(n_resamples, n_baseline))
    columns = np.arange(n_resamples)[:, None]
    rate_source = sums_source[seeds_source, columns].mean(axis=1) / total  # (R,)
    rate_baseline = sums_baseline[seeds_baseline, columns].mean(axis=1) / total
    replicates = rate_source - rate_baseline
    low, high = _percentile_interval(replicates, confidence)
    value_source = sum(float(t.sum()) for t in source) / (total * n_source)
    value_baseline = sum(float(t.sum()) for t in baseline) / (total * n_baseline)
    spread = float(replicates.std(ddof=1))
    if spread > 0:
        detectable = detectable_multiplier(confidence) * spread
    else:  # every resample alike (all successes or all failures): the design's own figure
        detectable = design_minimum_detectable_difference(
            total * min(n_source, n_baseline), min(max(value_baseline, 0.05), 0.95),
            confidence=confidence)
    return Difference(
        value_source, value_baseline, value_source - value_baseline, low, high, detectable,
        f"paired bootstrap ({n_resamples} resamples): episodes within task paired by initial "
        f"state, training seeds resampled per source ({n_source} vs {n_baseline} seeds)")


def pooled_success_difference(successes: int, episodes: int, baseline_successes: int,
                              baseline_episodes: int, *, confidence: float = CONFIDENCE
                              ) -> Difference:
    """Difference of two pooled success proportions with Newcombe's hybrid-score interval
    (statsmodels), for results that carry counts but not per-episode outcomes."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(
        successes, episodes, baseline_successes, baseline_episodes, method="newcomb",
        compare="diff", alpha=1.0 - confidence)
    rate, base = successes / episodes, baseline_successes / baseline_episodes
    standard_error = math.sqrt(rate * (1 - rate) / episodes + base * (1 - base) / baseline_episodes)
    detectable = (detectable_multiplier(confidence) * standard_error if standard_error > 0
                  else design_minimum_detectable_difference(
                      min(episodes, baseline_episodes), min(max(base, 0.05), 0.95),
                      confidence=confidence))
    return Difference(rate, base, rate - base, float(low), float(high), detectable,
                      "Newcombe interval on pooled counts (unpaired)")


def _difference_statistic(statistic: Callable[[np.ndarray], np.ndarray]
                          ) -> Callable[..., np.ndarray]:
    def difference(source: np.ndarray, baseline: np.ndarray, axis: int = -1) -> np.ndarray:
        return statistic(source) - statistic(baseline)

    return difference


def mean_of_episodes(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis (episodes): (..., N) -> (...)."""
    return values.mean(axis=-1)


def ratio_of_sums(values: np.ndarray) -> np.ndarray:
    """Sum of row 0 over sum of row 1, across episodes: (2, ..., N) -> (...); e.g. no-op
    steps over all steps. (``scipy.stats.bootstrap`` puts its resamples between the rows
    and the episodes.)"""
    return values[0].sum(axis=-1) / values[1].sum(axis=-1)


def metric_difference(
    source: np.ndarray,
    baseline: np.ndarray,
    *,
    statistic: Callable[[np.ndarray], np.ndarray] = mean_of_episodes,
    paired: bool = False,
    n_resamples: int = N_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> Difference | None:
    """``statistic(source) - statistic(baseline)`` with a percentile ``scipy.stats.bootstrap``
    interval, resampling the last axis (episodes: (N,), or (2, N) for :func:`ratio_of_sums`).

    ``paired``: the last axes are matched units (e.g. the same tasks). None when either side
    has no values; the interval is None with fewer than two values a side (nothing to
    resample).
    """
    source, baseline = np.asarray(source, np.float64), np.asarray(baseline, np.float64)
    if source.shape[-1] == 0 or baseline.shape[-1] == 0:
        return None
    value_source, value_baseline = float(statistic(source)), float(statistic(baseline))
    method = (f"bootstrap over {'paired units' if paired else 'episodes'} "
              f"({n_resamples} resamples, percentile)")
    if min(source.shape[-1], baseline.shape[-1]) < 2:
        return Difference(value_source, value_baseline, value_source - value_baseline,
                          None, None, None, "too few values for an interval")
    with warnings.catch_warnings():  # identical values: a zero-width interval is the answer
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            (source, baseline), _difference_statistic(statistic), n_resamples=n_resamples,
            paired=paired, vectorized=True, axis=-1, confidence_level=confidence,
            method="percentile", rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    finite = math.isfinite(low) and math.isfinite(high)
    return Difference(
        value_source, value_baseline, value_source - value_baseline,
        float(low) if finite else None, float(high) if finite else None,
        detectable_multiplier(confidence) * float(result.standard_error) if finite else None,
        method)


def cohen_h_difference(baseline_rate: float, effect_size: float) -> float:
    """The absolute success-rate difference from ``baseline_rate`` that Cohen's h
    ``effect_size`` is, towards 50% (where a rate has room to move)."""
    angle = 2 * math.asin(math.sqrt(baseline_rate))
    angle += effect_size if baseline_rate <= 0.5 else -effect_size
    other = math.sin(min(max(angle, 0.0), math.pi) / 2) ** 2
    return abs(other - baseline_rate)


def design_minimum_detectable_difference(episodes_per_source: int, baseline_rate: float, *,
                                         confidence: float = CONFIDENCE,
                                         power: float = POWER) -> float:
    """The success-rate difference (from ``baseline_rate``, towards 50%) that a design with
    ``episodes_per_source`` evaluation episodes per source detects with ``power`` at level
    ``1 - confidence``, treating episodes as independent (statsmodels' two-sample power for
    proportions, arcsine effect size). Pairing by initial state can only shrink it; variation
    between training seeds adds to it."""
    from statsmodels.stats.power import NormalIndPower

    effect = NormalIndPower().solve_power(nobs1=episodes_per_source, alpha=1.0 - confidence,
                                          power=power, ratio=1.0)
    return cohen_h_difference(baseline_rate, float(effect))


def episodes_for_difference(difference: float, baseline_rate: float, *,
                            confidence: float = CONFIDENCE, power: float = POWER) -> int:
    """Evaluation episodes per source needed to detect ``difference`` from
    ``baseline_rate`` (towards 50%) (the inverse of :func:`design_minimum_detectable_difference`)."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    target = baseline_rate + difference if baseline_rate <= 0.5 else baseline_rate - difference
    target = min(1.0, max(0.0, target))
    effect = abs(proportion_effectsize(target, baseline_rate))
    if effect == 0:
        raise ValueError("a zero difference cannot be detected")
    n = NormalIndPower().solve_power(effect_size=effect, alpha=1.0 - confidence, power=power,
                                     ratio=1.0)
    return int(math.ceil(n))
