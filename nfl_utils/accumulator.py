"""The streaming half of the spectral core: :class:`SpectralAccumulator` keeps the moments of Φ
(and of targets and outputs) batch by batch, never Φ itself; :meth:`SpectralAccumulator.diagonalize`
turns them into a :class:`~nfl_utils.spectrum.Spectrum` (definitions: docs/measures.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .errors import InputError
from .linalg import (RANK_RTOL, ArrayKind, ArrayLike, as_matrix, eig_desc, eigh, eigvals_desc,
                     one_hot_labels, syrk_, warn_few)
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    from .spectrum import Spectrum

def _owns(phi: torch.Tensor, given) -> bool:
    """Whether ``phi`` (as_matrix of ``given``) is a copy this module made, so in-place work cannot
    touch the caller's data. Proven only for tensors and ndarrays whose memory ``phi`` does not
    start at; anything else (a DataFrame, a memoryview, ...) may be a zero-copy view: not owned."""
    if isinstance(given, torch.Tensor):
        return phi.data_ptr() != given.data_ptr()
    if isinstance(given, np.ndarray):
        return phi.data_ptr() != given.__array_interface__["data"][0]
    return False


@dataclass
class Moments:
    """The moments of one named array F (n, C) with Φ, of the shifted rows φ' = φ − r, f' = f −
    g."""

    PF: torch.Tensor     # (p, C) Σ φ' f'ᵀ
    sF: torch.Tensor     # (C,)   Σ f'
    FF: torch.Tensor     # (C, C) Σ f' f'ᵀ
    g: torch.Tensor      # (C,)   the shift: 0 for (scaled) one-hot targets, else the first row

    @classmethod
    def zeros(cls, p: int, C: int, g: torch.Tensor) -> "Moments":
        z = lambda *shape: torch.zeros(*shape, dtype=torch.float64, device=g.device)
        return cls(z(p, C), z(C), z(C, C), g)

    def __iter__(self):          # PF, sF, FF, g = moments
        return iter((self.PF, self.sF, self.FF, self.g))

    @property
    def width(self) -> int:
        return int(self.sF.shape[0])


class SpectralAccumulator:
    """Streams Φ (and optionally targets f* and outputs f̂) batch by batch.

    Holds only p×p, p×C and C×C moments on the device of the first batch. The moments are of the
    rows *shifted* by a reference row (the first row seen; zero for one-hot targets), so centred
    quantities never subtract two large, nearly equal numbers: features with a large common offset
    keep their centred spectrum to ~1e-12 relative (docs/measures.md).

    >>> acc = SpectralAccumulator()
    >>> for phi_b, y_b, out_b in batches: acc.update(phi_b, y_b, out_b)
    >>> s = acc.diagonalize(); d = acc.low_rank_measure()

    State (all float64, on the device of the first batch; φ' = φ − r, f' = f − g):
      n        rows seen
      _S       (p, p) Σφ'φ'ᵀ (on the CPU only its upper triangle is filled: :meth:`gram` reads it)
      _sphi    (p,)   Σφ'
      _ref     (p,)   r, the reference row
      _stats   name → :class:`Moments` of an array given to :meth:`update` (targets, outputs)
      _heads   name → (W, b) of :meth:`linear_outputs` (their moments follow from Φ's)
      _memo    eigendecompositions, the symmetric Σφ'φ'ᵀ, coefficients and the heads' moments,
               cleared by every update()
    """

    def __init__(self):
        self.n = 0
        self.kind = None
        self._S = self._sphi = self._ref = None
        self._stats: dict[str, Moments] = {}
        self._heads: dict[str, tuple] = {}
        self._memo: dict = {}

    def __repr__(self) -> str:
        arrays = ", ".join([*self._stats,
                            *(f"{k} (head)" for k in self._heads if k not in self._stats)])
        where = "empty" if self.kind is None else f"{self.kind.device}"
        return f"SpectralAccumulator(n={self.n}, p={self.width}, arrays=[{arrays}], {where})"

    @property
    def width(self) -> int | None:
        """p, the features' width (None before the first batch)."""
        return None if self._S is None else int(self._S.shape[0])

    def has(self, name: str) -> bool:
        """Whether ``name`` (targets, outputs, …) was accumulated or given as a linear head."""
        return name in self._stats or name in self._heads

    def update(self, phi: ArrayLike, targets: ArrayLike | dict | None = None,
               outputs: ArrayLike | None = None) -> "SpectralAccumulator":
        """Add a batch: Φ (n, p) and, optionally, targets f* and outputs f̂ (n, C) of the same
        rows."""
        if self.kind is None:
            self.kind = ArrayKind(phi)
        given = {k: v for k, v in (("targets", targets), ("outputs", outputs)) if v is not None}
        self._check_batch(given)
        phi, col = self._shifted(phi)                                    # φ' = φ − r, and Σφ'
        n, p = phi.shape
        dev = self.kind.device
        Fs = {name: as_matrix(F, name, n=n, device=dev, allow_1d=True) for name, F in given.items()}
        if self._S is None:
            self._start(p, Fs)
        for name, F in Fs.items():
            if F.shape[1] != self._stats[name].width:
                raise InputError(f"{name} has {F.shape[1]} columns in this batch but "
                                 f"{self._stats[name].width} before")
        syrk_(self._S, phi)  # upper triangle of Σφ'φ'ᵀ on the CPU (half the flops), full elsewhere
        self._sphi += col
        self._add_cross(phi, Fs)
        self.n += n
        self._memo.clear()
        return self

    def _check_batch(self, given: dict) -> None:
        """The same named arrays as the batches before (the width: :meth:`_shifted`)."""
        if set(given) & set(self._heads):
            raise InputError(f"{sorted(set(given) & set(self._heads))} already come from "
                             "linear_outputs(); "
                             "pass them one way only")
        if self.n and set(given) != set(self._stats):
            raise InputError(f"every batch must give the same arrays; first batch had "
                             f"{sorted(self._stats) or 'phi only'}, this one "
                             f"{sorted(given) or 'phi only'}")

    def _shifted(self, given_phi):
        """(φ − r as float64 on the accumulator's device, its column sums); r is the first row seen.
        In place when as_matrix made a copy (float32 input)."""
        phi = as_matrix(given_phi, "phi", device=self.kind.device, check_finite=False)
        if self._S is not None and phi.shape[1] != self.width:
            raise InputError(f"phi has {phi.shape[1]} columns in this batch but {self.width} "
                             "before")
        ref = self._ref if self._ref is not None else phi[0].clone()
        phi = phi.sub_(ref) if _owns(phi, given_phi) else phi - ref
        # any NaN/inf entry (or in the reference row) makes a column sum non-finite
        col = phi.sum(0)
        if not bool(torch.isfinite(col).all()):
            raise InputError("phi contains NaN or inf values; check the network (diverged "
                             "training, a too-large learning rate) before measuring")
        if self._ref is None:
            self._ref = ref
        return phi, col

    def _start(self, p: int, Fs: dict) -> None:
        """Zero moments at the first batch; an array's shift g is 0 for one-hot targets, else its
        first row."""
        dev = self.kind.device
        self._S = torch.zeros(p, p, dtype=torch.float64, device=dev)
        self._sphi = torch.zeros(p, dtype=torch.float64, device=dev)
        for name, F in Fs.items():
            one_hot = one_hot_labels(F)[0] is not None
            zero = torch.zeros(F.shape[1], dtype=torch.float64, device=dev)
            g = zero if one_hot else F[0].clone()
            self._stats[name] = Moments.zeros(p, F.shape[1], g)

    def _add_cross(self, phi, Fs: dict) -> None:
        """Σφ'f'ᵀ, Σf', Σf'f'ᵀ of each array: (scaled) one-hot targets by class sums and counts
        (FᵀF is diagonal), the dense ones in one product with the stacked arrays."""
        dense = {}
        for name, F in Fs.items():
            m = self._stats[name]
            labels, scale = one_hot_labels(F)
            if labels is None or bool(m.g.any()):
                dense[name] = F - m.g
                continue
            # class sums into a contiguous (C, p) buffer: index_add_ into the transposed view is
            # slow
            m.PF += torch.zeros(F.shape[1], phi.shape[1], dtype=phi.dtype,
                                device=phi.device).index_add_(
                0, labels, phi, alpha=scale).T
            counts = torch.bincount(labels, minlength=F.shape[1]).double() * scale
            m.sF += counts
            m.FF.diagonal().add_(counts * scale)
        if not dense:
            return
        G = torch.cat(list(dense.values()), 1)
        PG, sG = (G.T @ phi).T, G.sum(0)            # GᵀΦ: the faster layout for BLAS
        j = 0
        for name, F in dense.items():
            C, m = F.shape[1], self._stats[name]
            m.PF += PG[:, j:j + C]
            m.sF += sG[j:j + C]
            m.FF.addmm_(F.T, F)
            j += C

    def linear_outputs(self, weight: ArrayLike, bias: ArrayLike | None = None,
                       name: str = "outputs") -> "SpectralAccumulator":
        """Outputs that are a linear map of the features, f = W φ + b (a network's linear head):
        their moments follow exactly from Φ's (with φ' = φ − r: Σφ'f'ᵀ = S Wᵀ, Σf' = W s',
        Σf'f'ᵀ = W S Wᵀ, shift g = W r + b), so no pass over the data and no n×p×C product is
        needed. ``weight`` is (C, p), ``bias`` (C,); setting them again replaces them (the
        eigendecomposition of Φ is kept: a frozen Φ with a changing head costs O(p²C))."""
        self._check()
        if name in self._stats:
            raise InputError(f"{name!r} were given to update(); pass them one way only")
        p = self._S.shape[0]
        W = as_matrix(weight, "weight", device=self.kind.device)
        if W.shape[1] != p:
            raise InputError(f"weight must be (C, p) with p = {p} (the features' width); got "
                             f"{tuple(W.shape)}")
        b = torch.zeros(W.shape[0], dtype=torch.float64, device=W.device) if bias is None else \
            as_matrix(bias, "bias", device=W.device, allow_1d=True)[:, 0]
        if b.shape[0] != W.shape[0]:
            raise InputError(f"bias has {b.shape[0]} entries but weight has {W.shape[0]} rows "
                             "(outputs)")
        self._heads[name] = (W, b)
        self._memo = {
            k: v for k, v in self._memo.items() if not (isinstance(k, tuple) and name in k)
        }
        return self

    def _moments(self, name: str):
        """The :class:`Moments` of an array given to update() or of a linear head."""
        if name in self._stats:
            return self._stats[name]
        if ("moments", name) not in self._memo:
            W, b = self._heads[name]
            PF = self._sym() @ W.T
            self._memo["moments", name] = Moments(PF, W @ self._sphi, W @ PF, W @ self._ref + b)
        return self._memo["moments", name]

    def _names(self) -> list[str]:
        return list(self._stats) + [k for k in self._heads if k not in self._stats]

    # Moments of the data from the shifted ones: with φ' = φ − r, f' = f − g,
    #   ΣφφT = Σφ'φ'ᵀ + r s'ᵀ + s' rᵀ + n r rᵀ, and centred: Σφ'φ'ᵀ − s' s'ᵀ / n.
    def _sym(self) -> torch.Tensor:
        if "sym" not in self._memo:
            self._memo["sym"] = torch.triu(self._S) + torch.triu(self._S, 1).T
        return self._memo["sym"]

    def gram(self, centre: bool = False) -> torch.Tensor:
        """The accumulated ΦᵀΦ (symmetric, p×p), or ΦcᵀΦc with ``centre``."""
        G, s, r, n = self._sym(), self._sphi, self._ref, self.n
        if centre:
            return G - torch.outer(s, s) / n
        return G + torch.outer(r, s) + torch.outer(s, r) + n * torch.outer(r, r)

    def mean(self) -> torch.Tensor:
        return self._ref + self._sphi / self.n

    def cross(self, name: str, centre: bool = False) -> tuple:
        """(ΦᵀF, Fᵀ1, FᵀF) of one accumulated array, or their centred versions (Fᵀ1 then 0)."""
        PF, sF, FF, g = self._moments(name)
        s, r, n = self._sphi, self._ref, self.n
        if centre:
            return PF - torch.outer(s, sF) / n, torch.zeros_like(sF), FF - torch.outer(sF, sF) / n
        P = PF + torch.outer(r, sF) + torch.outer(s, g) + n * torch.outer(r, g)
        FFu = FF + torch.outer(g, sF) + torch.outer(sF, g) + n * torch.outer(g, g)
        return P, sF + n * g, FFu

    def class_moments(self) -> tuple:
        """Class means μ_c (C, p), the global mean (p,) and the within-class covariance Σ_W (p, p),
        from one-hot ``targets`` (class sums and counts): Σ_W = (Σφ'φ'ᵀ − Σ_c n_c μ'_c μ'_cᵀ)/n on
        the shifted rows, so no second pass over the data is needed."""
        self._check()
        if "targets" not in self._stats:
            raise InputError("class moments need one-hot targets: pass targets= to update()")
        PF, counts, _, g = self._stats["targets"]
        if bool(g.any()):
            raise InputError("class moments need one-hot targets; these targets are dense")
        if bool((counts == 0).any()):
            missing = torch.nonzero(counts == 0).flatten().tolist()
            raise InputError(f"classes {missing[:10]} have no samples: neural-collapse statistics "
                             "need every class")
        mu_shift = (PF / counts).T  # (C, p), shifted by the reference row
        within = self._sym() - (mu_shift.T * counts) @ mu_shift
        return mu_shift + self._ref, self.mean(), within / self.n

    def _check(self):
        if self.n == 0:
            raise InputError("no samples: call update() with at least one batch first")

    def diagonalize(self, centre: bool = False) -> "Spectrum":
        """The :class:`~nfl_utils.spectrum.Spectrum` of the accumulated Φ (centred with ``centre``),
        with the quality/utility of every accumulated array and linear head."""
        from .spectrum import Spectrum, coefficients      # (spectrum re-exports this module)

        self._check()
        n, p = self.n, self._S.shape[0]
        if centre not in self._memo:
            M = self.gram(centre) / n
            self._memo[centre] = eig_desc(0.5 * (M + M.T))
        rho, V = self._memo[centre]
        if n <= p:
            warn_few(n, p)
        coef, norms = {}, {}
        for name in self._names():
            key = ("coefficients", centre, name)
            if key not in self._memo:
                P, _, FF = self.cross(name, centre)
                self._memo[key] = (coefficients(V, rho, P / n), torch.trace(FF) / n)
            coef[name], norms[name] = self._memo[key]
        return Spectrum.from_coefficients(rho, V, self.mean() if centre else None, coef, norms, n,
                                          p, centre,
                                           self.kind)

    def eigenvalues(self, centre: bool = False) -> torch.Tensor:
        """ρ_k (descending, float64) alone: those of :meth:`diagonalize` when it has run, else from
        an eigenvalue-only decomposition (no eigenvectors: about half the cost)."""
        self._check()
        if centre in self._memo:
            return self._memo[centre][0]
        if ("values", centre) not in self._memo:
            M = self.gram(centre) / self.n
            self._memo["values", centre] = eigvals_desc(0.5 * (M + M.T))
        return self._memo["values", centre]

    def centred_gram_norm(self) -> float:
        """‖ΦcᵀΦc‖_F (the normaliser of linear CKA), kept until the next update()."""
        self._check()
        if "norm_c" not in self._memo:
            self._memo["norm_c"] = float(torch.linalg.matrix_norm(self.gram(centre=True)))
        return self._memo["norm_c"]

    def low_rank_measure(self) -> float:
        """D_LR of the accumulated Φ against the accumulated outputs (measures.md); NaN stays
        NaN."""
        self._check()
        if "outputs" not in self._names():
            raise InputError("D_LR needs the network outputs: pass outputs= to update() or call "
                             "linear_outputs()")
        Bc, _, Gc = self.cross("outputs", centre=True)         # ΦcᵀFc, FcᵀFc
        w, U = eigh(0.5 * (Gc + Gc.T))
        if w.max() <= 0:
            raise InputError("the outputs are constant over the sample: the span of the centred "
                             "outputs is empty and D_LR is undefined")
        keep = w > (RANK_RTOL ** 2) * w.max()
        X = (Bc @ U[:, keep]) / torch.sqrt(w[keep])            # ΦcᵀQ
        den = self.centred_gram_norm() * math.sqrt(int(keep.sum()))
        if math.isinf(den):
            raise InputError("Φ's Gram matrix overflows float64 (entries beyond ~1e75): divide Φ "
                             "by a constant before measuring (D_LR is scale-invariant), or call "
                             "low_rank_measure(phi, outputs), which does so")
        if den <= 0:
            raise InputError("phi is constant over the sample (zero centred kernel): D_LR is "
                             "undefined")
        d = 1.0 - float((X * X).sum() / den)
        return d if math.isnan(d) else min(1.0, max(0.0, d))
