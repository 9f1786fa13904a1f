"""The presets: their budgets are what the README's table says, each is sized for what it
must show, and an unknown name is a one-line error."""

from __future__ import annotations

import re

import pytest
from conftest import REPO

from diffrl_eval.cli import main
from diffrl_eval.compare.plan import plan_compare
from diffrl_eval.compare.presets import (
    PRESET_NAMES,
    get_preset,
    minimum_detectable_difference,
    preset_tasks,
)
from diffrl_eval.envs.base import get_backend

README = REPO / "README.md"
SOURCES = ["human", "gaussian-ppo", "diffusion-ppo"]


def readme_presets() -> dict[str, dict[str, str]]:
    """The rows of the README's preset table, by preset name."""
    lines = [line.strip() for line in README.read_text().splitlines()]
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("| preset | in-distribution tasks"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = dict(zip(header, cells))
    return rows


def integer(text: str) -> int:
    return int(re.match(r"[\d,]+", text).group(0).replace(",", ""))


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_preset_budgets_are_what_the_readme_says(name, tmp_path):
    backend = get_backend("tabletop")
    preset = get_preset(name, backend)
    run = plan_compare(SOURCES, "tabletop", name, None, tmp_path / "run")
    row = readme_presets()[name]
    n_tasks = sum(len(tasks) for tasks in run.in_distribution.values())
    assert re.search(rf"\b{n_tasks}\b", row["in-distribution tasks"])
    assert integer(row["episodes per task"]) == preset.episodes_per_task
    assert integer(row["evaluation trials per task"]) == preset.eval_episodes_per_task
    assert row["VLA seeds"] == ", ".join(map(str, run.seeds))
    assert integer(row["VLA training steps"]) == run.hparams["train_steps"]
    for source in ("gaussian-ppo", "diffusion-ppo"):
        iterations = preset.options_for(source)["ppo"]["n_iterations"]
        assert integer(row["PPO iterations per expert"]) == iterations
    episodes = preset.in_distribution_episodes(backend)
    assert integer(row["in-distribution evaluation episodes per source"]) == episodes
    detectable = minimum_detectable_difference(preset, backend)
    assert integer(row["detectable difference"]) == round(100 * detectable)


def test_quick_evaluates_at_least_100_in_distribution_episodes_per_source():
    backend = get_backend("tabletop")
    assert get_preset("quick", backend).in_distribution_episodes(backend) >= 100


def test_standard_covers_the_spatial_suite_with_three_seeds_and_sees_ten_points():
    backend = get_backend("tabletop")
    preset = get_preset("standard", backend)
    assert list(preset.in_distribution) == ["tabletop-spatial"]
    assert (preset_tasks(backend, "tabletop-spatial", preset.in_distribution[
        "tabletop-spatial"]) == [t.task_id for t in backend.tasks("tabletop-spatial")])
    assert preset.episodes_per_task >= 50 and preset.eval_episodes_per_task == 50
    assert preset.seeds == (0, 1, 2)
    assert minimum_detectable_difference(preset, backend) <= 0.10


def test_quick_generates_fewer_episodes_for_its_zero_shot_smoke_test():
    preset = get_preset("quick", get_backend("tabletop"))
    assert preset.episodes_for("tabletop-spatial") == 50
    assert preset.episodes_for("tabletop-90") == 20
    assert get_preset("standard", get_backend("tabletop")).episodes_for("tabletop-90") == 50


def test_given_seeds_replace_the_presets(tmp_path):
    run = plan_compare(SOURCES, "tabletop", "standard", [4], tmp_path / "run")
    assert run.seeds == [4]


def test_an_unknown_preset_is_a_one_line_error_naming_the_presets(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--preset", "medium", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert err[0] == "error: unknown preset 'medium'; valid choices: full, quick, standard"
    assert not (tmp_path / "run").exists()
