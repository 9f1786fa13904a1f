"""`export`: datasets in the layouts other tools read (LeRobotDataset v3, LIBERO HDF5)."""

from __future__ import annotations

from pathlib import Path

import typer

from diffrl_eval.errors import UserError


def export(
    dataset: Path = typer.Argument(..., help="Dataset directory."),
    out: Path = typer.Argument(..., help="Output path to create."),
    format: str = typer.Option("lerobot", "--format", help="lerobot | libero-hdf5."),
) -> None:
    """Export a dataset for other tools (LeRobotDataset v3, LIBERO/robomimic HDF5)."""
    raise UserError("'export' is not available yet in this version")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
