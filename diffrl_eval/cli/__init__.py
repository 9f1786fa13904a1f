"""The `diffrl-eval` command line.

Every command reports bad input as one line on stderr (``error: ...``) with exit code 2, and
a fault of the machine (full disk, permission, interruption, an output another run holds) as
one line with exit code 3; never a traceback, never a half-written output. Plug-ins (generators, VLAs, backends, report builders) are reached through
their entry-point registries, never imported by name.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import typer

from diffrl_eval.atomic import final_name, last_claimed_output, remove_live_staging
from diffrl_eval.cli import (
    catalog,
    check_command,
    compare_command,
    data,
    doctor,
    experts,
    export_command,
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
experts.register(app)
doctor.register(app)


def _fail(message: str, code: int) -> None:
    text = " ".join(str(message).split())  # one line, whatever the message held
    print(f"error: {text}", file=sys.stderr)
    sys.exit(code)


def _raise_interrupted(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise Interrupted(signal.Signals(signum).name)


def _install_signal_handlers() -> dict[int, object]:
    """SIGINT and SIGTERM raise :class:`Interrupted` (a signal ignored when the process
    started, as for a background job, stays ignored); returns the handlers replaced."""
    previous: dict[int, object] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for number in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, _raise_interrupted)
    return previous


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
    command = typer.main.get_command(app)
    previous_handlers = _install_signal_handlers()
    try:
        result = command.main(args=argv, prog_name="diffrl-eval", standalone_mode=False)
    except UserError as exc:
        remove_live_staging()
        _fail(str(exc), exc.exit_code)
    except EnvironmentFault as exc:
        remove_live_staging()
        _fail(str(exc), exc.exit_code)
    except (typer.Abort, KeyboardInterrupt, Interrupted) as exc:
        staged = remove_live_staging()
        name = exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"
        target = final_name(staged[0]) if staged else last_claimed_output()
        where = f" while writing {target} (removed the unfinished output)" if target else ""
        _fail(f"interrupted ({name}){where}", EXIT_ENVIRONMENT)
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
        message = _fault_message(exc, staged)
        if message is not None:
            _fail(message, EXIT_ENVIRONMENT)
        raise
    finally:
        for number, handler in previous_handlers.items():
            signal.signal(number, handler)
    sys.exit(result if isinstance(result, int) else 0)


__all__ = ["app", "main"]
