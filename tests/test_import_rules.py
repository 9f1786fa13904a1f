"""DESIGN.md's dependency direction, held by parsing every import (function-level ones and
``importlib.import_module("...")`` calls included): the core reaches generators, VLA
plug-ins and report builders only through the registries, and generators and VLAs meet only
through datasets on disk and the env interface."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> top-level packages it must never import
FORBIDDEN = {
    "diffrl_eval": {"generators", "vla", "reports"},
    "generators": {"vla", "reports"},
    "vla": {"generators", "reports"},
    "reports": {"generators", "vla"},
}


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, the file of ``module``
    (dotted; relative imports are resolved against it)."""
    found = []
    package = module.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
        elif isinstance(node, ast.Call) and node.args \
                and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT)
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1] + ["__init__"]
        module = ".".join(parts)
        for line, name in imported_modules(path.read_text(), module):
            if name.split(".")[0] in FORBIDDEN[package]:
                bad.append(f"{relative}:{line} imports {name}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_never_imports_what_the_design_forbids(package):
    assert violations(package) == []


def test_the_cli_names_no_plug_in_module_even_in_strings():
    """Entry points, not module paths: no 'generators.' / 'vla.' string in the CLI."""
    for path in sorted((ROOT / "diffrl_eval" / "cli").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for prefix in ("generators.", "vla.", "reports."):
                    assert not node.value.startswith(prefix), f"{path}: {node.value!r}"


def test_the_checker_sees_every_form_of_import():
    source = '''
import vla.tiny_vla
from generators.human import HumanGenerator
def later():
    from reports import page
    import importlib
    importlib.import_module("vla.tiny_vla.model")
from . import sibling
from ..vla import interface
'''
    names = [name for _, name in imported_modules(source, "diffrl_eval.cli.__init__")]
    assert sorted(names) == sorted(["vla.tiny_vla", "generators.human", "reports", "importlib",
                                    "vla.tiny_vla.model", "diffrl_eval.cli", "diffrl_eval.vla"])
