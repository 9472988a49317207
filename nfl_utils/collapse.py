"""Neural-collapse metrics (Papyan, Han & Donoho 2020), as defined in docs/measures.md.

All take features ``phi`` (n, p) and integer ``labels`` (n,) with every class 0..C-1 present,
as numpy arrays or torch tensors, and return plain floats computed in float64.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .linalg import ArrayLike, as_matrix
from .errors import InputError


def _labels(labels: ArrayLike, n: int,
            device: torch.device) -> tuple[torch.Tensor, int, torch.Tensor]:
    y = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise InputError(f"labels must be 1-D with one entry per row of phi ({n}); got "
                         f"{tuple(y.shape)}")
    if y.is_floating_point():
        raise InputError("labels must be integer class indices 0..C-1")
    y = y.long().to(device)
    C = int(y.max()) + 1
    counts = torch.bincount(y, minlength=C)
    if C < 2 or bool((counts == 0).any()) or int(y.min()) < 0:
        raise InputError(f"neural-collapse metrics need at least 2 classes, each present; "
                         f"class counts are {counts.tolist()}")
    return y, C, counts


def class_means(phi: ArrayLike, labels: ArrayLike) -> tuple:
    """(μ_c as rows (C, p), global mean μ_G (p,), labels tensor, C)."""
    X = as_matrix(phi, "phi")
    y, C, counts = _labels(labels, X.shape[0], X.device)
    sums = torch.zeros(C, X.shape[1], dtype=torch.float64, device=X.device).index_add_(0, y, X)
    return sums / counts[:, None], X.mean(0), X, y, C


def nc1(phi: ArrayLike | None, labels: ArrayLike | None, _stats: tuple | None = None) -> float:
    """tr(Σ_W Σ_B⁺)/C: within-class variability relative to the between-class spread."""
    mu, mu_g, X, y, C = _stats or class_means(phi, labels)
    # Rows shifted by μ_G first: a common offset of the features cancels before any product, and
    # the class means of the shifted rows are the centred means μ_c − μ_G to full precision.
    Xs = X - mu_g                                                        # (n, p)
    counts = torch.bincount(y, minlength=C).to(Xs.dtype)
    Mc = torch.zeros_like(mu).index_add_(0, y, Xs) / counts[:, None]     # (C, p): μ_c − μ_G
    Uk, sk = between_class_basis(Mc, C)
    Z = Xs @ Uk - (Mc @ Uk)[y]  # within-class deviations on range(Σ_B), (n, ≤ C−1)
    return float(((Z * Z).mean(0) / sk ** 2).sum() / C)


def between_class_basis(Mc: torch.Tensor, C: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(U_k (p, k), s_k (k,)): an orthonormal basis of range(Σ_B) and the singular values of
    Mcᵀ/√C there, Σ_B = Mcᵀ Mc / C from the centred class means Mc = μ_c − μ_G (C, p). NC1 =
    Σ_k u_kᵀ Σ_W u_k / s_k² / C is tr(Σ_W Σ_B⁺)/C on that range (both forms below use this)."""
    U, s, _ = torch.linalg.svd(Mc.T / math.sqrt(C), full_matrices=False)
    if s.max() <= 0:
        raise InputError("all class means coincide: Σ_B = 0 and NC1 is undefined")
    # Σ_c n_c (μ_c − μ_G) = 0, so rank Σ_B ≤ C − 1: a C-th singular value is rounding, never kept
    keep = (s > 1e-10 * s.max()) & (torch.arange(len(s), device=s.device) < C - 1)
    return U[:, keep], s[keep]


def nc2_equinorm(phi: ArrayLike | None, labels: ArrayLike | None,
                 _stats: tuple | None = None) -> float:
    """std_c ‖μ_c − μ_G‖ / mean_c ‖μ_c − μ_G‖ (0 when the centred means have equal norms)."""
    mu, mu_g, *_ = _stats or class_means(phi, labels)
    norms = torch.linalg.vector_norm(mu - mu_g, dim=1)
    return float(norms.std(unbiased=False) / norms.mean())


