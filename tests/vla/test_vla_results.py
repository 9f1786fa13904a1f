"""VLA results as data: Wilson intervals on success counts, mean ± std across seeds."""

from __future__ import annotations

import json
import math

import pytest

from diffrl_eval.documents import VLA_EVAL, VLA_EVAL_SEEDS, VlaEvalResult, VlaSeedsResult
from diffrl_eval.errors import UserError
from diffrl_eval.vla.aggregate import success_summary
from diffrl_eval.vla.evaluation import aggregate_seeds

EVAL_KIND, SEEDS_KIND = VLA_EVAL.name, VLA_EVAL_SEEDS.name


def test_success_summary_carries_the_wilson_95_interval_of_the_count():
    # hand-worked: 8/10 -> [0.4902, 0.9433]; 0/4 -> [0, z^2 / (n + z^2)] = [0, 0.4899]
    summary = success_summary(8, 10)
    assert summary["successes"] == 8 and summary["episodes"] == 10
    assert summary["rate"] == pytest.approx(0.8)
    assert summary["ci_low"] == pytest.approx(0.4902, abs=1e-4)
    assert summary["ci_high"] == pytest.approx(0.9433, abs=1e-4)
    assert summary["confidence"] == 0.95
    none = success_summary(0, 4)
    assert none["ci_low"] == 0.0
    assert none["ci_high"] == pytest.approx(1.96**2 / (4 + 1.96**2), abs=1e-4)


def _result(seed: int, task_rates: dict[str, tuple[int, int]], hparams_hash="sha256:aa",
            sources=("human",)) -> dict:
    per_task = {task: {"suite": "s", "instruction": task, **success_summary(k, n),
                       "init_state_indices": list(range(n)), "episode_seeds": [0] * n}
                for task, (k, n) in task_rates.items()}
    k_all = sum(k for k, _ in task_rates.values())
    n_all = sum(n for _, n in task_rates.values())
    return {
        "kind": EVAL_KIND, "schema_version": 1, "vla": "tiny-vla", "checkpoint": f"ck/seed-{seed}",
        "checkpoint_hash": "sha256:00", "hparams_hash": hparams_hash,
        "training": {"seed": seed, "datasets": [], "sources": list(sources),
                     "train_suites": ["s"]},
        "backend": "tabletop", "protocol": "in-distribution", "eval_seed": 0,
        "episodes_per_task": 10, "per_task": per_task,
        "per_suite": {"s": success_summary(k_all, n_all)},
        "overall": success_summary(k_all, n_all), "env_steps": 1, "wall_seconds": 1.0,
        "tool_version": "0",
    }


def test_aggregate_reports_mean_and_population_std_across_seeds():
    results = [_result(0, {"a": (5, 10), "b": (10, 10)}),
               _result(1, {"a": (7, 10), "b": (10, 10)}),
               _result(2, {"a": (9, 10), "b": (4, 10)})]
    aggregate = aggregate_seeds(results)
    assert aggregate["kind"] == SEEDS_KIND and aggregate["schema_version"] == 1
    assert aggregate["seeds"] == [0, 1, 2]
    assert aggregate["sources"] == ["human"] and aggregate["protocol"] == "in-distribution"
    # task a: rates 0.5, 0.7, 0.9 -> mean 0.7, std sqrt((0.04 + 0 + 0.04) / 3)
    a = aggregate["per_task"]["a"]
    assert a["rates"] == pytest.approx([0.5, 0.7, 0.9])
    assert a["mean"] == pytest.approx(0.7)
    assert a["std"] == pytest.approx(math.sqrt(0.08 / 3))
    # overall: 15/20, 17/20, 13/20 -> 0.75, 0.85, 0.65 -> mean 0.75, std sqrt(0.02 / 3)
    assert aggregate["overall"]["mean"] == pytest.approx(0.75)
    assert aggregate["overall"]["std"] == pytest.approx(math.sqrt(0.02 / 3))
    assert aggregate["per_suite"]["s"]["rates"] == pytest.approx([0.75, 0.85, 0.65])
    assert aggregate["runs"] == results


def test_results_with_different_hparams_hashes_are_never_aggregated():
    results = [_result(0, {"a": (5, 10)}, hparams_hash="sha256:aa"),
               _result(1, {"a": (6, 10)}, hparams_hash="sha256:bb")]
    with pytest.raises(UserError, match="sha256:aa vs sha256:bb"):
        aggregate_seeds(results)


def test_results_of_different_sources_or_tasks_are_not_aggregated():
    with pytest.raises(UserError, match="training sources"):
        aggregate_seeds([_result(0, {"a": (5, 10)}),
                         _result(1, {"a": (5, 10)}, sources=("diffusion-ppo",))])
    with pytest.raises(UserError, match="evaluated tasks"):
        aggregate_seeds([_result(0, {"a": (5, 10)}), _result(1, {"b": (5, 10)})])


def test_aggregating_nothing_is_an_error():
    with pytest.raises(UserError, match="no results"):
        aggregate_seeds([])


def test_vla_results_read_back_as_dataclasses_are_written_unchanged():
    runs = [_result(0, {"a": (5, 10)}), _result(1, {"a": (7, 10)})]
    for run in runs:  # older results lack some fields (here: device); they stay absent
        again = VlaEvalResult.from_json(run, where="#1").to_json()
        assert json.dumps(again) == json.dumps(run) and "device" not in again
    aggregate = aggregate_seeds(runs)
    again = VlaSeedsResult.from_json(aggregate, where="#2").to_json()
    assert json.dumps(again) == json.dumps(aggregate)


def test_an_aggregate_whose_run_disagrees_on_its_hparams_is_refused():
    aggregate = aggregate_seeds([_result(0, {"a": (5, 10)}), _result(1, {"a": (7, 10)})])
    aggregate["runs"][1]["hparams_hash"] = "sha256:bb"
    with pytest.raises(UserError, match=r"runs\[1\] has hparams_hash 'sha256:bb' but the "
                                        "aggregate says 'sha256:aa'"):
        VlaSeedsResult.check(aggregate, where="#1")
