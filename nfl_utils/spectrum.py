"""Diagonalising the forward feature map Φ (definitions: docs/measures.md).

M = ΦᵀΦ / n (p×p, float64) is diagonalised: eigenvalues ρ_k (descending) and eigenvectors v_k;
eigenfunctions e_k(x) = v_kᵀ Φ(x) / √ρ_k are orthonormal on the sample, ⟨u, v⟩ = (1/n) Σ u v.
Everything here is computed from the moments ΦᵀΦ, Φᵀ1, ΦᵀF, Fᵀ1, FᵀF, so a
:class:`SpectralAccumulator` fed batch by batch gives the same numbers as :func:`diagonalize` on
the whole array without ever holding Φ. Inputs may be numpy arrays or torch tensors on any device;
results come back as numpy arrays for numpy input and as float64 tensors on the input's device for
tensor input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .accumulator import Moments, SpectralAccumulator  # noqa: F401  (public API)
from .cka import cka_kernels, linear_cka, low_rank_measure_explicit  # noqa: F401  (public API)
from .linalg import (  # noqa: F401
    EIG_RTOL, RANK_RTOL, ArrayKind, FewSamplesWarning, as_matrix, drop_small, eig_desc, eigh,
    eigvals_desc, one_hot, one_hot_labels, syrk_, warn_few)
from .errors import InputError
from .linalg import ArrayLike


def coefficients(V: torch.Tensor, rho: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """⟨e_k, f_c⟩ = v_kᵀ⟨φ, f_c⟩ / √ρ_k: (r, C) from the cross moments B (p, C)."""
    return (V.T @ B) / torch.sqrt(rho)[:, None]


@dataclass
class Spectrum:
    """Eigen-decomposition of Φ with respect to the empirical measure, plus quality/utility."""

    _rho: torch.Tensor
    _V: torch.Tensor
    _mean: torch.Tensor | None
    _coef: dict          # name -> (r, C) matrix ⟨e_k, f_c⟩
    _norm2: dict         # name -> Σ_c ‖f_c‖²
    n: int
    p: int
    centred: bool
    _kind: ArrayKind

    @classmethod
    def _build(cls, rho, V, mean, cross, norms, n, p, centre, kind):
        """From the cross moments (p, C) ⟨φ, f_c⟩ of each named array."""
        coef = {k: coefficients(V, rho, B) for k, B in cross.items()}
        return cls.from_coefficients(rho, V, mean, coef, norms, n, p, centre, kind)

    @classmethod
    def from_coefficients(cls, rho: torch.Tensor, V: torch.Tensor, mean: torch.Tensor | None,
                          coef: dict, norms: dict, n: int, p: int, centre: bool,
                          kind: ArrayKind) -> Spectrum:
        for k, v in norms.items():
            if v <= 0:
                raise InputError(f"{k} are identically zero{' after centring' if centre else ''}: "
                                 "quality/utility are undefined")
        return cls(rho, V, mean, coef, {k: float(v) for k, v in norms.items()}, n, p, centre, kind)

    # -- spectrum
    @property
    def rank(self) -> int:
        return int(self._rho.numel())

    @property
    def eigenvalues(self) -> ArrayLike:
        return self._kind.out(self._rho)

    @property
    def eigenvectors(self) -> ArrayLike:
        return self._kind.out(self._V)

    def eigenfunctions(self, phi_new: ArrayLike, k: int | None = None) -> ArrayLike:
        """Values e_k(x) on new inputs (Nyström): (Φ(x) − mean) v_k / √ρ_k, shape (m, r), or only
        the top ``k`` eigenfunctions, shape (m, k)."""
        X = as_matrix(phi_new, "phi_new", device=self._V.device)
        if X.shape[1] != self.p:
            raise InputError(f"phi_new has {X.shape[1]} columns; this spectrum has p = {self.p}")
        if self._mean is not None:
            X = X - self._mean
        k = self.rank if k is None else min(k, self.rank)
        return self._kind.out((X @ self._V[:, :k]) / torch.sqrt(self._rho[:k]))

    @property
    def effective_dimension(self) -> float:
        return effective_dimension(self._rho)

    # -- quality / utility
    def coefficients(self, which: str = "outputs") -> ArrayLike | None:
        """The (r, C) matrix ⟨e_k, f_c⟩ for ``which`` in {"targets", "outputs"}."""
        return self._kind.out(self._coef[which]) if which in self._coef else None

    def _q(self, which):
        if which not in self._coef:
            return None
        A = self._coef[which]
        return (A * A).sum(1) / self._norm2[which]

    @property
    def quality(self) -> ArrayLike | None:
        return self._kind.out(self._q("targets"))

    @property
    def utility(self) -> ArrayLike | None:
        return self._kind.out(self._q("outputs"))

    @property
    def cumulative_quality(self) -> ArrayLike | None:
        q = self._q("targets")
        return None if q is None else self._kind.out(torch.cumsum(q, 0))

    @property
    def cumulative_utility(self) -> ArrayLike | None:
        q = self._q("outputs")
        return None if q is None else self._kind.out(torch.cumsum(q, 0))

    def summary(self, num_classes: int | None = None, level: float = 0.9) -> dict:
        """Π(C), Π*(C), k90, k*90, d_eff and the spectral gap, as plain floats.

        C defaults to the number of target (else output) columns. The gap is ρ_C/ρ_{C+1} for
        the uncentred spectrum and ρ_{C−1}/ρ_C for the centred one; inf where the denominator
        mode does not exist. k90 is NaN where Π never reaches ``level``.
        """
        C = num_classes
        if C is None:
            src = self._coef.get("targets", self._coef.get("outputs"))
            C = src.shape[1] if src is not None else 1
        rho = self._rho.cpu().numpy()
        out = {"C": C, "rank": self.rank, "d_eff": self.effective_dimension,
               "rho_1": float(rho[0]), "trace": float(rho.sum())}
        hi, lo = (C - 1, C) if self.centred else (C, C + 1)
        out["gap"] = (
            (float(rho[hi - 1] / rho[lo - 1]) if lo <= len(rho) else math.inf)
            if hi >= 1
            else math.nan
        )
        for key, which in (("pi", "outputs"), ("pistar", "targets")):
            q = self._q(which)
            if q is None:
                continue
            cum = torch.cumsum(q, 0).cpu().numpy()
            out[f"{key}_C"] = float(cum[min(C, len(cum)) - 1])
            out[f"{key}_all"] = float(cum[-1])
            hit = np.nonzero(cum >= level - 1e-12)[0]
            out[f"k{'star' if key == 'pistar' else ''}90"] = (
                float(hit[0] + 1) if len(hit) else math.nan
            )
        return out


def diagonalize(phi: ArrayLike, targets: ArrayLike | None = None, outputs: ArrayLike | None = None,
                centre: bool = False) -> Spectrum:
    """Diagonalise Φ (n, p); ``targets`` f* and ``outputs`` f̂ are (n, C) or 1-D (one column).

    With n > p it diagonalises ΦᵀΦ/n (p×p); with n ≤ p it takes the thin SVD of Φ, whose n
    squared singular values over n are the nonzero eigenvalues of the n×n Gram matrix ΦΦᵀ/n,
    and warns (FewSamplesWarning) that only n modes exist.
    """
    shape = tuple(phi.shape) if hasattr(phi, "shape") else np.shape(phi)
    if len(shape) == 2 and shape[0] > shape[1]:     # n > p: the p×p route (validates phi itself)
        return SpectralAccumulator().update(phi, targets, outputs).diagonalize(centre)
    kind = ArrayKind(phi)
    X = as_matrix(phi, "phi", device=kind.device)
    n, p = X.shape
    mu = X.mean(0)
    if centre:
        X = X - mu
    # SVD of Φ itself: the n×n route without squaring Φ's condition number
    _, sv, Vh = torch.linalg.svd(X, full_matrices=False)
    lam, V = drop_small(sv * sv / n, Vh.T)
    warn_few(n, p)
    cross, norms = {}, {}
    for name, F in (("targets", targets), ("outputs", outputs)):
        if F is None:
            continue
        F = as_matrix(F, name, n=n, device=kind.device, allow_1d=True)
        if centre:
            F = F - F.mean(0)
        cross[name], norms[name] = X.T @ F / n, (F * F).sum() / n
    return Spectrum._build(lam, V, mu if centre else None, cross, norms, n, p, centre, kind)


def effective_dimension(eigenvalues: ArrayLike) -> float:
    """exp of the Shannon entropy of ρ_k / Σρ."""
    rho = torch.as_tensor(eigenvalues, dtype=torch.float64)
    rho = rho[rho > 0]
    pk = rho / rho.sum()
    return float(torch.exp(-(pk * torch.log(pk)).sum()))


def low_rank_measure(phi: ArrayLike, outputs: ArrayLike) -> float:
    """D_LR = 1 − CKA(T, T_MP) ∈ [0, 1] (0 richest, 1 laziest), fast p×p form."""
    return SpectralAccumulator().update(_in_range(phi), outputs=outputs).low_rank_measure()


def _in_range(phi, lo: int = -100, hi: int = 100):
    """Φ·2^−k (a new array) when max|Φ| lies outside [2^lo, 2^hi], else Φ itself. D_LR is
    scale-invariant, and a power of two scales every float exactly: in range, nothing changes; out
    of it, Φ's Gram neither overflows (|Φ| > ~1e77) nor loses its digits to underflow."""
    t = as_matrix(phi, "phi")
    top = float(t.abs().max())
    if top == 0 or 2.0 ** lo <= top <= 2.0 ** hi:
        return phi
    return t * 2.0 ** -math.frexp(top)[1]
