"""The language-conditioned trunk: residual MLP blocks modulated by the instruction (FiLM).

The instruction embedding sets, in every block, a per-feature scale and shift of the
observation features. The modulation starts as the identity (zero-initialized), so at
the start of training the trunk is a plain observation MLP and learns how the
instruction should change it.

Shape legend: B batch, H hidden width, L language feature width.
"""

from __future__ import annotations

import torch
from torch import nn


class FiLMBlock(nn.Module):
    """x + W2 dropout(gelu((1 + gamma) * W1 norm(x) + beta)), (gamma, beta) from language."""

    def __init__(self, hidden_dim: int, language_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden_dim)
        self.inner = nn.Linear(hidden_dim, hidden_dim)
        self.outer = nn.Linear(hidden_dim, hidden_dim)
        self.film = nn.Linear(language_dim, 2 * hidden_dim)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, language: torch.Tensor,
                index: torch.Tensor) -> torch.Tensor:
        """``x`` (B, H), ``language`` (K, L) features of K instructions, ``index`` (B,)
        each sample's instruction -> (B, H)."""
        gamma, beta = self.film(language)[index].chunk(2, dim=-1)
        h = (1.0 + gamma) * self.inner(self.norm(x)) + beta
        return x + self.outer(self.dropout(nn.functional.gelu(h)))


class FiLMTrunk(nn.Module):
    """Observation features (B, D_obs), language features (K, L) of K instructions and
    each sample's instruction index (B,) -> (B, H)."""

    def __init__(self, observation_dim: int, language_dim: int, hidden_dim: int,
                 blocks: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Linear(observation_dim, hidden_dim)
        self.blocks = nn.ModuleList(
            FiLMBlock(hidden_dim, language_dim, dropout) for _ in range(blocks))
        self.norm = nn.LayerNorm(hidden_dim)

    def forward(self, observation: torch.Tensor, language: torch.Tensor,
                index: torch.Tensor) -> torch.Tensor:
        x = self.embed(observation)
        for block in self.blocks:
            x = block(x, language, index)
        return self.norm(x)
