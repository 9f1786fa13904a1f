"""The VLA contract: how a vision-language-action model plugs into training and evaluation.

A VLA maps an observation and the task's language instruction to an action chunk. The
core trains it (:mod:`diffrl_eval.vla.training`), evaluates it on fixed initial states
(:mod:`diffrl_eval.vla.evaluation`) and compares data sources with it (``compare``),
reaching it only through the ``diffrl_eval.vlas`` registry.

Contract
--------
1. Subclass :class:`VLA`; set ``description`` (one line).
2. Acting (required): :meth:`VLA.predict_batch` maps B observations (env observation
   dictionaries, keys from :mod:`diffrl_eval.constants`) and their B instructions to
   action chunks (B, Ta, Da) in the env's action units; :attr:`VLA.executed_steps` (Te)
   says how many actions of a chunk run before the model is asked again. Evaluation calls
   :meth:`VLA.predict_rows`, where each row's sampling noise comes from its own seed; its
   default asks :meth:`VLA.predict_batch` once per row, and a VLA that samples noise should
   override it with a batched version.
3. Loading (required): :meth:`VLA.load` rebuilds the model from a directory, on a torch
   device (``"cpu"``, ``"cuda"``, ``"mps"``; a model without torch ignores it). What the
   directory holds is the VLA's own business; the core identifies it by
   :meth:`VLA.content_hash` (by default a hash of every file in it).
4. Observation and action spec: :attr:`VLA.observation_keys` are the observation keys the
   model reads (checked against the env by :meth:`VLA.check_observation_space`, which a
   VLA may override with finer checks) and :meth:`VLA.env_options` what the env must
   render (cameras and their size). The chunk's last axis must be the env's action dim.
5. Training (optional): a VLA that can be fine-tuned overrides :meth:`VLA.fit` (datasets,
   a complete hparams dictionary from :meth:`VLA.resolve_hparams`, a seed, a device) and
   :meth:`VLA.save` (everything :meth:`VLA.load` needs, into one directory; no pickles:
   weights as safetensors, the rest as JSON). ``hparams_presets`` names the presets
   ``--preset`` may choose; ``resolve_hparams`` completes and validates a dictionary
   that may name one (key ``"preset"``). A VLA without ``fit`` is evaluation-only: it is
   evaluated with ``vla eval --vla NAME --ckpt DIR`` on whatever ``DIR`` its ``load``
   reads, with no checkpoint file of this tool and no weights file.
6. Expose the class through an entry point in the ``diffrl_eval.vlas`` group::

       [project.entry-points."diffrl_eval.vlas"]
       my-vla = "my_package.module:MyVLA"

Shape legend: B batch, Ta action horizon (chunk), Da action dim.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from diffrl_eval.constants import OBS_STATE
from diffrl_eval.errors import UserError
from diffrl_eval.vla.hparams import PRESET_KEY

if TYPE_CHECKING:
    from diffrl_eval.dataset import Dataset

WEIGHTS_FILE = "model.safetensors"  # the conventional name of a trained VLA's weights
CHECKPOINT_INFO_FILE = "checkpoint.json"  # the core's record beside the VLA's own files


class VLA(ABC):
    """A language-conditioned policy: acts on observations; optionally trained by
    behaviour cloning on datasets."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: the presets ``--preset`` and an hparams file's ``"preset"`` key may name
    hparams_presets: ClassVar[tuple[str, ...]] = ()
    #: observation keys the model reads (checked against each evaluated task's env)
    observation_keys: ClassVar[tuple[str, ...]] = (OBS_STATE,)

    # --- training (optional) ------------------------------------------------------------------
    @classmethod
    def can_train(cls) -> bool:
        """Whether this VLA implements :meth:`fit` (otherwise it is evaluation-only)."""
        return cls.fit is not VLA.fit

    @classmethod
    def resolve_hparams(cls, hparams: dict[str, Any] | None) -> dict[str, Any]:
        """``hparams`` completed with the VLA's defaults and validated: the dictionary that
        is hashed and written into every checkpoint and result. The default keeps the
        given keys and refuses a preset the VLA does not declare; a VLA that declares
        :attr:`hparams_presets` overrides this to apply them."""
        values = dict(hparams or {})
        preset = values.pop(PRESET_KEY, None)
        if preset is not None and preset not in cls.hparams_presets:
            raise unknown_preset(cls, str(preset))
        return values

    def fit(
        self,
        datasets: Sequence[Dataset],
        hparams: dict[str, Any],
        *,
        seed: int = 0,
        progress: bool = True,
        device: str = "cpu",
    ) -> VLA:
        """Train on ``datasets`` (one backend, one action dim) on torch ``device``; returns
        ``self``. Not implemented: the VLA is evaluation-only."""
        raise evaluation_only(self.name)

    def save(self, directory: Path) -> None:
        """Write everything :meth:`load` needs into the existing ``directory``."""
        raise UserError(f"VLA {self.name!r} is evaluation-only: it has nothing to save")

    # --- acting ------------------------------------------------------------------------------
    @abstractmethod
    def predict_batch(
        self,
        observations: Sequence[dict[str, np.ndarray]],
        instructions: Sequence[str],
        *,
        seed: int | None = None,
    ) -> np.ndarray:
        """Action chunks (B, Ta, Da) for B observations and their instructions.

        ``seed`` fixes any sampling noise (stochastic heads); deterministic heads ignore it.
        """

    def predict_rows(
        self,
        observations: Sequence[dict[str, np.ndarray]],
        instructions: Sequence[str],
        seeds: Sequence[int],
    ) -> np.ndarray:
        """Action chunks (B, Ta, Da) where row b's sampling noise comes from ``seeds[b]``
        alone: a row's chunk does not depend on which other rows share the batch, so an
        evaluation may split its episodes between processes without changing their noise.

        Row b is ``predict_batch([observations[b]], [instructions[b]], seed=seeds[b])[0]``
        (up to floating-point rounding, which may depend on the batch size). This default
        computes exactly that, one row at a time; override it to batch the rows.
        """
        if not len(observations) == len(instructions) == len(seeds):
            raise ValueError(f"{len(observations)} observations, {len(instructions)} "
                             f"instructions and {len(seeds)} seeds")
        return np.stack([self.predict_batch([obs], [text], seed=int(seed))[0]
                         for obs, text, seed in zip(observations, instructions, seeds)])

    def predict(
        self, observation: dict[str, np.ndarray], instruction: str, *, seed: int | None = None
    ) -> np.ndarray:
        """The action chunk (Ta, Da) for one observation and its instruction."""
        return self.predict_batch([observation], [instruction], seed=seed)[0]

    @property
    @abstractmethod
    def executed_steps(self) -> int:
        """Te: how many actions of each chunk run before the model is asked again."""

    def env_options(self) -> dict[str, Any]:
        """Keyword arguments for ``backend.make_env`` (e.g. ``images``, ``image_size``);
        by default none (state observations)."""
        return {}

    def check_observation_space(self, space: Any, task_id: str) -> None:
        """Raise :class:`~diffrl_eval.errors.UserError` if the model cannot read
        observations from ``space`` (a ``gymnasium.spaces.Dict``) of task ``task_id``; by
        default, when one of :attr:`observation_keys` is missing."""
        keys = set(getattr(space, "spaces", {}) or {})
        missing = [key for key in self.observation_keys if key not in keys]
        if missing:
            raise UserError(f"VLA {self.name!r} reads observation key(s) {', '.join(missing)}, "
                            f"which task {task_id!r} does not provide (it has "
                            f"{', '.join(sorted(keys)) or 'none'})")

    # --- the directory a model lives in ------------------------------------------------------
    @classmethod
    @abstractmethod
    def load(cls, directory: Path, *, device: str = "cpu") -> VLA:
        """Rebuild the model from ``directory`` on torch ``device``; corrupt or missing files
        are a :class:`~diffrl_eval.errors.UserError`."""

    @classmethod
    def content_hash(cls, directory: Path) -> str:
        """What identifies the model in ``directory``: by default the sha256 of every file
        in it (relative paths and bytes, in path order), the core's
        ``checkpoint.json`` and hidden files left out. A VLA whose directory holds more
        than the model (a cache, logs) overrides this to hash only what ``load`` reads."""
        return directory_hash(Path(directory), exclude=(CHECKPOINT_INFO_FILE,))


