"""Checkpoint directories: the VLA's own files plus where they came from.

A checkpoint trained by :func:`diffrl_eval.vla.training.train_vla` is a directory::

    CKPT/
      checkpoint.json     which VLA, its complete hparams and their hash, the backend, the
                          training provenance (seed, datasets, sources, suites), the device,
                          and the VLA's content hash of the files beside it
      ...                 the VLA's own files (written by its ``save``, read by its ``load``;
                          tiny-vla: model.safetensors and config.json)

A multi-seed run is a directory of such checkpoints named ``seed-<n>``. Evaluation reads
the backend and the VLA's name from ``checkpoint.json`` and loads the model through the
``diffrl_eval.vlas`` registry. A model trained elsewhere (an evaluation-only VLA) has no
``checkpoint.json``: its directory is whatever its ``load`` reads, and the VLA's name and
the backend come from the command line (:func:`untrained_info`). Missing or unreadable
files are one-line errors.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

from diffrl_eval import registry
from diffrl_eval.documents import VLA_CHECKPOINT, VlaCheckpointInfo
from diffrl_eval.errors import UserError
from diffrl_eval.validation import JsonMessages, dumps_json, read_versioned_json
from diffrl_eval.vla.hparams import hparams_hash
from diffrl_eval.vla.interface import CHECKPOINT_INFO_FILE, VLA, WEIGHTS_FILE, file_hashes

INFO_FILE = CHECKPOINT_INFO_FILE
_MESSAGES = JsonMessages.checkpoint("VLA checkpoint", "corrupt checkpoint", "file",
                                    VLA_CHECKPOINT.version_key)
SEED_PREFIX = "seed-"
# checkpoints written before the content hash recorded the sha256 of model.safetensors alone
_LEGACY_WEIGHTS_HASH = "weights_hash"


def seed_dir_name(seed: int) -> str:
    return f"{SEED_PREFIX}{seed}"


def read_info(ckpt: Path) -> dict[str, Any]:
    """``checkpoint.json`` of the checkpoint ``ckpt``, validated, with the VLA's files
    checked against the content hash it recorded."""
    ckpt = Path(ckpt)
    if not ckpt.exists():
        raise UserError(f"checkpoint not found: {ckpt}")
    path = ckpt / INFO_FILE
    info = read_versioned_json(path, VLA_CHECKPOINT, _MESSAGES,
                               required=VlaCheckpointInfo.required_fields())
    recorded = info.get("content_hash")
    if recorded is not None and recorded != checkpoint_hash(ckpt, info["vla"]):
        raise UserError(f"corrupt checkpoint {ckpt}: {_what_changed(ckpt, info.get('files'))} "
                        f"(the content hash differs from the one in {INFO_FILE})")
    legacy = info.get(_LEGACY_WEIGHTS_HASH)
    if recorded is None and legacy is not None and legacy != _weights_file_hash(ckpt):
        raise UserError(f"corrupt checkpoint {ckpt}: {WEIGHTS_FILE} changed since training "
                        f"(its hash differs from the one in {INFO_FILE})")
    return info


def write_info(ckpt: Path, info: VlaCheckpointInfo) -> None:
    """Write ``checkpoint.json``, recording the VLA's content hash of the files already
    saved beside it (loading refuses files that no longer match)."""
    written = dataclasses.replace(info, extra={
        **info.extra,
        "content_hash": checkpoint_hash(ckpt, info.vla),
        "files": file_hashes(Path(ckpt), exclude=(INFO_FILE,)),
    })
    text = dumps_json(written.to_json(), where=f"checkpoint {ckpt}", indent=2)
    (Path(ckpt) / INFO_FILE).write_text(text + "\n")


def _what_changed(ckpt: Path, recorded: Any) -> str:
    """Which of the checkpoint's files changed, from the per-file hashes written beside the
    content hash (they only explain a mismatch; the VLA's content hash decides it)."""
    if not isinstance(recorded, dict):
        return "its files changed since training"
    found = file_hashes(Path(ckpt), exclude=(INFO_FILE,))
    missing = sorted(set(recorded) - set(found))
    if missing:
        return f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing"
    changed = sorted(name for name in recorded if recorded[name] != found[name])
    added = sorted(set(found) - set(recorded))
    if changed:
        return f"{', '.join(changed)} changed since training"
    if added:
        return f"{', '.join(added)} appeared since training"
    return "its files changed since training"


def untrained_info(vla: str, backend: str) -> dict[str, Any]:
    """What evaluation knows of a model this tool did not train (no ``checkpoint.json``):
    its VLA and the backend it acts in; no hparams and no training data."""
    return {"vla": vla, "hparams": {}, "hparams_hash": hparams_hash({}), "backend": backend,
            "training": {"seed": None, "datasets": [], "sources": [], "train_suites": []}}


def checkpoint_hash(ckpt: Path, vla: str) -> str:
    """The content hash of the model in ``ckpt``, as the VLA ``vla`` defines it."""
    cls: type[VLA] = registry.vlas.load(vla)
    return cls.content_hash(Path(ckpt))


def _weights_file_hash(ckpt: Path) -> str:
    path = Path(ckpt) / WEIGHTS_FILE
    if not path.is_file():
        raise UserError(f"corrupt checkpoint {ckpt}: {WEIGHTS_FILE} is missing")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def load_vla(ckpt: Path, *, vla: str | None = None, device: str = "cpu"
             ) -> tuple[VLA, dict[str, Any]]:
    """The model of checkpoint ``ckpt`` on ``device`` and its ``checkpoint.json`` (with
    ``vla`` given and no ``checkpoint.json``: that VLA's ``load`` reads the directory)."""
    ckpt = Path(ckpt)
    if vla is not None and not (ckpt / INFO_FILE).is_file():
        if not ckpt.exists():
            raise UserError(f"checkpoint not found: {ckpt}")
        info = untrained_info(vla, "")
    else:
        info = read_info(ckpt)
    cls = registry.vlas.load(info["vla"])
    return cls.load(ckpt, device=device), info


def checkpoint_dirs(path: Path) -> list[Path]:
    """``path`` itself when it is a checkpoint, else its ``seed-<n>`` checkpoints in seed
    order (a multi-seed training run)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"checkpoint not found: {path}")
    if (path / INFO_FILE).is_file():
        return [path]
    seeds = []
    if path.is_dir():
        for child in path.iterdir():
            suffix = child.name[len(SEED_PREFIX):]
            if child.name.startswith(SEED_PREFIX) and suffix.lstrip("-").isdigit() \
                    and (child / INFO_FILE).is_file():
                seeds.append((int(suffix), child))
    if not seeds:
        raise UserError(f"not a VLA checkpoint: {path} has no {INFO_FILE} and no "
                        f"{SEED_PREFIX}<n> checkpoints")
    return [child for _, child in sorted(seeds)]
