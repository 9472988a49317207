"""What :func:`nfl_utils.probe.probe` measured: the :class:`Report` (its numbers under plain ASCII
keys, the two spectra, what was skipped and why), a reader's name for each number and its format."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .metrics import SCALAR, SPECTRAL, label  # noqa: F401  (label: a reader's name for a key)
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    from matplotlib.figure import Figure

LABELS = {k: m.label for k, m in {**SPECTRAL, **SCALAR}.items()}   # key → label (from the registry)


def fmt(key: str, v: object) -> str:
    """A report number for text: k90/k*90 that never reach 90% say so; other NaNs are 'n/a'."""
    if isinstance(v, str):
        return v
    if isinstance(v, float) and math.isnan(v):
        return "never (< 0.9)" if key.endswith(("k90", "kstar90")) else "n/a"
    return f"{v:.4g}"


@dataclass
class Report:
    """What :func:`probe` measured. Spectra are :class:`~nfl_utils.spectrum.Spectrum` objects."""
    layer: str
    n: int
    p: int
    num_classes: int | None
    uncentred: object
    centred: object
    numbers: dict
    skipped: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        def arr(s, what):
            v = getattr(s, what)
            return None if v is None else np.asarray(torch.as_tensor(v).cpu()).tolist()
        out = {"layer": self.layer, "n": self.n, "p": self.p, "num_classes": self.num_classes,
               "numbers": {k: (v if isinstance(v, str) or v is None or math.isfinite(v) else str(v))
                           for k, v in self.numbers.items()},
               "skipped": self.skipped, "notes": self.notes}
        for kind, s in (("uncentred", self.uncentred), ("centred", self.centred)):
            names = ("eigenvalues", "cumulative_quality", "cumulative_utility")
            out[kind] = {name: arr(s, name) for name in names}
        return out

    def text(self) -> str:
        lines = [f"Φ = {self.layer} over {self.n} samples, p = {self.p}"
                 + (f", C = {self.num_classes}" if self.num_classes else "")]
        for k, v in self.numbers.items():
            lines.append(f"  {label(k):<28} {fmt(k, v)}")
        lines += [f"  skipped: {s}" for s in self.skipped] + [f"  note: {s}" for s in self.notes]
        return "\n".join(lines)

    def plot(self, title: str | None = None) -> Figure:
        """One figure: the spectrum, Π*(k)/Π(k) (uncentred) and the summary numbers."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [1, 1, 0.8]})
        C = self.num_classes
        for s, ls, lab in ((self.uncentred, "-", "uncentred"), (self.centred, "--", "centred")):
            rho = np.asarray(torch.as_tensor(s.eigenvalues).cpu())
            axes[0].loglog(np.arange(1, len(rho) + 1), rho / rho[0], ls, label=lab)
        axes[0].set(xlabel="k", ylabel=r"$\rho_k/\rho_1$", title="spectrum of Φ")
        for name, lab in (("cumulative_quality", r"$\Pi^*(k)$ (targets)"),
                          ("cumulative_utility", r"$\Pi(k)$ (outputs)")):
            cum = getattr(self.uncentred, name)
            if cum is None:
                continue
            cum = np.asarray(torch.as_tensor(cum).cpu())
            axes[1].semilogx(np.arange(1, len(cum) + 1), cum, label=lab)
        axes[1].set(xlabel="k", ylim=(0, 1.02), title="cumulative quality and utility (uncentred)")
        for ax in axes[:2]:
            if C:
                ax.axvline(C, color="0.5", ls=":", lw=1)
            ax.legend(fontsize="small")
        axes[2].axis("off")
        rows = [[label(k), fmt(k, v)] for k, v in self.numbers.items()]
        if rows:
            axes[2].table(
                cellText=rows, colLabels=["measure", "value"], loc="center", cellLoc="left"
            ).scale(1, 1.25)
        fig.suptitle(title or f"probe: Φ = {self.layer}, n = {self.n}, p = {self.p}")
        fig.tight_layout()
        return fig
