"""Which torch device a command trains or evaluates on: ``--device cpu|cuda|mps|auto``.

``auto`` takes CUDA when torch sees a GPU, else Apple's MPS, else the CPU. Asking for a
device this machine does not have is a one-line error before any work starts, never a
silent fall-back to the CPU: a run that was meant to use a GPU and quietly did not would
take hours longer than planned.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from diffrl_eval.errors import UserError, unknown_choice

DEVICES = ("cpu", "cuda", "mps", "auto")
DEFAULT_DEVICE = "cpu"


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _has_mps() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> str:
    """The torch device for ``--device name``: "cpu", "cuda" or "mps" ("auto" picks)."""
    if name not in DEVICES:
        raise unknown_choice("--device", name, DEVICES)
    if name == "auto":
        return "cuda" if _has_cuda() else "mps" if _has_mps() else "cpu"
    if name == "cuda" and not _has_cuda():
        raise UserError("--device cuda: torch sees no CUDA GPU on this machine (torch "
                        "built without CUDA, or no driver); use --device cpu or auto")
    if name == "mps" and not _has_mps():
        raise UserError("--device mps: Apple's MPS backend is not available on this "
                        "machine; use --device cpu or auto")
    return name


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block on ``threads`` torch intra-op threads (``None``: leave the count as it
    is), then restore the count the process had."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
