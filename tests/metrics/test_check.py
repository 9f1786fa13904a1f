"""`diffrl-eval check`: regression of data quality against a baseline or thresholds.

The end-to-end cases use a small simulated-teleoperation dataset and copies of it with
hesitation pauses (no-ops) and hand jitter (jerk) injected into its episodes.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

from diffrl_eval import constants as C
from diffrl_eval.datagen import generate_dataset
from diffrl_eval.dataset import Episode, load_dataset, write_dataset
from diffrl_eval.envs.base import get_backend
from diffrl_eval.errors import UserError
from diffrl_eval.metrics import compute_metrics
from diffrl_eval.metrics.check import (
    CHECKED_METRICS,
    Status,
    Tolerance,
    check_thresholds,
    compare_with_baseline,
    parse_threshold,
    parse_thresholds,
    parse_tolerances,
    read_metrics_json,
    read_thresholds,
    regressions,
)
from generators.human import HumanGenerator

TASKS = ("spatial_left_cube_on_plate", "spatial_right_cube_in_bowl")

# The specification of which way each metric regresses (independent of the module's table).
BAD_DIRECTION = {
    "success_rate": "down",
    "trajectory_length": "up",
    "no_op_count": "up",
    "no_op_fraction": "up",
    "mean_squared_jerk": "up",
    "log_dimensionless_jerk": "down",
    "action_variance": "up",
}


# --- datasets -------------------------------------------------------------------------------


def episodes_of(dataset) -> list[Episode]:
    """The dataset's episodes back as :class:`Episode` objects, in episode order."""
    episodes = []
    frames = dataset.frames_df.sort(C.COL_EPISODE, C.COL_STEP)
    for rows in frames.partition_by(C.COL_EPISODE, maintain_order=True):
        episodes.append(
            Episode(
                task_id=rows[C.COL_TASK][0],
                instruction=rows[C.COL_INSTRUCTION][0],
                states=rows[C.COL_STATE].to_numpy(),
                eef_pos=rows[C.COL_EEF_POS].to_numpy(),
                actions=rows[C.COL_ACTION].to_numpy(),
                rewards=rows[C.COL_REWARD].to_numpy(),
                successes=rows[C.COL_SUCCESS].to_numpy(),
            )
        )
    return episodes


def with_pauses(episode: Episode, n_pauses: int) -> Episode:
    """The episode with ``n_pauses`` motionless steps inserted halfway: the operator hesitates.

    Each pause holds the pose and repeats the gripper command, so it is a no-op.
    """
    at = episode.length // 2

    def repeat(values: np.ndarray) -> np.ndarray:
        return np.concatenate([values[:at], np.repeat(values[at - 1 : at], n_pauses, 0), values[at:]])

    pause = np.zeros((n_pauses, C.ACTION_DIM), dtype=np.float32)
    pause[:, C.GRIPPER_ACTION_INDEX] = episode.actions[at - 1, C.GRIPPER_ACTION_INDEX]
    return Episode(
        task_id=episode.task_id,
        instruction=episode.instruction,
        states=repeat(episode.states),
        eef_pos=repeat(episode.eef_pos),
        actions=np.concatenate([episode.actions[:at], pause, episode.actions[at:]]),
        rewards=np.concatenate([episode.rewards[:at], np.zeros(n_pauses), episode.rewards[at:]]),
        successes=np.concatenate(
            [episode.successes[:at], np.zeros(n_pauses, bool), episode.successes[at:]]
        ),
    )


def with_jitter(episode: Episode, rng: np.random.Generator, scale: float) -> Episode:
    """The episode with hand jitter of ``scale`` metres added to the end-effector path."""
    shaken = episode.eef_pos + rng.normal(scale=scale, size=episode.eef_pos.shape)
    states = episode.states.copy()
    states[:, : C.EEF_POS_DIM] = shaken
    return Episode(
        task_id=episode.task_id,
        instruction=episode.instruction,
        states=states,
        eef_pos=shaken,
        actions=episode.actions,
        rewards=episode.rewards,
        successes=episode.successes,
    )


@pytest.fixture(scope="module")
def human_dataset(tmp_path_factory):
    backend = get_backend("tabletop")
    out = tmp_path_factory.mktemp("check") / "human"
    return generate_dataset(
        HumanGenerator(backend),
        [backend.task(task) for task in TASKS],
        n_episodes=4,
        seed=0,
        out=out,
        suite="tabletop-spatial",
        show_progress=False,
    )


