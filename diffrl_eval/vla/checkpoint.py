"""Checkpoint directories: the trained VLA's own files plus where it came from.

A checkpoint is a directory written by :func:`diffrl_eval.vla.training.train_vla`::

    CKPT/
      checkpoint.json     which VLA, its complete hparams and their hash, the backend, and
                          the training provenance (seed, datasets, sources, suites)
      model.safetensors   the VLA's weights (written by the VLA's ``save``)
      ...                 the VLA's own JSON config

A multi-seed run is a directory of such checkpoints named ``seed-<n>``. Evaluation reads
the backend and the VLA's name from ``checkpoint.json`` and loads the model through the
``diffrl_eval.vlas`` registry. Missing or unreadable files are one-line errors.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from diffrl_eval import registry
from diffrl_eval.errors import UserError
from diffrl_eval.validation import dumps_json, read_json
from diffrl_eval.vla.interface import VLA, WEIGHTS_FILE

INFO_FILE = "checkpoint.json"
INFO_KIND = "diffrl-eval/vla-checkpoint"
INFO_SCHEMA_VERSION = 1
SEED_PREFIX = "seed-"
_REQUIRED = ("vla", "hparams", "hparams_hash", "backend", "training")


def seed_dir_name(seed: int) -> str:
    return f"{SEED_PREFIX}{seed}"


def read_info(ckpt: Path) -> dict[str, Any]:
    """``checkpoint.json`` of the checkpoint ``ckpt``, validated."""
    ckpt = Path(ckpt)
    if not ckpt.exists():
        raise UserError(f"checkpoint not found: {ckpt}")
    path = ckpt / INFO_FILE
    if not path.is_file():
        raise UserError(f"not a VLA checkpoint: {path} is missing")
    info = read_json(path, f"corrupt checkpoint {path}:")
    if not isinstance(info, dict) or info.get("kind") != INFO_KIND:
        raise UserError(f"corrupt checkpoint {path}: not a {INFO_KIND} file")
    if info.get("schema_version") != INFO_SCHEMA_VERSION:
        raise UserError(f"checkpoint {path} has schema_version {info.get('schema_version')!r}; "
                        f"this version reads {INFO_SCHEMA_VERSION}")
    missing = [key for key in _REQUIRED if key not in info]
    if missing:
        raise UserError(f"corrupt checkpoint {path}: missing key(s) {', '.join(missing)}")
    recorded = info.get("weights_hash")
    if recorded is not None and recorded != weights_hash(ckpt):
        raise UserError(f"corrupt checkpoint {ckpt}: {WEIGHTS_FILE} changed since training "
                        "(its hash differs from the one in checkpoint.json)")
    return info


def write_info(ckpt: Path, info: dict[str, Any]) -> None:
    """Write ``checkpoint.json``, recording the hash of the weights already saved beside it
    (loading refuses weights that no longer match)."""
    body = {"kind": INFO_KIND, "schema_version": INFO_SCHEMA_VERSION, **info}
    if (Path(ckpt) / WEIGHTS_FILE).is_file():
        body["weights_hash"] = weights_hash(ckpt)
    text = dumps_json(body, where=f"checkpoint {ckpt}", indent=2)
    (Path(ckpt) / INFO_FILE).write_text(text + "\n")


def weights_hash(ckpt: Path) -> str:
    """sha256 of the checkpoint's weights file."""
    path = Path(ckpt) / WEIGHTS_FILE
    if not path.is_file():
        raise UserError(f"corrupt checkpoint {ckpt}: {WEIGHTS_FILE} is missing")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def load_vla(ckpt: Path) -> tuple[VLA, dict[str, Any]]:
    """The trained model of checkpoint ``ckpt`` and its ``checkpoint.json``."""
    info = read_info(ckpt)
    cls = registry.vlas.load(info["vla"])
    return cls.load(Path(ckpt)), info


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
