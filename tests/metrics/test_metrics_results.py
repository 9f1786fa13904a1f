"""compute_metrics end to end: a dataset written by the project's writer in, schema JSON out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from metrics_frames import frames_of, make_episode
from rich.console import Console

from diffrl_eval import constants as C
from diffrl_eval.dataset import load_dataset, write_dataset
from diffrl_eval.errors import DatasetError
from diffrl_eval.metrics import compute_metrics, format_metrics_table, metrics_rows, wilson_interval

SUMMARY_KEYS = [
    "success",
    "trajectory_length",
    "no_op_count",
    "no_op_fraction",
    "mean_squared_jerk",
    "log_dimensionless_jerk",
    "action_variance",
]
DISTRIBUTION_KEYS = {"count", "mean", "std", "median"}
EPISODE_KEYS = {
    "episode_index",
    "task_id",
    "success",
    "length",
    "steps_to_success",
    "no_op_count",
    "mean_squared_jerk",
    "log_dimensionless_jerk",
}


def demo_episodes():
    """Two tasks: task_a 3/4 successful with pauses, task_b 1/2 successful, one 2-step episode."""
    rng = np.random.default_rng(7)
    episodes = []
    plan = [("task_a", 30, 25), ("task_a", 24, 20), ("task_a", 40, None), ("task_a", 35, 30),
            ("task_b", 50, 44), ("task_b", 2, None)]
    for task, length, success_at in plan:
        t = np.linspace(0, 1, length)[:, None]
        eef = 0.1 * np.hstack([np.sin(3 * t), np.cos(2 * t), t]) + rng.normal(0, 1e-4, (length, 3))
        actions = rng.uniform(-0.5, 0.5, (length, 7))
        actions[:, 6] = 1.0
        actions[: min(3, length), :6] = 0.0  # a reaction pause at the start: 3 no-ops
        successes = np.zeros(length, dtype=bool)
        if success_at is not None:
            successes[success_at - 1 :] = True
        episodes.append(make_episode(task, actions=actions, eef_pos=eef, successes=successes))
    return episodes


@pytest.fixture
def demo_dataset(tmp_path):
    path = write_dataset(
        tmp_path / "demo", demo_episodes(), source="human", backend="tabletop",
        suite="demo-suite", source_label="simulated teleoperation", seed=3, control_hz=20,
    )
    return load_dataset(path)


def test_result_survives_a_strict_json_round_trip(demo_dataset):
    result = compute_metrics(demo_dataset)
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result


def test_result_has_every_key_of_the_schema(demo_dataset):
    result = compute_metrics(demo_dataset)
    assert result["kind"] == "diffrl-eval/metrics"
    assert result["schema_version"] == 1
    assert set(result["dataset"]) == {
        "path", "source", "source_label", "backend", "suite", "content_hash",
        "n_episodes", "n_frames", "control_hz", "tool_version", "generation",
    }
    summaries = [result["overall"], *result["per_suite"].values(), *result["per_task"].values()]
    for summary in summaries:
        assert list(summary)[: len(SUMMARY_KEYS)] == SUMMARY_KEYS
        assert set(summary["success"]) == {
            "successes", "episodes", "rate", "ci_low", "ci_high", "confidence"
        }
        for key in ("trajectory_length", "mean_squared_jerk", "log_dimensionless_jerk"):
            assert set(summary[key]) == DISTRIBUTION_KEYS
    for task, summary in result["per_task"].items():
        assert summary["instruction"] == f"do {task}"
    for episode in result["episodes"]:
        assert set(episode) == EPISODE_KEYS
    for curve in result["action_variance_curves"].values():
        assert set(curve) == {"n_points", "n_episodes", "variance"}


def test_dataset_block_describes_the_measured_dataset(demo_dataset):
    block = compute_metrics(demo_dataset)["dataset"]
    assert block["path"] == str(demo_dataset.path)
    assert block["source"] == "human"
    assert block["source_label"] == "simulated teleoperation"
    assert block["backend"] == "tabletop"
    assert block["suite"] == "demo-suite"
    assert block["content_hash"] == demo_dataset.content_hash
    assert block["n_episodes"] == 6
    assert block["n_frames"] == 30 + 24 + 40 + 35 + 50 + 2
    assert block["control_hz"] == 20
    assert block["tool_version"] == demo_dataset.manifest["tool_version"]


def test_summaries_hold_the_hand_counted_values(demo_dataset):
    result = compute_metrics(demo_dataset)
    task_a, task_b = result["per_task"]["task_a"], result["per_task"]["task_b"]
    assert task_a["success"] == {
        "successes": 3, "episodes": 4, "rate": 0.75,
        "ci_low": pytest.approx(wilson_interval(3, 4)[0]),
        "ci_high": pytest.approx(wilson_interval(3, 4)[1]), "confidence": 0.95,
    }
    assert task_a["trajectory_length"] == {
        "count": 3, "mean": pytest.approx(25.0), "std": pytest.approx(np.std([25, 20, 30])),
        "median": 25.0,
    }
    assert task_b["trajectory_length"]["count"] == 1
    assert task_b["trajectory_length"]["std"] == 0.0
    # three initial pause steps in every episode but the 2-step one, which has two
    assert task_a["no_op_count"] == 12 and task_b["no_op_count"] == 5
    assert task_b["no_op_fraction"] == pytest.approx(5 / 52)
    # the 2-step episode has no jerk: task_b's jerk statistics rest on one episode
    assert task_b["mean_squared_jerk"]["count"] == 1
    assert task_b["mean_squared_jerk"]["std"] == 0.0
    # task_b has a single success: no variance curve
    assert task_b["action_variance"] is None
    assert result["action_variance_curves"]["task_b"] == {
        "n_points": 100, "n_episodes": 1, "variance": None
    }
    curve = np.array(result["action_variance_curves"]["task_a"]["variance"])
    assert curve.shape == (100, 7)
    assert task_a["action_variance"] == pytest.approx(curve.mean())


def test_overall_and_per_suite_agree_with_the_tasks(demo_dataset):
    result = compute_metrics(demo_dataset)
    tasks = result["per_task"].values()
    overall = result["overall"]
    assert result["per_suite"] == {"demo-suite": overall}
    assert overall["success"]["successes"] == sum(t["success"]["successes"] for t in tasks)
    assert overall["success"]["episodes"] == sum(t["success"]["episodes"] for t in tasks)
    assert overall["no_op_count"] == sum(t["no_op_count"] for t in tasks)
    assert overall["trajectory_length"]["count"] == sum(
        t["trajectory_length"]["count"] for t in tasks
    )
    defined = [t["action_variance"] for t in tasks if t["action_variance"] is not None]
    assert overall["action_variance"] == pytest.approx(sum(defined) / len(defined))
    lengths = [e["steps_to_success"] for e in result["episodes"] if e["success"]]
    assert overall["trajectory_length"]["mean"] == pytest.approx(np.mean(lengths))
    assert len(result["episodes"]) == 6
    assert [e["steps_to_success"] for e in result["episodes"]] == [25, 20, None, 30, 44, None]


def test_bare_frames_give_the_same_numbers_as_the_dataset(demo_dataset):
    from_dataset = compute_metrics(demo_dataset)
    for frames in (demo_dataset.frames_df, demo_dataset.frames()):
        from_frames = compute_metrics(frames, control_hz=20, suite="demo-suite")
        assert from_frames["overall"] == from_dataset["overall"]
        assert from_frames["per_task"] == from_dataset["per_task"]
        assert from_frames["episodes"] == from_dataset["episodes"]


def test_bare_frames_without_a_suite_are_filed_under_all_and_take_dataset_info():
    frames = frames_of(demo_episodes())
    result = compute_metrics(frames, dataset_info={"source": "mine", "path": "in-memory"})
    assert list(result["per_suite"]) == ["all"]
    assert result["dataset"]["source"] == "mine"
    assert result["dataset"]["control_hz"] == C.DEFAULT_CONTROL_HZ
    assert result["dataset"]["content_hash"] is None
    with pytest.raises(ValueError, match="unknown field"):
        compute_metrics(frames, dataset_info={"colour": "red"})


def test_empty_frames_are_a_dataset_error():
    with pytest.raises(DatasetError):
        compute_metrics(frames_of(demo_episodes()).head(0))


def test_table_has_a_row_per_task_and_an_overall_row(demo_dataset):
    result = compute_metrics(demo_dataset)
    rows = metrics_rows(result)
    assert [row[0] for row in rows] == ["task_a", "task_b", "overall"]
    assert rows[0][1] == "3/4"
    assert rows[0][2].startswith("75.0% [")
    console = Console(record=True, width=200)
    console.print(format_metrics_table(result))
    text = console.export_text()
    assert "overall" in text and "task_b" in text and "simulated teleoperation" in text
