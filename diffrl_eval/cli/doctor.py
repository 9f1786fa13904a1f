"""`doctor`: what is installed and found (backends, optional extras, assets, GL)."""

from __future__ import annotations

import typer

from diffrl_eval.errors import UserError


def doctor() -> None:
    """Report installed backends, optional extras and where their assets were found."""
    raise UserError("'doctor' is not available yet in this version")


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
