"""Training hyper-parameters as the core sees them: a VLA's own dictionary, its hash, the file.

The paper's comparison only holds when every data source trains the same VLA with the
same hyper-parameters. One hparams file (JSON) therefore drives every training run of a
comparison; its hash (of the complete, canonical dictionary after the VLA filled in its
defaults, :meth:`~diffrl_eval.vla.interface.VLA.resolve_hparams`) is written into every
checkpoint and result, and results with different hashes are never aggregated or
tabulated together. Which keys exist, and which presets, is the VLA's own business.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from diffrl_eval.documents import JSON_OBJECT
from diffrl_eval.validation import JsonMessages, read_versioned_json

PRESET_KEY = "preset"  # an hparams file may name one of the VLA's presets as its start
HASH_PREFIX = "sha256:"
_MESSAGES = JsonMessages(missing="hparams file not found: {path}",
                         unreadable="hparams file {path}",
                         wrong_kind="{path}: an hparams file holds a JSON object",
                         wrong_version="", missing_keys="")


def read_hparams_file(path: str | Path) -> dict[str, Any]:
    """The JSON object of the hparams file ``path`` (not yet completed by a VLA)."""
    return read_versioned_json(path, JSON_OBJECT, _MESSAGES)


def hparams_hash(h: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``h`` (sorted keys, no whitespace)."""
    canonical = json.dumps(h, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return HASH_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
