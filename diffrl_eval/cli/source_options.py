"""The options every command that reads a dataset shares: format and semantics.

A dataset argument is a path (this tool's directory, a LeRobot directory, a robomimic
HDF5 file or folder) or a Hub id; ``--eef-key``, ``--control-hz``, ``--gripper-index``,
``--action-kind`` and ``--mapping`` declare what the format does not say (see
:mod:`diffrl_eval.dataset.sources.semantics`). What was inferred is printed.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console

from diffrl_eval.dataset.sources.semantics import NO_GRIPPER


def eef_key_option() -> typer.models.OptionInfo:
    return typer.Option(None, "--eef-key", help="End-effector position: FEATURE or FEATURE[START:STOP], 3 wide (e.g. observation.state[0:3]). Default: inferred for known layouts.")


def control_hz_option() -> typer.models.OptionInfo:
    return typer.Option(None, "--control-hz", help="Control rate of the actions in Hz (mean squared jerk scales with its 6th power: 20 vs 10 Hz is a factor of 64). Default: the known layout's rate, else the declared fps.")


def gripper_index_option() -> typer.models.OptionInfo:
    return typer.Option(None, "--gripper-index", help=f"Action dimension of the gripper command, or '{NO_GRIPPER}'. Default: inferred.")


def action_kind_option() -> typer.models.OptionInfo:
    return typer.Option(None, "--action-kind", help="delta | absolute (the no-op rule needs delta actions). Default: inferred.")


def mapping_option() -> typer.models.OptionInfo:
    return typer.Option(None, "--mapping", help="TOML file with eef_key, control_hz, gripper_index, action_kind (flags win).")


def format_option() -> typer.models.OptionInfo:
    return typer.Option(None, "--format", help="Read as this dataset format instead of detecting it (see 'datasets formats').")


_OPTIONS = (  # (parameter, type, option factory), in SourceOptions' field order
    ("eef_key", str, eef_key_option),
    ("control_hz", float, control_hz_option),
    ("gripper_index", str, gripper_index_option),
    ("action_kind", str, action_kind_option),
    ("mapping", Path, mapping_option),
    ("format", str, format_option),
)


def with_source_options(command):
    """Give a Typer command the shared options; it receives them as ``source_options``
    (a :class:`SourceOptions`), declared once here instead of in every command."""
    signature = inspect.signature(command)
    kept = [p for p in signature.parameters.values() if p.name != "source_options"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=factory(),
                               annotation=kind) for name, kind, factory in _OPTIONS]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        values = [kwargs.pop(name, None) for name, _, _ in _OPTIONS]
        return command(*args, source_options=SourceOptions(*values), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=kept + added)
    return wrapper


@dataclass(frozen=True)
class SourceOptions:
    """The shared options as given on the command line."""

    eef_key: str | None = None
    control_hz: float | None = None
    gripper_index: str | None = None
    action_kind: str | None = None
    mapping: Path | None = None
    format: str | None = None

    def declared(self):
        from diffrl_eval.dataset.sources import Declared, read_mapping

        gripper: int | str | None = self.gripper_index
        if isinstance(gripper, str) and gripper.lstrip("-").isdigit():
            gripper = int(gripper)
        flags = Declared(self.eef_key, self.control_hz, gripper, self.action_kind)
        return flags.over(read_mapping(self.mapping)) if self.mapping is not None else flags

    @property
    def given(self) -> bool:
        return any(v is not None for v in self.__dict__.values())


def open_dataset(location: str | Path, options: SourceOptions | None = None, *,
                 console: Console | None = None):
    """Open ``location`` in its format, resolve its semantics, and print how."""
    from diffrl_eval.dataset.sources import open_source

    options = options or SourceOptions()
    opened = open_source(location, options.declared(), format=options.format)
    if console is not None:
        for line in describe(opened):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    return opened


def describe(opened) -> list[str]:
    """What was read and how it is interpreted, in a few lines for the terminal."""
    block = opened.disclosure()
    lines = [f"{opened.source.location}: {block['format']}"
             + (f", recognized as {block['profile']}" if block["profile"] else "")]
    decided = block["decided_by"]
    lines.append(f"  end-effector: {block['eef_key'] or 'none'} ({decided['eef_key']})")
    lines.append(f"  control rate: {block['control_hz']:g} Hz ({decided['control_hz']})")
    gripper = block["gripper_index"]
    lines.append(f"  actions: {block['action_kind']} ({decided['action_kind']}), gripper "
                 f"{'none' if gripper is None else f'dim {gripper}'} ({decided['gripper_index']})")
    lines.append(f"  success: {block['success']}")
    for metric, why in block["unavailable"].items():
        lines.append(f"  unavailable: {metric} ({why})")
    return lines