def rewrite(dataset_path, out, transform):
    dataset = load_dataset(dataset_path)
    return write_dataset(
        out,
        [transform(episode) for episode in episodes_of(dataset)],
        source=dataset.source,
        source_label=dataset.source_label,
        backend=dataset.backend,
        suite=dataset.suite,
        seed=0,
    )


@pytest.fixture(scope="module")
def baseline_json(human_dataset, tmp_path_factory):
    path = tmp_path_factory.mktemp("baseline") / "baseline.json"
    path.write_text(json.dumps(compute_metrics(load_dataset(human_dataset))))
    return path


@pytest.fixture(scope="module")
def degraded_dataset(human_dataset, tmp_path_factory):
    rng = np.random.default_rng(0)
    return rewrite(
        human_dataset,
        tmp_path_factory.mktemp("degraded") / "human",
        lambda episode: with_jitter(with_pauses(episode, 12), rng, 0.002),
    )


# --- end to end --------------------------------------------------------------------------------


def test_a_rewritten_copy_of_the_dataset_has_the_same_metrics(human_dataset, tmp_path):
    # The helpers used to inject faults change nothing by themselves.
    copied = rewrite(human_dataset, tmp_path / "copy", lambda episode: episode)
    original = compute_metrics(load_dataset(human_dataset))
    again = compute_metrics(load_dataset(copied))
    assert again["overall"] == original["overall"]


def test_check_passes_on_the_baseline_itself(human_dataset, baseline_json, capsys):
    code, out, _ = run_cli(["check", human_dataset, "--baseline", baseline_json], capsys)
    assert code == 0, out
    assert "PASSED" in out and "0 regression(s)" in out


def test_check_fails_on_injected_no_ops_and_jerk(degraded_dataset, baseline_json, capsys):
    code, out, _ = run_cli(["check", degraded_dataset, "--baseline", baseline_json], capsys)
    assert code == 1
    assert "REGRESSION" in out
    for metric in ("no_op_count", "no_op_fraction", "mean_squared_jerk", "trajectory_length"):
        assert metric in out


def test_injected_faults_are_regressions_of_the_metrics_they_touch(
    degraded_dataset, baseline_json
):
    baseline = read_metrics_json(baseline_json, role="baseline")
    result = compute_metrics(load_dataset(degraded_dataset))
    failed = {(f.scope, f.metric) for f in regressions(compare_with_baseline(result, baseline))}
    for scope in ("overall", *(f"task {task}" for task in TASKS)):
        for metric in ("no_op_count", "no_op_fraction", "mean_squared_jerk", "trajectory_length"):
            assert (scope, metric) in failed
    # Nothing made the episodes fail: success did not regress.
    assert not any(metric == "success_rate" for _, metric in failed)


def test_only_jitter_fails_only_on_jerk(human_dataset, baseline_json, tmp_path, capsys):
    rng = np.random.default_rng(1)
    shaky = rewrite(human_dataset, tmp_path / "shaky", lambda e: with_jitter(e, rng, 0.002))
    code, out, _ = run_cli(
        ["check", shaky, "--baseline", baseline_json, "--metric", "no_op_count",
         "--metric", "success_rate"],
        capsys,
    )
    assert code == 0, out
    code, out, _ = run_cli(
        ["check", shaky, "--baseline", baseline_json, "--metric", "mean_squared_jerk"], capsys
    )
    assert code == 1


def test_a_loose_enough_tolerance_lets_the_faults_pass(degraded_dataset, baseline_json, capsys):
    code, _, _ = run_cli(
        ["check", degraded_dataset, "--baseline", baseline_json, "--tolerance", "1e9"], capsys
    )
    assert code == 0


def test_thresholds_fail_on_the_human_data_no_ops(human_dataset, tmp_path, capsys):
    # The simulated operator pauses: its data have no-ops, and 'no_op_count == 0' says no.
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text(
        'overall = ["success_rate >= 0.5", "no_op_count == 0"]\n'
        '[task]\n"*" = "success_rate >= 0.5"\n'
    )
    code, out, _ = run_cli(["check", human_dataset, "--thresholds", thresholds], capsys)
    assert code == 1
    assert "no_op_count" in out and "1 regression(s)" in out


def test_thresholds_that_hold_pass(human_dataset, tmp_path, capsys):
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text(
        'overall = ["success_rate >= 0.5", "mean_squared_jerk < 1e9"]\n'
        f'[task]\n{TASKS[0]} = ["trajectory_length <= 1000"]\n'
    )
    code, out, _ = run_cli(["check", human_dataset, "--thresholds", thresholds], capsys)
    assert code == 0, out
    assert "3 checks" in out


