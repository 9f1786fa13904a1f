"""Plug-in registries: generators, VLAs and environment backends.

Every plug-in, built-in or third-party, is found the same way: a Python entry point in
one of the groups ``diffrl_eval.generators``, ``diffrl_eval.vlas``, ``diffrl_eval.envs`` (and
``diffrl_eval.reports`` for report builders, ``diffrl_eval.dataset_sources`` for dataset
formats, ``diffrl_eval.commands`` for CLI commands)
whose value is the plug-in class. ``pip install my-generator`` therefore adds a row to
``diffrl-eval generators list`` without touching this repository.

For code that is not installed as a distribution (a notebook, a test), the
:meth:`Registry.register` decorator adds a class to the running process only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Generic, TypeVar

from diffrl_eval.constants import (
    EP_COMMANDS,
    EP_DATASET_SOURCES,
    EP_ENVS,
    EP_GENERATORS,
    EP_REPORTS,
    EP_VLAS,
)
from diffrl_eval.errors import UserError, unknown_choice

T = TypeVar("T")


@dataclass(frozen=True)
class RegistryEntry(Generic[T]):
    """One plug-in: its name, where it comes from, and how to load it."""

    name: str
    package: str  # the distribution that provides it ("<process>" for register())
    target: str  # "module:attribute"
    _load: Callable[[], T]

    def load(self) -> T:
        try:
            return self._load()
        except UserError:
            raise  # already says what is wrong and what to do
        except Exception as exc:  # a broken plug-in must not take the whole CLI down
            raise UserError(
                f"plug-in {self.name!r} from {self.package} failed to load ({self.target}): {exc}"
            ) from exc

    @property
    def description(self) -> str:
        """The plug-in's one-line description (its ``description`` or docstring)."""
        obj = self.load()
        text = getattr(obj, "description", None) or (obj.__doc__ or "")
        return text.strip().splitlines()[0] if text.strip() else ""


class Registry(Generic[T]):
    """Plug-ins of one kind, discovered from entry points plus in-process registrations."""

    def __init__(self, group: str, kind: str) -> None:
        self.group = group
        self.kind = kind
        self._local: dict[str, RegistryEntry[T]] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: make ``name`` available in this process without packaging."""

        def decorate(obj: T) -> T:
            if hasattr(obj, "name") and isinstance(obj, type):
                obj.name = name  # type: ignore[attr-defined]
            target = f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', '?')}"
            self._local[name] = RegistryEntry(name, "<process>", target, lambda: obj)
            return obj

        return decorate

    def unregister(self, name: str) -> None:
        self._local.pop(name, None)

    def entries(self) -> dict[str, RegistryEntry[T]]:
        """All plug-ins by name; an in-process registration shadows an entry point."""
        found: dict[str, RegistryEntry[T]] = {}
        for ep in metadata.entry_points(group=self.group):
            package = ep.dist.name if ep.dist is not None else "?"
            found.setdefault(ep.name, RegistryEntry(ep.name, package, ep.value, ep.load))
        found.update(self._local)
        return dict(sorted(found.items()))

    def names(self) -> list[str]:
        return list(self.entries())

    def entry(self, name: str) -> RegistryEntry[T]:
        entries = self.entries()
        if name not in entries:
            raise unknown_choice(self.kind, name, entries)
        return entries[name]

    def load(self, name: str) -> T:
        """The plug-in class called ``name``; a one-line error lists the valid names.

        A class that leaves its ``name`` empty takes the name it is registered under, so
        manifests and reports always say which plug-in produced what.
        """
        obj = self.entry(name).load()
        if isinstance(obj, type) and hasattr(obj, "name") and not obj.name:
            obj.name = name
        return obj


generators: Registry = Registry(EP_GENERATORS, "generator")
vlas: Registry = Registry(EP_VLAS, "VLA")
envs: Registry = Registry(EP_ENVS, "environment backend")
report_builders: Registry = Registry(EP_REPORTS, "report format")
dataset_sources: Registry = Registry(EP_DATASET_SOURCES, "dataset format")
commands: Registry = Registry(EP_COMMANDS, "command plug-in")
