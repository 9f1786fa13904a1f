"""`generators list` and `tasks list`: what is installed and what can be run."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from diffrl_eval import registry
from diffrl_eval.envs.base import get_backend

console = Console()

generators_app = typer.Typer(help="Data sources (built-in and installed plug-ins).", no_args_is_help=True)
tasks_app = typer.Typer(help="Suites and tasks of an environment backend.", no_args_is_help=True)

datasets_app = typer.Typer(help="Dataset formats the tool reads (built-in and installed plug-ins).", no_args_is_help=True)

BACKEND_OPTION = typer.Option("tabletop", "--backend", "-b", help="Environment backend.")


@generators_app.command("list")
def generators_list() -> None:
    """List the installed generators: name, description, providing package."""
    table = Table(title="generators")
    table.add_column("name", style="bold")
    table.add_column("description")
    table.add_column("package")
    for name, entry in registry.generators.entries().items():
        table.add_row(name, entry.description, entry.package)
    console.print(table)


@tasks_app.command("list")
def tasks_list(
    backend: str = BACKEND_OPTION,
    suite: str = typer.Option(None, "--suite", "-s", help="Only this suite."),
) -> None:
    """List tasks with their suite, instruction and step limit."""
    env_backend = get_backend(backend)
    if suite is not None:
        env_backend.check_suite(suite)
    table = Table(title=f"{backend} tasks")
    table.add_column("suite", overflow="fold")
    table.add_column("task", overflow="fold")
    table.add_column("instruction")
    table.add_column("max steps", justify="right")
    for task in env_backend.tasks(suite):
        table.add_row(task.suite, task.task_id, task.instruction, str(task.max_steps))
    console.print(table)


@datasets_app.command("formats")
def datasets_formats() -> None:
    """List the dataset formats, in the order they are tried: name, description, package."""
    from diffrl_eval.dataset.sources import source_names

    entries = registry.dataset_sources.entries()
    table = Table(title="dataset formats")
    table.add_column("name", style="bold")
    table.add_column("description")
    table.add_column("package")
    for name in source_names():
        table.add_row(name, entries[name].description, entries[name].package)
    console.print(table)