def test_check_reads_a_metrics_json_in_place_of_the_dataset(baseline_json, capsys):
    code, _, _ = run_cli(["check", baseline_json, "--baseline", baseline_json], capsys)
    assert code == 0


# --- bad input: exit 2, one line ---------------------------------------------------------------


def test_check_without_a_baseline_or_thresholds_is_bad_input(human_dataset, capsys):
    code, _, err = run_cli(["check", human_dataset], capsys)
    assert "--baseline" in assert_one_line_error(code, err)


def test_a_missing_dataset_is_bad_input(baseline_json, tmp_path, capsys):
    code, _, err = run_cli(["check", tmp_path / "nope", "--baseline", baseline_json], capsys)
    assert "not found" in assert_one_line_error(code, err)


def test_a_baseline_that_is_not_a_metrics_json_is_bad_input(human_dataset, tmp_path, capsys):
    bogus = tmp_path / "vla.json"
    bogus.write_text(json.dumps({"kind": "diffrl-eval/vla-eval", "schema_version": 1}))
    code, _, err = run_cli(["check", human_dataset, "--baseline", bogus], capsys)
    line = assert_one_line_error(code, err)
    assert "not a metrics result" in line and "diffrl-eval/vla-eval" in line
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    code, _, err = run_cli(["check", human_dataset, "--baseline", broken], capsys)
    assert "not valid JSON" in assert_one_line_error(code, err)


def test_a_baseline_of_another_suite_is_bad_input(human_dataset, baseline_json, tmp_path, capsys):
    other = json.loads(baseline_json.read_text())
    other["dataset"]["suite"] = "tabletop-goal"
    path = tmp_path / "goal.json"
    path.write_text(json.dumps(other))
    code, _, err = run_cli(["check", human_dataset, "--baseline", path], capsys)
    line = assert_one_line_error(code, err)
    assert "'tabletop-goal'" in line and "'tabletop-spatial'" in line


def test_an_unknown_metric_name_lists_the_valid_ones(human_dataset, baseline_json, capsys):
    code, _, err = run_cli(
        ["check", human_dataset, "--baseline", baseline_json, "--metric", "jerkiness"], capsys
    )
    line = assert_one_line_error(code, err)
    assert "unknown metric 'jerkiness'" in line
    assert all(name in line for name in CHECKED_METRICS)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('overall = ["success_rate >> 0.5"]', "malformed threshold 'success_rate >> 0.5'"),
        ('overall = ["success_rate >= high"]', "'high' is not a number"),
        ('overall = ["succes_rate >= 0.5"]', "unknown metric 'succes_rate'"),
        ('overall = [1]', "must be a threshold string"),
        ('everything = ["success_rate >= 0.5"]', "unknown thresholds section 'everything'"),
        ('[task]\nno_such_task = "success_rate >= 0.5"', "unknown task in thresholds"),
        ("overall = [", "not valid TOML"),
        ("", "holds no threshold"),
    ],
)
def test_a_bad_thresholds_file_is_one_line_exit_2(human_dataset, tmp_path, capsys, content, fragment):
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text(content + "\n")
    code, _, err = run_cli(["check", human_dataset, "--thresholds", thresholds], capsys)
    assert fragment in assert_one_line_error(code, err)


def test_a_malformed_tolerance_is_bad_input(human_dataset, baseline_json, capsys):
    code, _, err = run_cli(
        ["check", human_dataset, "--baseline", baseline_json, "--tolerance", "jerk=lots"], capsys
    )
    assert "METRIC=NUMBER" in assert_one_line_error(code, err)


# --- the comparison, by hand ------------------------------------------------------------------------


def _summary(**values) -> dict:
    """A <Summary> with the checked numbers set from ``values`` (others at neutral values)."""
    summary = {
        "success": {"successes": 8, "episodes": 10, "rate": 0.8, "ci_low": 0.49, "ci_high": 0.94},
        "trajectory_length": {"count": 8, "mean": 100.0, "std": 5.0, "median": 100.0},
        "no_op_count": 10,
        "no_op_fraction": 0.01,
        "mean_squared_jerk": {"count": 10, "mean": 200.0, "std": 1.0, "median": 200.0},
        "log_dimensionless_jerk": {"count": 10, "mean": -10.0, "std": 1.0, "median": -10.0},
        "action_variance": 0.04,
    }
    for name, value in values.items():
        if name == "success_rate":
            summary["success"]["rate"] = value
        elif isinstance(summary[name], dict):
            summary[name]["mean"] = value
        else:
            summary[name] = value
    return summary


