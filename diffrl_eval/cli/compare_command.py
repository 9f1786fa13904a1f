"""`compare`: the whole question, end to end, for several data sources."""

from __future__ import annotations

from pathlib import Path

import typer

from diffrl_eval.errors import UserError


def compare(
    sources: str = typer.Option(
        "human,gaussian-ppo,diffusion-ppo", "--sources", help="Comma-separated generator names."
    ),
    backend: str = typer.Option("tabletop", "--backend", "-b", help="Environment backend."),
    preset: str = typer.Option("quick", "--preset", help="quick | full."),
    seeds: str = typer.Option("0", "--seeds", help="Comma-separated VLA training seeds."),
    out: Path = typer.Option(Path("runs/compare"), "--out", "-o", help="Run directory."),
) -> None:
    """End to end: generate per source, measure, train and evaluate a VLA per source, report."""
    raise UserError(
        "'compare' is not available yet: it needs the RL generators and the VLA stage, "
        "which this version does not ship; use 'generate', 'metrics' and 'report'"
    )


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
