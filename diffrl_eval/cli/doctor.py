"""`doctor`: what is installed and found (backends, optional extras, each backend's runtime
(LIBERO's assets: :meth:`EnvBackend.diagnostics`), GL, versions).

It also installs the one package the ``libero`` extra cannot: hf-libero pins a CUDA
torch, wandb and robomimic, none of which its environments import, and an extra cannot
ask for ``--no-deps``. ``diffrl-eval doctor --install-libero`` runs
``pip install --no-deps hf-libero==0.1.4`` with this interpreter and checks that torch
was left alone.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from diffrl_eval import registry
from diffrl_eval.errors import UserError

DISTRIBUTION = "diffrl-eval"
CORE_PACKAGES = ("numpy", "polars", "torch", "mujoco", "gymnasium", "h5py", "typer")


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    section: str
    item: str
    status: str  # "ok", "missing", "error" or "info"
    detail: str


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def version_checks() -> list[Check]:
    checks = [Check("versions", "python", "info", platform.python_version()),
              Check("versions", DISTRIBUTION, "info", installed_version(DISTRIBUTION) or "?")]
    for name in CORE_PACKAGES:
        version = installed_version(name)
        checks.append(Check("versions", name, "ok" if version else "missing", version or ""))
    return checks


def backend_checks() -> list[Check]:
    checks = []
    for name, entry in registry.envs.entries().items():
        try:
            entry.load()
        except UserError as exc:
            checks.append(Check("backends", name, "error", str(exc)))
            continue
        checks.append(Check("backends", name, "ok", f"from {entry.package} ({entry.target})"))
    return checks


def extra_checks() -> list[Check]:
    """Every requirement of every optional extra: installed, and at a fitting version."""
    from packaging.requirements import Requirement

    try:
        distribution = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return [Check("extras", DISTRIBUTION, "missing", "not installed as a distribution")]
    checks = []
    for extra in distribution.metadata.get_all("Provides-Extra") or []:
        requirements = [Requirement(text) for text in distribution.requires or []]
        wanted = [r for r in requirements
                  if r.marker is not None and r.marker.evaluate({"extra": extra})]
        if not wanted:
            checks.append(Check("extras", f"[{extra}]", "info", "nothing to install"))
            continue
        for requirement in wanted:
            version = installed_version(requirement.name)
            if version is None:
                status, detail = "missing", f"wants {requirement.specifier or 'any version'}"
            elif requirement.specifier and not requirement.specifier.contains(
                    version, prereleases=True):
                status, detail = "error", f"{version} installed, wants {requirement.specifier}"
            else:
                status, detail = "ok", version
            checks.append(Check("extras", f"[{extra}] {requirement.name}", status, detail))
    return checks


def backend_diagnostics(assets: Path | None) -> list[Check]:
    """What each loadable backend reports about its runtime, a section per backend."""
    checks = []
    for name, entry in registry.envs.entries().items():
        try:
            backend_cls = entry.load()
        except UserError:  # reported under "backends"
            continue
        checks += [Check(name, d.item, d.status, d.detail)
                   for d in backend_cls.diagnostics(assets)]
    return checks


def gl_checks() -> list[Check]:
    from diffrl_eval.envs.tabletop.rendering import gl_available

    egl = ctypes.util.find_library("EGL")
    osmesa = ctypes.util.find_library("OSMesa")
    return [
        Check("gl", "MUJOCO_GL", "info", os.environ.get("MUJOCO_GL", "(unset: egl where libEGL exists)")),
        Check("gl", "libEGL", "ok" if egl else "missing", egl or "apt-get install libegl1"),
        Check("gl", "libOSMesa", "ok" if osmesa else "missing",
              osmesa or "optional (MUJOCO_GL=osmesa)"),
        Check("gl", "offscreen rendering", "ok" if gl_available() else "missing",
              "camera images available" if gl_available()
              else "state-only runs work; camera images need a GL backend"),
    ]


def install_libero() -> str:
    """``pip install --no-deps hf-libero==0.1.4`` into this interpreter; returns pip's
    last line. Raises the one-line error when pip fails or torch changed under it."""
    from diffrl_eval.envs.libero import runtime

    torch_before = installed_version("torch")
    command = [sys.executable, "-m", "pip", "install", "--no-deps",
               runtime.HF_LIBERO_REQUIREMENT]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if result.returncode != 0:
        raise UserError(f"{' '.join(command[2:])} failed: {lines[-1] if lines else 'no output'}")
    torch_after = installed_version("torch")
    if torch_after != torch_before:
        raise UserError(f"installing hf-libero changed torch from {torch_before} to "
                        f"{torch_after}")
    return next((line for line in reversed(lines) if "Successfully" in line or
                 "already satisfied" in line), lines[-1] if lines else "")


STATUS_STYLE = {"ok": "green", "missing": "yellow", "error": "red", "info": "dim"}


def doctor(
    libero_assets: Path = typer.Option(
        None, "--libero-assets", help="LIBERO scene-assets folder to check (and use).",
        file_okay=False),
    install_libero_flag: bool = typer.Option(
        False, "--install-libero",
        help="Install hf-libero without its dependencies (after pip install 'diffrl-eval[libero]')."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Report versions, env backends, optional extras, LIBERO assets and GL rendering."""
    console = Console()
    if install_libero_flag:
        line = install_libero()
        if not as_json:
            console.print(f"hf-libero: {line}")
    checks = [*version_checks(), *backend_checks(), *extra_checks(),
              *backend_diagnostics(libero_assets), *gl_checks()]
    if as_json:
        report: dict[str, Any] = {}
        for check in checks:
            report.setdefault(check.section, []).append(
                {k: v for k, v in asdict(check).items() if k != "section"})
        print(json.dumps(report, indent=2))
        return
    table = Table(title="diffrl-eval doctor")
    for column in ("section", "item", "status", "detail"):
        table.add_column(column, overflow="fold")
    for check in checks:
        style = STATUS_STYLE[check.status]
        table.add_row(check.section, escape(check.item), f"[{style}]{check.status}[/{style}]",
                      escape(check.detail))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
