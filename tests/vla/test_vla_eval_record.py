"""`vla eval --record N`: the first N rollouts of each task as MP4 videos next to the JSON,
listed in it; bad values are one-line errors that write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from tests.vla.test_vla_eval_executor import TASKS, ckpt  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def checkpoint(ckpt):  # noqa: F811 (the imported fixture)
    """A tiny-vla checkpoint trained on four simulated-teleoperation episodes."""
    return ckpt


def eval_args(checkpoint: Path, *extra) -> list:
    args = ["vla", "eval", "--ckpt", checkpoint, "--suite", "tabletop-spatial",
            "--episodes-per-task", "3", "--envs", "3"]
    for task in TASKS:
        args += ["--task", task]
    return [*args, *extra]


def test_record_writes_the_first_rollouts_of_each_task_as_decodable_videos(checkpoint,
                                                                          tmp_path, capsys):
    import av

    out = tmp_path / "eval.json"
    code, stdout, err = run_cli(eval_args(checkpoint, "--json", out, "--record", "2"), capsys)
    assert code == 0, err
    result = json.loads(out.read_text())
    for task in TASKS:
        summary = result["per_task"][task]
        recordings = summary["recordings"]
        assert [r["episode"] for r in recordings] == [0, 1]
        for recording in recordings:
            assert recording["success"] == summary["episode_successes"][recording["episode"]]
            assert recording["instruction"] == summary["instruction"]
            path = out.parent / recording["path"]
            assert path.parent.name == "eval-rollouts" and path.suffix == ".mp4"
            with av.open(str(path)) as container:
                frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
            # the start and one frame per executed step
            assert len(frames) == recording["steps"] + 1
            assert frames[0].shape[0] > 0
    assert "wrote 4 rollout videos" in stdout
    # recording changes nothing else: the same outcomes as an evaluation without it
    plain = tmp_path / "plain.json"
    assert run_cli(eval_args(checkpoint, "--json", plain), capsys)[0] == 0
    again = json.loads(plain.read_text())
    for task in TASKS:
        assert (again["per_task"][task]["actions_sha256"]
                == result["per_task"][task]["actions_sha256"])


@pytest.mark.parametrize("extra, message", [
    (["--record", "-1"], "--record must be a non-negative integer, got -1"),
    (["--record", "1"], "--record needs --json"),
])
def test_bad_record_values_are_one_line_errors_that_write_nothing(checkpoint, tmp_path,
                                                                   capsys, extra, message):
    json_flag = ["--json", tmp_path / "eval.json"] if extra[1] == "-1" else []
    code, _, err = run_cli(eval_args(checkpoint, *json_flag, *extra), capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]
    assert list(tmp_path.iterdir()) == []