def _result(overall: dict, tasks: dict[str, dict] | None = None, suite: str = "s") -> dict:
    return {
        "kind": "diffrl-eval/metrics",
        "schema_version": 1,
        "dataset": {"backend": "tabletop", "suite": suite, "source": "human"},
        "overall": overall,
        "per_suite": {suite: overall},
        "per_task": tasks if tasks is not None else {"t": overall},
    }


def _finding(findings, metric, scope="overall"):
    (found,) = [f for f in findings if f.metric == metric and f.scope == scope]
    return found


@pytest.mark.parametrize("metric", sorted(BAD_DIRECTION))
@pytest.mark.parametrize("direction", ["up", "down"])
def test_a_move_of_20_percent_is_a_regression_only_in_the_bad_direction(metric, direction):
    baseline = _result(_summary())
    reference = CHECKED_METRICS[metric].value(baseline["overall"])
    moved = reference * (1.2 if direction == "up" else 0.8)
    if metric == "log_dimensionless_jerk":  # negative: "up" means towards zero
        moved = reference * (0.8 if direction == "up" else 1.2)
    findings = compare_with_baseline(_result(_summary(**{metric: moved})), baseline)
    status = _finding(findings, metric).status
    expected = Status.REGRESSION if direction == BAD_DIRECTION[metric] else Status.BETTER
    assert status is expected


def test_the_module_states_the_same_bad_directions_as_the_specification():
    assert {name: m.bad_direction for name, m in CHECKED_METRICS.items()} == BAD_DIRECTION


def test_a_move_within_the_relative_tolerance_is_reported_but_passes():
    # Jerk 200 -> 209: +4.5% against 5% allowed (10 units); 200 -> 211 is +5.5%.
    baseline = _result(_summary())
    within = _finding(compare_with_baseline(_result(_summary(mean_squared_jerk=209.0)), baseline),
                      "mean_squared_jerk")
    assert within.status is Status.WORSE_WITHIN_TOLERANCE and "+4.5%" in within.detail
    beyond = _finding(compare_with_baseline(_result(_summary(mean_squared_jerk=211.0)), baseline),
                      "mean_squared_jerk")
    assert beyond.status is Status.REGRESSION and "+5.5%" in beyond.detail


def test_a_move_of_exactly_the_tolerance_passes():
    # 0.8 -> 0.76 is 5% of 0.8 in floating point (0.8 - 0.76 rounds above 0.04).
    findings = compare_with_baseline(_result(_summary(success_rate=0.76)), _result(_summary()))
    assert _finding(findings, "success_rate").status is Status.WORSE_WITHIN_TOLERANCE


def test_per_metric_and_absolute_tolerances():
    baseline = _result(_summary(no_op_count=0))
    result = _result(_summary(no_op_count=3, mean_squared_jerk=260.0))
    default, per_metric = parse_tolerances(["0.05", "mean_squared_jerk=0.5"], ["no_op_count=5"])
    assert default == Tolerance(0.05, 0.0)
    assert per_metric == {
        "mean_squared_jerk": Tolerance(0.5, 0.0),
        "no_op_count": Tolerance(0.05, 5.0),
    }
    findings = compare_with_baseline(result, baseline, tolerance=default, per_metric=per_metric)
    assert _finding(findings, "mean_squared_jerk").status is Status.WORSE_WITHIN_TOLERANCE
    assert _finding(findings, "no_op_count").status is Status.WORSE_WITHIN_TOLERANCE
    # With no absolute allowance, any no-op over a baseline of zero is a regression.
    strict = compare_with_baseline(result, baseline)
    assert _finding(strict, "no_op_count").status is Status.REGRESSION


def test_a_metric_that_becomes_undefined_is_a_regression_and_a_new_one_is_not():
    baseline = _result(_summary(action_variance=None))
    result = _result(_summary(trajectory_length=None))
    findings = compare_with_baseline(result, baseline)
    assert _finding(findings, "trajectory_length").status is Status.REGRESSION
    assert _finding(findings, "action_variance").status is Status.NEW


def test_a_task_missing_from_the_dataset_is_a_regression_and_an_extra_task_is_ignored():
    baseline = _result(_summary(), tasks={"a": _summary(), "b": _summary()})
    result = _result(_summary(), tasks={"a": _summary(), "c": _summary()})
    findings = compare_with_baseline(result, baseline, metrics=["success_rate"])
    assert {f.scope: f.status for f in findings} == {
        "overall": Status.UNCHANGED,
        "task a": Status.UNCHANGED,
        "task b": Status.REGRESSION,
    }


