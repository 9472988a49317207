"""Small linear-algebra helpers shared by the spectral code: input checking and conversion
(numpy or torch in, the same kind out), symmetric rank-k updates, descending eigendecompositions."""
from __future__ import annotations

import warnings
from typing import Union

import numpy as np
import torch
from scipy.linalg import eigh as scipy_eigh
from scipy.linalg.blas import dsyrk
from .errors import InputError

ArrayLike = Union[torch.Tensor, np.ndarray]   # what the measures accept (lists too, via numpy)

EIG_RTOL = 1e-10    # modes with ρ_k < EIG_RTOL·ρ_1 are dropped (measures.md)
RANK_RTOL = 1e-6  # singular values of the centred outputs below RANK_RTOL·s_max are dropped [ours]:
#                     the streaming form sees only FᵀF, whose eigenvalues are s², so 1e-6 on s is
#                     1e-12 on s², well above float64 round-off.


class FewSamplesWarning(UserWarning):
    """n ≤ p: only n (nonzero) modes exist."""


def one_hot(labels: ArrayLike, num_classes: int, scale: float = 1.0) -> ArrayLike:
    """One-hot targets (n, C) times ``scale``, as float64 of the same kind as ``labels``."""
    if isinstance(labels, torch.Tensor):
        return torch.nn.functional.one_hot(labels.long(), num_classes).double() * scale
    return np.eye(num_classes)[np.asarray(labels)] * scale


class ArrayKind:
    """Remembers whether the caller used numpy or torch (and which device)."""

    def __init__(self, x: ArrayLike | list) -> None:
        self.numpy = not isinstance(x, torch.Tensor)
        self.device = torch.device("cpu") if self.numpy else x.device

    def out(self, t: torch.Tensor | None) -> ArrayLike | None:
        if t is None:
            return None
        return t.detach().cpu().numpy() if self.numpy else t


def as_matrix(x: ArrayLike | list, name: str, n: int | None = None,
              device: torch.device | str | None=None, allow_1d: bool = False,
            check_finite: bool = True) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        with warnings.catch_warnings():     # a read-only array is only read: nothing writes into it
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            t = torch.from_numpy(np.asarray(x))
    if t.is_complex():
        raise InputError(f"{name} is complex ({t.dtype}); the measures take real values")
    if device is not None:
        t = t.to(device)
    if t.ndim == 1 and allow_1d:
        if not (t.is_floating_point() or t.dtype == torch.bool):
            raise InputError(f"{name} is a 1-D vector of integers: class labels? Pass "
                             f"one_hot(labels, C) (nfl_utils.linalg.one_hot) for C classes, or "
                             f"floats (labels.float()) for one regression column")
        t = t[:, None]
    if t.ndim != 2:
        hint = " (a single column is written x[:, None])" if t.ndim == 1 else ""
        raise InputError(f"{name} must be a 2-D array (n, columns); got shape "
                         f"{tuple(t.shape)}{hint}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {tuple(t.shape)}): need at least "
                         "one row and column")
    if n is not None and t.shape[0] != n:
        raise InputError(f"{name} has {t.shape[0]} rows but phi has {n}: pass the same samples")
    t = t.to(torch.float64)        # first: a float16 column sum can overflow where float64 does not
    if check_finite and not bool(torch.isfinite(t.sum(0)).all()):
        raise InputError(f"{name} contains NaN or inf values; check the network (diverged "
                         "training, a too-large learning rate) before measuring")
    return t


def one_hot_labels(F: torch.Tensor) -> tuple[torch.Tensor | None, float | None]:
    """(labels, α) when every row of F is α times a one-hot vector, else (None, None). O(nC)."""
    if F.shape[1] < 2:
        return None, None
    labels = F.argmax(1)
    alpha = float(F[0, labels[0]])
    if alpha <= 0:
        return None, None
    hot = torch.zeros_like(F).scatter_(1, labels[:, None], alpha)
    if not torch.equal(hot, F):
        return None, None
    return labels, alpha


def syrk_(S: torch.Tensor, X: torch.Tensor) -> None:
    """S += upper triangle of XᵀX. On the CPU through BLAS dsyrk, in place (half a GEMM's flops);
    elsewhere a plain GEMM (the lower triangle is then filled too, and ignored)."""
    if S.device.type == "cpu":
        c = S.numpy().T  # Fortran-ordered view: upper(c) = lower(S)ᵀ
        out = dsyrk(1.0, X.contiguous().numpy().T, beta=1.0, c=c, trans=0, lower=1, overwrite_c=1)
        if not np.shares_memory(out, c):                 # BLAS made a copy: add it back
            c[...] = out
    else:
        S.addmm_(X.T, X)


def eigh(M: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (ascending) and eigenvectors of the symmetric float64 matrix M (lower triangle
    read). On the CPU through SciPy's LAPACK ``syevd`` (divide and conquer, the algorithm
    torch.linalg.eigh uses too): 2-3x faster here at p = 512 than torch's build."""
    if M.device.type != "cpu":
        return torch.linalg.eigh(M)
    w, v = scipy_eigh(M.detach().numpy(), driver="evd", check_finite=False)
    return torch.from_numpy(w), torch.from_numpy(v)


def eigvals_desc(M: torch.Tensor) -> torch.Tensor:
    """The eigenvalues of :func:`eig_desc` without its eigenvectors (about 2× faster at p = 512)."""
    if M.device.type != "cpu":
        w = torch.linalg.eigvalsh(M)
    else:
        w = torch.from_numpy(scipy_eigh(M.detach().numpy(), eigvals_only=True, driver="evd",
                                        check_finite=False))
    w = w.flip(0)
    return drop_small(w, None)[0]


def eig_desc(M: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    evals, evecs = eigh(M)
    return drop_small(evals.flip(0), evecs.flip(1))


def drop_small(evals: torch.Tensor, evecs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if evals.numel() == 0 or evals[0] <= 0:
        raise InputError("phi is identically zero (after centring, if asked): it has no modes. "
                         "Check for dead units or a constant feature map.")
    keep = evals > EIG_RTOL * evals[0]
    if bool(keep.all()):
        return evals, evecs
    return evals[keep], (None if evecs is None else evecs[:, keep])


def warn_few(n: int, p: int) -> None:
    warnings.warn(f"n = {n} samples ≤ p = {p} features: only n modes exist (the n×n route is "
                  "exact for them). Measure on more samples than features to see the whole "
                  "spectrum.", FewSamplesWarning, stacklevel=3)
