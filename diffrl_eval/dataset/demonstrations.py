"""Human demonstration datasets given with ``--demos-from``: what makes a dataset one.

The RL experts clone such a dataset, and ``compare`` takes the human source's data from
it; both refuse, in the same words, a dataset of another source or recorded on another
backend.
"""

from __future__ import annotations

from pathlib import Path

from diffrl_eval.dataset.reader import Dataset, load_dataset
from diffrl_eval.errors import DatasetError, UserError

DEMONSTRATION_SOURCE = "human"  # the source a demonstration dataset must be
DEMOS_FROM_FLAG = "--demos-from"


def load_demonstrations(path: str | Path, backend: str) -> Dataset:
    """The dataset at ``path``, checked to hold human demonstrations recorded on
    ``backend`` (a one-line error otherwise)."""
    try:
        dataset = load_dataset(path)
    except DatasetError as exc:
        raise DatasetError(f"{DEMOS_FROM_FLAG}: {exc}") from None
    if dataset.source != DEMONSTRATION_SOURCE:
        raise UserError(
            f"{DEMOS_FROM_FLAG} {path}: a {dataset.source!r} dataset; human demonstrations "
            f"are a {DEMONSTRATION_SOURCE!r} one (written by 'import' or 'generate --source "
            f"{DEMONSTRATION_SOURCE}')"
        )
    if dataset.backend != backend:
        raise UserError(
            f"{DEMOS_FROM_FLAG} {path}: recorded on backend {dataset.backend!r}, not "
            f"{backend!r}; give a dataset of {backend!r}"
        )
    return dataset