def nc2_equiangular(phi: ArrayLike | None, labels: ArrayLike | None,
                    _stats: tuple | None = None) -> float:
    """‖M̃M̃ᵀ/‖M̃M̃ᵀ‖_F − (I − 11ᵀ/C)/√(C−1)‖_F, M̃ the normalised centred means (0 at a simplex
    ETF)."""
    mu, mu_g, *_, C = _stats or class_means(phi, labels)
    Mt = mu - mu_g
    Mt = Mt / torch.linalg.vector_norm(Mt, dim=1, keepdim=True)
    G = Mt @ Mt.T
    etf = (torch.eye(C, dtype=torch.float64, device=G.device) - 1.0 / C) / math.sqrt(C - 1)
    return float(torch.linalg.matrix_norm(G / torch.linalg.matrix_norm(G) - etf))


def nc3(phi: ArrayLike | None, labels: ArrayLike | None, weight: ArrayLike,
        _stats: tuple | None = None) -> float:
    """‖Wᵀ/‖W‖_F − M/‖M‖_F‖_F: self-duality of the head W (C, p) and the centred means M (p, C)."""
    mu, mu_g, X, y, C = _stats or class_means(phi, labels)
    W = as_matrix(weight, "weight", device=X.device)
    if W.shape != (C, X.shape[1]):
        raise InputError(f"weight must be (C, p) = {(C, X.shape[1])}; got {tuple(W.shape)}")
    M = (mu - mu_g).T
    return float(
        torch.linalg.matrix_norm(
            W.T / torch.linalg.matrix_norm(W) - M / torch.linalg.matrix_norm(M)
        )
    )


def nearest_class_mean(phi: ArrayLike, labels: ArrayLike,
                       _stats: tuple | None = None) -> torch.Tensor:
    """The class whose mean μ_c is nearest (Euclidean) to each row of Φ."""
    mu, _, X, *_ = _stats or class_means(phi, labels)
    return ((mu * mu).sum(1) - 2 * (X @ mu.T)).argmin(1)     # ‖x − μ_c‖² − ‖x‖²: an (n, C) product


def nc4(phi: ArrayLike, labels: ArrayLike, outputs: ArrayLike, _stats: tuple | None = None,
        _nearest: torch.Tensor | None = None) -> float:
    """Fraction of samples where the net's argmax disagrees with the nearest-class-mean rule
    (``_nearest``: that rule's classes, when already known)."""
    mu, mu_g, X, y, C = _stats or class_means(phi, labels)
    F = as_matrix(outputs, "outputs", n=X.shape[0], device=X.device)
    ncc = nearest_class_mean(phi, labels, (mu, mu_g, X, y, C)) if _nearest is None else _nearest
    return float((F.argmax(1) != ncc).double().mean())


def all_nc(phi: ArrayLike, labels: ArrayLike, weight: ArrayLike, outputs: ArrayLike) -> dict:
    """NC1–NC4 with the class statistics computed once."""
    st = class_means(phi, labels)
    return {"nc1": nc1(phi, labels, st), "nc2_equinorm": nc2_equinorm(phi, labels, st),
            "nc2_equiangular": nc2_equiangular(phi, labels, st),
            "nc3": nc3(phi, labels, weight, st),
            "nc4": nc4(phi, labels, outputs, st)}


def nc_from_moments(mu: torch.Tensor, mu_g: torch.Tensor, sigma_w: torch.Tensor,
                    weight: torch.Tensor | None = None) -> dict:
    """NC1, NC2 and (given the head W) NC3 from class statistics alone: the class means μ_c (C, p),
    μ_G and Σ_W (p, p), as streamed moments give them
    (:meth:`SpectralAccumulator.class_moments`)."""
    C, p = mu.shape
    Uk, sk = between_class_basis(mu - mu_g, C)
    out = {"nc1": float((torch.diagonal(Uk.T @ sigma_w @ Uk) / sk ** 2).sum() / C)}
    stats = (mu, mu_g, torch.empty(0, p, dtype=torch.float64, device=mu.device), None, C)
    out["nc2_equinorm"] = nc2_equinorm(None, None, _stats=stats)
    out["nc2_equiangular"] = nc2_equiangular(None, None, _stats=stats)
    if weight is not None:
        out["nc3"] = nc3(None, None, weight.detach(), _stats=stats)
    return out
