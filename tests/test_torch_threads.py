"""``torch_threads``: the block runs on the asked thread count and the process's count is
restored afterwards, also when the block raises; ``None`` leaves the count alone."""

from __future__ import annotations

import pytest
import torch

from diffrl_eval.device import torch_threads


def test_sets_and_restores_the_thread_count() -> None:
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before


def test_restores_after_an_exception() -> None:
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with pytest.raises(RuntimeError), torch_threads(other):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before


def test_none_keeps_the_count() -> None:
    before = torch.get_num_threads()
    with torch_threads(None):
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before
