"""diffrl-eval: compare data generators for VLA training, end to end and reproducibly.

Importing the package is light: the version is read from the installed metadata on first
use, and the environments are registered with gymnasium here only when gymnasium is already
imported (as in ``gymnasium.make("diffrl_eval:tabletop/<task>-v0")``); otherwise the
installed start-up hook registers them when gymnasium is imported
(:mod:`diffrl_eval.envs.gym_registration`).
"""

import sys as _sys

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import metadata

    try:
        version = metadata.version("diffrl-eval")
    except metadata.PackageNotFoundError:  # running from a source tree without installation
        version = "0.0.0+unknown"
    globals()["__version__"] = version
    return version


if "gymnasium" in _sys.modules:
    from diffrl_eval.envs.gym_registration import register_envs as _register_envs

    _register_envs()
