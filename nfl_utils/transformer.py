"""A small decoder-only transformer for modular addition, split like every other net into a
feature map Φ and a linear head (the unembedding).

Inputs are the rows modular addition already uses, [one-hot a, one-hot b] (2p), read back as the
three tokens ``a b =`` (``=`` is token p). Pre-LN blocks (causal self-attention, then a 4×d GELU
MLP), a final LayerNorm; Φ(x) is the final-norm residual stream at the ``=`` position (d_model),
and the head is the bias-free unembedding d_model → p. This is the grokking transformer of the
literature (Power et al. 2022; Nanda et al. 2023) as v3 of the feature-map paper uses it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from .errors import InputError


class Block(nn.Module):
    """Pre-LN block: h ← h + Attn(LN(h)); h ← h + MLP(LN(h))."""

    def __init__(self, d: int, heads: int, mlp_ratio: int = 4):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(),
                                 nn.Linear(mlp_ratio * d, d))

    def attend(self, h: torch.Tensor) -> torch.Tensor:
        B, T, d = h.shape                                                    # h: (B, T, d)
        q, k, v = self.qkv(h).view(B, T, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, heads, T, d/heads)
        return self.out(y.transpose(1, 2).reshape(B, T, d))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h + self.attend(self.ln1(h))
        return h + self.mlp(self.ln2(h))


class ModAddFeatures(nn.Module):
    """Φ: (B, 2p) one-hot pairs → (B, d) final-norm residual at the ``=`` token."""

    def __init__(self, p: int, d: int, depth: int, heads: int):
        super().__init__()
        if d % heads:
            raise InputError(f"transformer width (d_model) {d} must be a multiple of heads={heads}")
        self.p = p
        self.embed = nn.Embedding(p + 1, d)                  # tokens 0..p-1 and '=' (= p)
        self.pos = nn.Parameter(torch.randn(3, d) * 0.02)    # learned positions of a, b, '='
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(d)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2p) one-hot rows → (B, 3) token ids a, b, '='."""
        a, b = x[:, :self.p].argmax(1), x[:, self.p:].argmax(1)
        return torch.stack([a, b, torch.full_like(a, self.p)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(self.tokens(x)) + self.pos            # (B, 3, d)
        for blk in self.blocks:
            h = blk(h)
        return self.norm(h)[:, -1]                           # (B, d): the answer position


def transformer(input_shape: tuple[int, ...], num_outputs: int, width: int = 128, depth: int = 2,
                heads: int = 4) -> torch.nn.Module:
    """(Φ, head) for modular addition mod p = num_outputs; inputs must be the 2p one-hot rows."""
    if tuple(input_shape) != (2 * num_outputs,):
        raise InputError(f"the transformer reads modular-addition pairs: inputs of shape (2p,) = "
                         f"({2 * num_outputs},), got {tuple(input_shape)}; use dataset='modadd'")
    return ModAddFeatures(num_outputs, width, depth, heads), nn.Linear(
        width, num_outputs, bias=False
    )
