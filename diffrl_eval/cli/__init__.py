"""The `diffrl-eval` command line.

Every command reports bad input as one line on stderr (``error: ...``) with exit code 2, and
a fault of the machine (full disk, permission, interruption, an output another run holds) as
one line with exit code 3; never a traceback, never a half-written output. Plug-ins (generators, VLAs, backends, report builders) are reached through
their entry-point registries, never imported by name; plug-ins add their own commands
through the ``diffrl_eval.commands`` group (:mod:`diffrl_eval.cli.plugin_commands`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from diffrl_eval import interrupts
from diffrl_eval.atomic import final_name, last_claimed_output, remove_live_staging
from diffrl_eval.cli import (
    catalog,
    check_command,
    compare_command,
    data,
    doctor,
    export_command,
    plugin_commands,
    reporting,
    serve_command,
    vla_commands,
)
from diffrl_eval.errors import (
    EXIT_ENVIRONMENT,
    EnvironmentFault,
    Interrupted,
    UserError,
    environment_fault,
)

app = typer.Typer(
    name="diffrl-eval",
    help=(
        "Does a VLA trained on data from generator X beat one trained on human "
        "demonstrations? Generate datasets, measure their quality, fine-tune and evaluate "
        "VLAs, and report."
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

def _print_version(value: bool) -> None:
    if value:
        from diffrl_eval import __version__

        print(f"diffrl-eval {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.",
    ),
    libero_assets: Path = typer.Option(
        None, "--libero-assets",
        help="LIBERO scene-assets folder for every command of this call (same as "
             "DIFFRL_LIBERO_ASSETS).",
    ),
) -> None:
    """Options that apply to every command."""
    if libero_assets is not None:
        if not libero_assets.is_dir():
            raise UserError(f"--libero-assets: no such folder {libero_assets}")
        # the libero backend reads the folder from the environment when it is first used
        os.environ["DIFFRL_LIBERO_ASSETS"] = str(libero_assets.resolve())


app.add_typer(catalog.generators_app, name="generators")
app.add_typer(catalog.tasks_app, name="tasks")
app.add_typer(catalog.datasets_app, name="datasets")
app.add_typer(vla_commands.vla_app, name="vla")
data.register(app)
reporting.register(app)
compare_command.register(app)
check_command.register(app)
vla_commands.register(app)
serve_command.register(app)
export_command.register(app)
doctor.register(app)
_plugins_added = False


def add_plugin_commands() -> None:
    """Add the command plug-ins' commands to ``app``, once, after the built-in ones (a
    plug-in cannot replace those). Called when the CLI runs, not when this package is
    imported: a plug-in's module may itself import ``diffrl_eval.cli`` (its option
    helpers), which at import time would be a circular import."""
    global _plugins_added
    if not _plugins_added:
        _plugins_added = True
        plugin_commands.register(app)


def _fail(message: str, code: int) -> None:
    text = " ".join(str(message).split())  # one line, whatever the message held
    print(f"error: {text}", file=sys.stderr)
    sys.exit(code)


def _interrupted_message(signal_name: str, staged: list[Path]) -> str:
    """One line for an interruption and what was being written. An output already under its
    final name was committed before the signal (or is a resumable run folder): it stays."""
    target = final_name(staged[0]) if staged else last_claimed_output()
    if target is None:
        return f"interrupted ({signal_name})"
    removed = " (removed the unfinished output)" if staged or not target.exists() else ""
    return f"interrupted ({signal_name}) while writing {target}{removed}"


def _fault_message(exc: BaseException, staged: list[Path]) -> str | None:
    """One line for an environment fault (disk full, permission...), else None."""
    where = getattr(exc, "filename", None)
    if where is None:
        where = final_name(staged[0]) if staged else last_claimed_output()
    fault = environment_fault(exc, where)
    return None if fault is None else str(fault)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs one command and maps every way it can end to the
    exit-code contract (see :mod:`diffrl_eval.errors`)."""
    add_plugin_commands()
    command = typer.main.get_command(app)
    previous_handlers = interrupts.install_handlers()
    try:
        result = command.main(args=argv, prog_name="diffrl-eval", standalone_mode=False)
    except (UserError, EnvironmentFault) as exc:
        staged = remove_live_staging()
        if interrupts.received() is not None:  # the signal was swallowed on the way (a C
            # extension's import turned it into its own error): the failure is the signal
            _fail(_interrupted_message(interrupts.received(), staged), EXIT_ENVIRONMENT)
        _fail(str(exc), exc.exit_code)
    except (typer.Abort, KeyboardInterrupt, Interrupted) as exc:
        staged = remove_live_staging()
        name = exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"
        _fail(_interrupted_message(name, staged), EXIT_ENVIRONMENT)
    except MemoryError:
        remove_live_staging()
        _fail("out of memory", EXIT_ENVIRONMENT)
    except Exception as exc:
        # Typer raises its own (vendored) click exceptions for usage errors; recognise them
        # by their interface so that any Typer/click version gives the same one-line error.
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message(), file=sys.stderr)  # type: ignore[attr-defined]
            sys.exit(2)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            hint = " (see --help)" if exc.exit_code == 2 else ""  # type: ignore[attr-defined]
            _fail(f"{exc.format_message()}{hint}", exc.exit_code)  # type: ignore[attr-defined]
        staged = remove_live_staging()
        if interrupts.received() is not None:  # raised where it was swallowed: this follows
            _fail(_interrupted_message(interrupts.received(), staged), EXIT_ENVIRONMENT)
        message = _fault_message(exc, staged)
        if message is not None:
            _fail(message, EXIT_ENVIRONMENT)
        raise
    finally:
        signal_name = interrupts.received()
        interrupts.restore_handlers(previous_handlers)
    if signal_name is not None:  # raised where it was swallowed, after the output was done
        _fail(_interrupted_message(signal_name, []), EXIT_ENVIRONMENT)
    sys.exit(result if isinstance(result, int) else 0)


__all__ = ["add_plugin_commands", "app", "main"]
