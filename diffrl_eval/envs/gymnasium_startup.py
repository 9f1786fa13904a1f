"""Registers diffrl-eval's environments with gymnasium as soon as gymnasium is imported.

gymnasium 1.x loads no plug-ins on import, so ``gymnasium.make("tabletop/<task>-v0")`` in
a fresh interpreter would not know the ids. The wheel therefore ships this file at the top
of site-packages as ``_diffrl_eval_gymnasium`` together with ``diffrl_eval_gymnasium.pth``,
whose one line imports it when the interpreter starts (the mechanism site-packages offers
for start-up code, as setuptools' ``distutils-precedence.pth`` uses it).

At start-up this module only puts a finder at the front of ``sys.meta_path``: it imports
nothing, and until gymnasium is imported the finder answers "not mine" to every other module
by one string comparison. When ``gymnasium`` is imported, the finder leaves the meta path,
lets the normal machinery find gymnasium, and runs
:func:`diffrl_eval.envs.gym_registration.register_envs` right after gymnasium's own module
code: string entry points only, no MuJoCo, no hf-libero, no torch. A failure there is a
warning, never a failed ``import gymnasium``.

``python -S`` (no site) skips ``.pth`` files; ``import diffrl_eval`` then still registers
when gymnasium is imported first (``gymnasium.make("diffrl_eval:tabletop/<task>-v0")``).
"""

import sys

_TARGET = "gymnasium"
_MARK = "_diffrl_eval_registers_gymnasium_envs"  # one armed finder per interpreter


def _register() -> None:
    try:
        from diffrl_eval.envs.gym_registration import register_envs

        register_envs()
    except Exception as exc:  # never break ``import gymnasium`` for someone else's code
        import warnings

        warnings.warn(f"diffrl-eval environments were not registered with gymnasium: "
                      f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)


class _RegisterAfterGymnasium:
    """A meta-path finder that finds nothing itself: it wraps gymnasium's loader once."""

    _diffrl_eval_registers_gymnasium_envs = True  # the name in _MARK

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _TARGET:
            return None
        disarm()
        from importlib.util import find_spec

        spec = find_spec(fullname)  # the finders after this one, as if it were not there
        loader = getattr(spec, "loader", None)
        if loader is None or isinstance(loader, type) or not hasattr(loader, "exec_module"):
            return spec  # a class-level loader is shared: leave it alone
        own = vars(loader).get("exec_module") if hasattr(loader, "__dict__") else None
        exec_module = loader.exec_module

        def exec_then_register(module):
            try:
                exec_module(module)
            finally:  # the loader is as it was before
                if own is None:
                    del loader.exec_module
                else:
                    loader.exec_module = own
            _register()

        try:
            loader.exec_module = exec_then_register
        except AttributeError:  # a loader with __slots__: gymnasium imports unregistered
            pass
        return spec



def armed() -> bool:
    """Whether a finder of this kind waits on ``sys.meta_path``."""
    return any(getattr(finder, _MARK, False) for finder in sys.meta_path)


def disarm() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, _MARK, False)]


def arm() -> None:
    """Register now if gymnasium is already imported, else once it is."""
    if _TARGET in sys.modules:
        _register()
    elif not armed():
        sys.meta_path.insert(0, _RegisterAfterGymnasium())


arm()
