"""Plug-ins add CLI commands through the ``diffrl_eval.commands`` entry-point group; a
broken one costs one warning line, never the CLI."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest
import typer
from typer.testing import CliRunner

from diffrl_eval import registry
from diffrl_eval.cli import plugin_commands
from diffrl_eval.constants import EP_COMMANDS


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command("generate")
    def generate() -> None:
        """A built-in command."""
        print("built-in generate")

    @app.command("doctor")
    def doctor() -> None:
        print("built-in doctor")

    return app


def _hello(app: typer.Typer) -> None:
    @app.command("hello")
    def hello(name: str = typer.Option("world", "--name")) -> None:
        print(f"hello {name}")


def _broken(app: typer.Typer) -> None:
    raise RuntimeError("this plug-in is broken")


def _clashing(app: typer.Typer) -> None:
    app.command("generate")(lambda: print("hijacked"))
    app.command("also-new")(lambda: None)


@pytest.fixture
def local_commands():
    names = []

    def add(name, value):
        registry.commands.register(name)(value)
        names.append(name)

    yield add
    for name in names:
        registry.commands.unregister(name)



def test_a_plug_in_adds_its_commands_and_a_broken_one_leaves_one_warning(local_commands,
                                                                           monkeypatch, capsys):
    monkeypatch.setattr(registry.commands, "entries", lambda: dict(
        sorted(registry.commands._local.items())))
    local_commands("hello-tools", _hello)
    local_commands("broken-tools", _broken)
    app = _app()
    warnings = plugin_commands.register(app)
    err = capsys.readouterr().err
    assert len(warnings) == 1 and "'broken-tools'" in warnings[0]
    assert "this plug-in is broken" in warnings[0]
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["warning: " + warnings[0]]
    result = CliRunner().invoke(app, ["hello", "--name", "robot"])
    assert result.exit_code == 0 and "hello robot" in result.output
    assert "built-in generate" in CliRunner().invoke(app, ["generate"]).output


def test_a_plug_in_cannot_replace_a_built_in_command(local_commands, monkeypatch, capsys):
    monkeypatch.setattr(registry.commands, "entries", lambda: dict(
        sorted(registry.commands._local.items())))
    local_commands("clashing-tools", _clashing)
    app = _app()
    warnings = plugin_commands.register(app)
    assert len(warnings) == 1 and "would replace the command(s) generate" in warnings[0]
    assert "built-in generate" in CliRunner().invoke(app, ["generate"]).output
    # the clashing plug-in's other command is not half-added either
    assert plugin_commands.command_names(app.registered_commands, app.registered_groups) == {
        "generate", "doctor"}
    capsys.readouterr()


def test_a_typer_app_value_becomes_a_command_group(local_commands, monkeypatch, capsys):
    monkeypatch.setattr(registry.commands, "entries", lambda: dict(
        sorted(registry.commands._local.items())))
    group = typer.Typer()
    group.command("ping")(lambda: print("pong"))
    group.command("pong")(lambda: print("ping"))
    local_commands("net", group)
    app = _app()
    assert plugin_commands.register(app) == []
    assert "pong" in CliRunner().invoke(app, ["net", "ping"]).output


def test_an_installed_plug_in_that_fails_to_import_leaves_the_cli_working(tmp_path):
    """A distribution on the path whose command entry point names a missing module."""
    dist = tmp_path / "acme_cmds-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-cmds\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{EP_COMMANDS}]\nacme = acme_missing.cli:register\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from diffrl_eval.cli import main; "
            "main(['tasks', 'list', '--backend', 'tabletop'])")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: command plug-in 'acme'")
    assert "acme-cmds" in warnings[0] and "acme_missing" in warnings[0]
    assert "tabletop tasks" in done.stdout  # the command ran


def test_train_expert_and_ablate_come_from_the_generators_command_plug_in():
    entries = {ep.name: ep.value for ep in metadata.entry_points(group=EP_COMMANDS)}
    assert entries.get("experts") == "generators.expert_commands:register"
    from diffrl_eval.cli import add_plugin_commands, app

    add_plugin_commands()
    names = plugin_commands.command_names(app.registered_commands, app.registered_groups)
    assert {"train-expert", "ablate"} <= names


def test_a_command_module_imported_before_the_cli_still_registers():
    """The plug-in module imports diffrl_eval.cli's option helpers; imported first, it must
    not meet a half-initialised CLI (commands are added when the CLI runs)."""
    code = ("import generators.expert_commands; from diffrl_eval.cli import main; "
            "main(['train-expert', '--help'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr and "--device" in done.stdout
