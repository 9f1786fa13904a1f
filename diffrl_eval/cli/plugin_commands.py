"""Commands that plug-ins add to the CLI, through the ``diffrl_eval.commands`` group.

An entry point's value is either a function that receives the Typer app and adds its
commands or groups to it (``app.command("name")(function)``, ``app.add_typer(...)``), or
a ``typer.Typer`` app, added as a command group under the entry point's name::

    [project.entry-points."diffrl_eval.commands"]
    my-tools = "my_package.cli:register"

The RL generators' ``train-expert`` and ``ablate`` come in this way. A plug-in is imported
on every start of the CLI, so its module should import heavy libraries (torch) inside its
commands. A plug-in that fails to load or to register, or that would replace a command
that exists already, costs one warning line on stderr; the other commands work.
"""

from __future__ import annotations

import sys

import typer

from diffrl_eval import registry


def command_names(commands: list, groups: list) -> set[str]:
    """Names of Typer ``commands`` (``app.registered_commands``) and ``groups``."""
    names = {info.name or info.callback.__name__.replace("_", "-")
             for info in commands if info.name or info.callback}
    return names | {info.name for info in groups if info.name}


def _warn(message: str) -> None:
    print("warning: " + " ".join(message.split()), file=sys.stderr)


def _add(app: typer.Typer, name: str, value: object) -> None:
    """Apply one plug-in's value to ``app``; if it fails, ``app`` is left as it was."""
    commands, groups = list(app.registered_commands), list(app.registered_groups)
    try:
        if isinstance(value, typer.Typer):
            app.add_typer(value, name=name)
        elif callable(value):
            value(app)
        else:
            raise TypeError(f"its value is a {type(value).__name__}, not a function that "
                            "receives the app or a typer.Typer")
        added = command_names([c for c in app.registered_commands if c not in commands],
                              [g for g in app.registered_groups if g not in groups])
        clashes = sorted(added & command_names(commands, groups))
        if clashes:
            raise ValueError(f"it would replace the command(s) {', '.join(clashes)}")
    except Exception:
        app.registered_commands[:] = commands
        app.registered_groups[:] = groups
        raise


def register(app: typer.Typer) -> list[str]:
    """Add every command plug-in's commands to ``app``; returns the warnings printed."""
    warnings = []
    for name, entry in registry.commands.entries().items():
        try:
            value = entry.load()  # its error names the plug-in, its package and target
        except Exception as exc:  # a broken plug-in must not take the whole CLI down
            warnings.append(f"command {exc}")
            continue
        try:
            _add(app, name, value)
        except Exception as exc:
            warnings.append(f"command plug-in {name!r} from {entry.package} ({entry.target}) "
                            f"not added: {exc}")
    for message in warnings:
        _warn(message)
    return warnings
