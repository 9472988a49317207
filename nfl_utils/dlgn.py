"""The Deep Linearly Gated Network (DLGN) of *Half-Space Feature Learning in Neural Networks*
(arXiv 2404.04312); definitions in docs/measures.md (DLGN section).

Gating network (deep linear, no biases): η^ℓ = W^ℓ η^{ℓ−1} = V^ℓ x with V^ℓ = W^ℓ⋯W^1; in the SF
variant each V^ℓ is a free d×m matrix. Gates: soft σ(β η^ℓ) in training, hard 1[η^ℓ ≥ 0] for
analysis. Value network: h^1 = G^1 ∘ (U^1 z), h^ℓ = G^ℓ ∘ (U^ℓ h^{ℓ−1}), ŷ = U^{L+1} h^L, no
biases, with z = 1 ("pwc") or z = x. ``features`` returns h^L and ``head`` is U^{L+1}, so every
spectral measure of the companion applies.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .cka import cka_kernels
from .errors import InputError


class DLGNFeatures(nn.Module):
    def __init__(self, d: int, width: int, depth: int, beta: float = 30.0, value_input: str = "pwc",
                 sf: bool = False):
        super().__init__()
        if value_input not in ("pwc", "x"):
            raise InputError(f"value_input must be 'pwc' or 'x', got {value_input!r}")
        self.d, self.width, self.depth, self.beta, self.value_input, self.sf = (
            d,
            width,
            depth,
            beta,
            value_input,
            sf,
        )
        self.hard = False   # True: hard gates 1[η ≥ 0] in forward (analysis)
        self.gates = nn.ModuleList(
            nn.Linear(d if (l == 0 or sf) else width, width, bias=False) for l in range(depth)
        )
        z = 1 if value_input == "pwc" else d
        self.values = nn.ModuleList(
            nn.Linear(z if l == 0 else width, width, bias=False) for l in range(depth)
        )
        if not sf:   # keep the deep linear gating pre-activations O(1) at every depth
            for g in self.gates[1:]:
                nn.init.normal_(g.weight, std=1.0 / math.sqrt(width))

    def gate_preactivations(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = x.flatten(1)
        eta, out = x, []
        for g in self.gates:
            eta = g(x if self.sf else eta)
            out.append(eta)
        return out

    def gate_values(self, x: torch.Tensor, hard: bool | None = None) -> list[torch.Tensor]:
        hard = self.hard if hard is None else hard
        return [
            (e >= 0).to(e.dtype) if hard else torch.sigmoid(self.beta * e)
            for e in self.gate_preactivations(x)
        ]

    def forward(self, x: torch.Tensor, hard: bool | None = None) -> torch.Tensor:
        G = self.gate_values(x, hard)
        x = x.flatten(1)
        h = (
            torch.ones(len(x), 1, dtype=x.dtype, device=x.device)
            if self.value_input == "pwc"
            else x
        )
        for g, v in zip(G, self.values):
            h = g * v(h)
        return h

    @torch.no_grad()
    def hyperplanes(self) -> list[torch.Tensor]:
        """Effective hyperplanes V^ℓ (width × d) of every layer: gate ℓ fires where V^ℓ x ≥ 0."""
        out, V = [], None
        for g in self.gates:
            V = g.weight.clone() if (self.sf or V is None) else g.weight @ V
            out.append(V)
        return out

    @torch.no_grad()
    def overlap_kernel(self, x: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
        """K(x, x') = Σ_π f_π(x) f_π(x') = Π_ℓ ⟨G^ℓ(x), G^ℓ(x')⟩ with hard gates (exact
        identity)."""
        A = self.gate_values(x, hard=True)
        B = A if x2 is None else self.gate_values(x2, hard=True)
        K = torch.ones(len(A[0]), len(B[0]), dtype=A[0].dtype, device=A[0].device)
        for a, b in zip(A, B):
            K = K * (a @ b.T)
        return K


def dlgn(input_shape: tuple[int, ...], num_outputs: int, width: int = 16, depth: int = 4,
         beta: float = 30.0, value_input: str = "pwc", sf: bool = False) -> torch.nn.Module:
    d = math.prod(input_shape)
    return DLGNFeatures(d, width, depth, beta, value_input, sf), nn.Linear(
        width, num_outputs, bias=False
    )


def path_indicators(feats: DLGNFeatures, x: torch.Tensor) -> torch.Tensor:
    """f_π(x) for every path π = (i_1, …, i_L) (hard gates), shape (n, width^L). Exponential: small
    m, L only."""
    G = feats.gate_values(x, hard=True)
    out = G[0]
    for g in G[1:]:
        out = (out[:, :, None] * g[:, None, :]).flatten(1)
    return out


def path_weights(feats: DLGNFeatures, head: nn.Linear) -> torch.Tensor:
    """g_π for every path and output (pwc value input): U^{L+1}[c, i_L] ∏_ℓ U^ℓ[i_ℓ, i_{ℓ−1}] ·
    U^1[i_1], shape (C, width^L)."""
    if feats.value_input != "pwc":
        raise InputError("path weights are defined here for the 'pwc' value input (z = 1)")
    m = feats.width
    w = feats.values[0].weight[:, 0]                          # (m,) = U^1 · 1, indexed by i_1
    for v in feats.values[1:]:                                # extend every path by one unit
        # [.., i_{ℓ-1}] × U^ℓ[i_ℓ, i_{ℓ-1}]
        w = (w.view(-1, m)[:, :, None] * v.weight.T[None]).flatten()
    L = feats.depth
    return w[None, :] * head.weight[:, torch.arange(m ** L) % m]   # head: (C, m), indexed by i_L


# ----------------------------------------------------------------------------- analysis [ours]
def normalised_rows(V: torch.Tensor) -> torch.Tensor:
    return V / V.norm(dim=1, keepdim=True).clamp_min(1e-12)


def cluster_count(V: torch.Tensor, min_cos: float = 0.95) -> int:
    """Greedy leader clustering of the hyperplane normals (rows of V) by cosine similarity: a row
    joins the first cluster whose leader it matches with cos ≥ min_cos. Orientation matters (V and
    −V are different half-spaces). A simple stand-in for the sibling paper's DBSCAN."""
    R = normalised_rows(V.double())
    leaders: list[torch.Tensor] = []
    for r in R:
        if not any(float(r @ l) >= min_cos for l in leaders):
            leaders.append(r)
    return len(leaders)


def stable_rank(V: torch.Tensor) -> float:
    """‖R‖_F² / ‖R‖_2² of the row-normalised V: ≈ number of distinct directions."""
    R = normalised_rows(V.double())
    return float((R * R).sum() / torch.linalg.matrix_norm(R, ord=2) ** 2)


def centred_alignment(K: torch.Tensor, y: torch.Tensor) -> float:
    """Kernel–target alignment, centred: CKA between K and yyᵀ (y = ±1)."""
    s = (2.0 * y.double() - 1.0)[:, None]
    return cka_kernels(K.double(), s @ s.T)


def transplant_gates(model: nn.Module, state: dict) -> None:
    """Copy the gating network of a stored run's weights ``state`` into ``model`` (the ablation
    "frozen learned gates + fresh values")."""
    prefix = "features.gates."
    gates = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not gates:
        raise InputError("the source run has no DLGN gating network (no 'features.gates.*' "
                         "weights)")
    model.features.gates.load_state_dict(gates)
