"""Centred kernel alignment (linear CKA) and the n×n oracle of D_LR (for tests)."""
from __future__ import annotations

import torch

from .linalg import ArrayLike, RANK_RTOL, as_matrix
from .errors import InputError


def low_rank_measure_explicit(phi: ArrayLike, outputs: ArrayLike, a1: float = 1.0,
                              a2: float = 1.0) -> float:
    """D_LR from the n×n kernels, for tests: T_MP = a1·11ᵀ/n + a2·P_Ĥ with Ĥ the span of the
    centred outputs, and linear CKA with the centring H = I − 11ᵀ/n. O(n²) memory."""
    X = as_matrix(phi, "phi")
    F = as_matrix(outputs, "outputs", n=X.shape[0], allow_1d=True)
    n = X.shape[0]
    H = torch.eye(n, dtype=torch.float64) - 1.0 / n
    U, s, _ = torch.linalg.svd(H @ F, full_matrices=False)
    Q = U[:, s > RANK_RTOL * s.max()]
    T_mp = a1 * torch.ones(n, n, dtype=torch.float64) / n + a2 * (Q @ Q.T)
    return 1.0 - cka_kernels(X @ X.T, T_mp)


def cka_kernels(K: ArrayLike, L: ArrayLike) -> float:
    """Linear CKA of two n×n kernels: ⟨HKH, HLH⟩_F / (‖HKH‖_F ‖HLH‖_F), H = I − 11ᵀ/n."""
    K, L = torch.as_tensor(K, dtype=torch.float64), torch.as_tensor(L, dtype=torch.float64)
    n = K.shape[0]
    H = torch.eye(n, dtype=torch.float64, device=K.device) - 1.0 / n
    Kc, Lc = H @ K @ H, H @ L @ H
    return float((Kc * Lc).sum() / (torch.linalg.matrix_norm(Kc) * torch.linalg.matrix_norm(Lc)))


def linear_cka(phi_a: ArrayLike, phi_b: ArrayLike, norm_a: float | None = None,
               norm_b: float | None = None) -> float:
    """Linear CKA between the kernels of two feature maps on the same n samples (p×p form).
    S_init = linear_cka(Φ_t, Φ_0). ``norm_a``/``norm_b``: ‖AcᵀAc‖_F, ‖BcᵀBc‖_F when already
    known."""
    A = as_matrix(phi_a, "phi_a")
    B = as_matrix(phi_b, "phi_b", n=A.shape[0], device=A.device)
    A, B = A - A.mean(0), B - B.mean(0)
    num = torch.linalg.matrix_norm(A.T @ B) ** 2
    na = torch.linalg.matrix_norm(A.T @ A) if norm_a is None else norm_a
    nb = torch.linalg.matrix_norm(B.T @ B) if norm_b is None else norm_b
    den = na * nb
    if den <= 0:
        raise InputError("a feature map is constant over the sample: CKA is undefined")
    return float(num / den)
