"""Plug-in discovery through entry points, and the in-process register decorator."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import run_cli

from diffrl_eval import registry
from diffrl_eval.envs.base import get_backend
from diffrl_eval.errors import UserError
from diffrl_eval.generator import Generator


def test_installed_third_party_generator_is_discovered_with_its_package(third_party_plugin):
    entries = registry.generators.entries()
    assert "acme-random-walk" in entries
    entry = entries["acme-random-walk"]
    assert entry.package == "acme-datagen"
    assert entry.description == "Random-walk episodes (third-party example)"
    cls = registry.generators.load("acme-random-walk")
    assert issubclass(cls, Generator)
    assert cls.name == "acme-random-walk"


def test_third_party_generator_is_callable_through_the_interface(third_party_plugin):
    backend = get_backend("acme-line")
    generator = registry.generators.load("acme-random-walk")(backend)
    task = backend.task("reach_1")
    episodes = list(generator.generate(task, 3, seed=5))
    again = list(generator.generate(task, 3, seed=5))
    assert len(episodes) == 3
    assert all(e.task_id == "reach_1" for e in episodes)
    assert [e.actions.tobytes() for e in episodes] == [e.actions.tobytes() for e in again]


def test_generators_list_shows_third_party_row(third_party_plugin, capsys):
    code, out, _ = run_cli(["generators", "list"], capsys)
    assert code == 0
    assert "acme-random-walk" in out
    assert "acme-datagen" in out


def test_generators_list_in_a_fresh_process_sees_plugin_on_pythonpath(third_party_plugin):
    proc = subprocess.run(
        [sys.executable, "-m", "diffrl_eval", "generators", "list"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "acme-random-walk" in proc.stdout


def test_unknown_generator_lists_valid_choices(third_party_plugin):
    with pytest.raises(UserError, match="unknown generator 'nope'; valid choices: .*acme-random-walk"):
        registry.generators.load("nope")


def test_register_decorator_adds_a_generator_in_process_only():
    @registry.generators.register("in-process-example")
    class Example(Generator):
        """Example generator defined in a test."""

        def generate(self, task, n_episodes, seed):
            return iter(())

    try:
        assert registry.generators.load("in-process-example") is Example
        assert Example.name == "in-process-example"
        assert registry.generators.entries()["in-process-example"].package == "<process>"
    finally:
        registry.generators.unregister("in-process-example")
    assert "in-process-example" not in registry.generators.names()


def test_generator_options_unknown_key_is_one_line_error(third_party_plugin):
    cls = registry.generators.load("acme-random-walk")
    assert cls.make_config({"step_scale": 0.5}).step_scale == 0.5
    with pytest.raises(UserError, match=r"unknown option\(s\) bogus .* valid options: step_scale"):
        cls.make_config({"bogus": 1})


def test_generate_command_runs_a_third_party_generator_end_to_end(third_party_plugin, tmp_path, capsys):
    out = tmp_path / "acme"
    code, _, err = run_cli(
        ["generate", "--source", "acme-random-walk", "--backend", "acme-line", "--suite",
         "acme-suite", "--episodes", "4", "--out", str(out), "--seed", "3"], capsys,
    )
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"] == "acme-random-walk"
    assert manifest["backend"] == "acme-line"
    assert manifest["control_hz"] == 10
    assert manifest["n_episodes"] == 8
    assert [t["task_id"] for t in manifest["tasks"]] == ["reach_1", "reach_2"]
