"""Environment backends behind one interface (see :mod:`diffrl_eval.envs.base`)."""

from diffrl_eval.envs.base import EnvBackend, TaskSpec, get_backend

__all__ = ["EnvBackend", "TaskSpec", "get_backend"]