def evaluation_only(name: str) -> UserError:
    """The one-line error for training a VLA that does not implement :meth:`VLA.fit`."""
    return UserError(f"VLA {name!r} is evaluation-only (it does not implement fit); "
                     f"evaluate it with 'vla eval --vla {name} --ckpt DIR'")


def unknown_preset(cls: type[VLA], preset: str) -> UserError:
    """The one-line error for an hparams preset the VLA ``cls`` does not declare."""
    valid = ", ".join(sorted(cls.hparams_presets)) or "(none: the VLA has no presets)"
    return UserError(f"unknown hparams preset {preset!r} of VLA {cls.name!r}; valid choices: "
                     f"{valid}")


def model_files(directory: Path, exclude: Sequence[str] = ()) -> list[Path]:
    """The files under ``directory`` in sorted path order, leaving out names in ``exclude``
    and hidden files."""
    if not directory.is_dir():
        raise UserError(f"checkpoint not found: {directory} is not a directory")
    return sorted(p for p in directory.rglob("*") if p.is_file()
                  and p.relative_to(directory).as_posix() not in exclude
                  and not any(part.startswith(".") for part in p.relative_to(directory).parts))


def _feed(digest: Any, path: Path) -> None:
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def directory_hash(directory: Path, exclude: Sequence[str] = ()) -> str:
    """sha256 of the files under ``directory`` (each: its relative path, its size, then its
    bytes, in sorted path order), leaving out names in ``exclude`` and hidden files."""
    digest = hashlib.sha256()
    for path in model_files(directory, exclude):  # path and size first: no two directories
        relative = path.relative_to(directory).as_posix()  # hash the same stream
        digest.update(f"{relative}\0{path.stat().st_size}\0".encode())
        _feed(digest, path)
    return "sha256:" + digest.hexdigest()


def file_hashes(directory: Path, exclude: Sequence[str] = ()) -> dict[str, str]:
    """sha256 of each file under ``directory`` by relative path (what a changed checkpoint's
    error names)."""
    hashes = {}
    for path in model_files(directory, exclude):
        digest = hashlib.sha256()
        _feed(digest, path)
        hashes[path.relative_to(directory).as_posix()] = "sha256:" + digest.hexdigest()
    return hashes
