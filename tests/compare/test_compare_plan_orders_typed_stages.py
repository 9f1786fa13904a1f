"""The plan of a compare run: typed stage records in the order they run, each after the
stages it needs, the report last; its length is the progress bar's total."""

from __future__ import annotations

import dataclasses

import pytest
from compare_fixtures import tiny_plan

from diffrl_eval.compare import build_plan
from diffrl_eval.compare.plan import (
    IN_DISTRIBUTION,
    OOD_ZERO_SHOT,
    Evaluate,
    Generate,
    Measure,
    Report,
    Train,
    plan_compare,
)


def test_the_tiny_plan_generates_measures_trains_evaluates_then_reports(tmp_path):
    run = tiny_plan(tmp_path / "run")
    (id_suite, (id_task,)), = run.in_distribution.items()
    ood_suite, (ood_task,) = run.ood_train
    plan = build_plan(run)
    id_data = Generate("human", id_suite, (id_task,))
    ood_data = Generate("human", ood_suite, (ood_task,))
    id_model, ood_model = Train((id_data,), 0), Train((ood_data,), 0)
    (eval_suite, eval_tasks), = run.ood_eval.items()
    assert plan == [
        id_data, Measure(id_data), ood_data, Measure(ood_data),
        id_model, Evaluate(id_model, ((id_suite, (id_task,)),), IN_DISTRIBUTION),
        ood_model, Evaluate(ood_model, ((eval_suite, tuple(eval_tasks)),), OOD_ZERO_SHOT),
        Report(),
    ]


def test_every_stage_comes_after_the_stages_it_needs(tmp_path):
    run = tiny_plan(tmp_path / "run")
    run.sources = ["human", "gaussian-ppo", "diffusion-ppo"]
    run.seeds = [0, 1]
    plan = build_plan(run)
    position = {stage: i for i, stage in enumerate(plan)}
    for i, stage in enumerate(plan):
        needs = (stage.data if isinstance(stage, Train) else
                 [stage.data] if isinstance(stage, Measure) else
                 [stage.trained] if isinstance(stage, Evaluate) else [])
        assert all(position[need] < i for need in needs), stage
    assert isinstance(plan[-1], Report) and sum(isinstance(s, Report) for s in plan) == 1
    # the Human+RL mixture trains on the OOD suite, once per seed
    mixes = [s for s in plan if isinstance(s, Train) and len(s.data) == 2]
    assert [m.sources for m in mixes] == [("diffusion-ppo", "human")] * 2


@pytest.mark.parametrize("sources", [["human"], ["human", "gaussian-ppo", "diffusion-ppo"]])
@pytest.mark.parametrize("preset", ["quick", "standard", "full"])
def test_the_plan_length_counts_two_stages_per_dataset_and_per_model_plus_the_report(
        tmp_path, sources, preset):
    run = plan_compare(sources, "tabletop", preset, None, tmp_path / "run")
    n_data = len(run.sources) * len(run.data_suites())
    n_id = len(run.sources) * len(run.in_distribution) * len(run.seeds)
    n_ood = len(run.training_mixes()) * len(run.seeds)
    assert len(build_plan(run)) == 2 * n_data + 2 * n_id + 2 * n_ood + 1


def test_stage_records_are_frozen(tmp_path):
    stage = build_plan(tiny_plan(tmp_path / "run"))[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        stage.source = "other"  # type: ignore[misc]
