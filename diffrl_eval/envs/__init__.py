"""Environment backends behind one interface (see :mod:`diffrl_eval.envs.base`).

The names below load :mod:`.base` on first use, so that importing a light submodule (the
gymnasium registration, which runs inside ``import gymnasium``) costs no more than itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diffrl_eval.envs.base import EnvBackend, TaskSpec, get_backend

__all__ = ["EnvBackend", "TaskSpec", "get_backend"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from diffrl_eval.envs import base

    return getattr(base, name)