def test_scope_levels_limit_the_comparison():
    baseline = _result(_summary(), tasks={"a": _summary(), "b": _summary()})
    result = _result(_summary(), tasks={"a": _summary(no_op_count=99)})
    overall_only = compare_with_baseline(result, baseline, levels=["overall"])
    assert {f.scope for f in overall_only} == {"overall"} and not regressions(overall_only)
    suite_only = compare_with_baseline(result, baseline, levels=["suite"], metrics=["no_op_count"])
    assert [f.scope for f in suite_only] == ["suite s"]
    with pytest.raises(UserError, match="unknown scope 'episode'"):
        compare_with_baseline(result, baseline, levels=["episode"])


def test_per_task_noise_can_be_left_out_on_the_command_line(degraded_dataset, baseline_json, capsys):
    code, out, _ = run_cli(
        ["check", degraded_dataset, "--baseline", baseline_json, "--scope", "overall"], capsys
    )
    assert code == 1 and "task spatial" not in out


def test_a_suite_equal_to_the_whole_dataset_is_not_checked_twice():
    findings = compare_with_baseline(_result(_summary()), _result(_summary()), metrics=["no_op_count"])
    assert [f.scope for f in findings] == ["overall", "task t"]


def test_a_baseline_of_another_backend_is_refused():
    other = _result(_summary())
    other["dataset"]["backend"] = "libero"
    with pytest.raises(UserError, match="backend 'libero'"):
        compare_with_baseline(_result(_summary()), other)


def test_negative_tolerances_are_refused():
    with pytest.raises(UserError, match="relative tolerance must be"):
        parse_tolerances(["-0.1"])


# --- thresholds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "holds"),
    [
        ("no_op_count == 0", 0, True),
        ("no_op_count == 0", 1, False),
        ("mean_squared_jerk <= 2.5e3", 2500.0, True),
        ("mean_squared_jerk < 2.5e3", 2500.0, False),
        ("success_rate >= 0.9", 0.9, True),
        ("success_rate > 0.9", 0.9, False),
    ],
)
def test_a_threshold_expression_compares_as_written(text, value, holds):
    threshold = parse_threshold(text)
    assert threshold.holds(value) is holds


def test_thresholds_document_with_scopes_and_every_task():
    thresholds = parse_thresholds(
        {
            "overall": "no_op_count == 0",
            "suite": {"s": ["success_rate >= 0.5"]},
            "task": {"*": "trajectory_length <= 120", "b": ["action_variance <= 0.05"]},
        }
    )
    result = _result(
        _summary(no_op_count=0),
        tasks={"a": _summary(trajectory_length=110.0), "b": _summary(trajectory_length=130.0)},
    )
    findings = check_thresholds(result, thresholds)
    assert [(f.scope, f.metric, f.status) for f in findings] == [
        ("overall", "no_op_count", Status.PASSED),
        ("suite s", "success_rate", Status.PASSED),
        ("task a", "trajectory_length", Status.PASSED),
        ("task b", "trajectory_length", Status.REGRESSION),
        ("task b", "action_variance", Status.PASSED),
    ]


def test_an_undefined_metric_fails_its_threshold():
    findings = check_thresholds(
        _result(_summary(trajectory_length=None)), [parse_threshold("trajectory_length <= 100")]
    )
    assert findings[0].status is Status.REGRESSION and "undefined" in findings[0].detail


def test_read_thresholds_names_the_file_in_errors(tmp_path):
    path = tmp_path / "limits.toml"
    path.write_text('overall = ["no_op_count = 0"]\n')
    with pytest.raises(UserError, match=r"limits\.toml'.*malformed threshold 'no_op_count = 0'"):
        read_thresholds(path)


def test_a_baseline_missing_a_summary_key_names_it(tmp_path):
    broken = copy.deepcopy(_result(_summary(), tasks={"t": _summary()}))
    del broken["per_task"]["t"]["no_op_fraction"]
    path = tmp_path / "b.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(UserError, match="missing key 'per_task.t.no_op_fraction'"):
        read_metrics_json(path, role="baseline")


def test_each_injected_pause_is_one_more_no_op(human_dataset, degraded_dataset):
    # A pause holds the pose and repeats the last kept gripper command, so by the no-op rule
    # each of the 12 pauses of each of the 8 episodes adds exactly one no-op.
    original = compute_metrics(load_dataset(human_dataset))["overall"]
    degraded = compute_metrics(load_dataset(degraded_dataset))["overall"]
    assert degraded["no_op_count"] == original["no_op_count"] + 12 * 8
    assert degraded["success"] == original["success"]
