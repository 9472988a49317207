"""Numbers the notebooks quote: regimes by stated criteria, the kernel picture of collapse, and
rebuilding a stored run's network. Every criterion here is ours (the paper's numeric criteria are
not known to us; shared/spec/measures.md) and is stated in the notebooks next to its verdict."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import torch

from .config import Config
from .store import Run

LEVEL = 0.9   # the "90%" of k90 / k*90


def config_of(run: Run) -> Config:
    names = {f.name for f in dataclasses.fields(Config)}
    return Config.from_dict({k: (tuple(v) if k == "checkpoints" else v) for k, v in run.config.items() if k in names})


def load_model(run: Run, data=None, at_init: bool = False, checkpoint: int | None = None):
    """The network of a stored run (CPU, eval mode): trained, as initialised (same seed), or at
    checkpoint index ``checkpoint`` (runs trained with save_models), and its data."""
    from .train import get_data, make_model

    cfg = config_of(run).replace(device="cpu")
    data = data if data is not None else get_data(cfg)
    model = make_model(cfg, data)
    if not at_init:
        model.load_state_dict(run.model_state(checkpoint))
    return model.eval(), data


def fmt_k(v) -> str:
    """k90 / k*90 for text: the count, or 'never' where the curve never reaches 90%."""
    return f"{v:.0f}" if np.isfinite(v) else "never (Π stays < 0.9)"


def top_fraction(eigenvalues: np.ndarray, k: int) -> float:
    """Σ_{j≤k} ρ_j / Σ ρ_j: the share of the kernel's trace in its top k modes."""
    r = eigenvalues[np.isfinite(eigenvalues)]
    return float(r[:k].sum() / r.sum())


def regime_row(name: str, run: Run, C: int, checkpoint: int = -1) -> dict:
    """Several views of 'how many features does this net use' at one checkpoint (train measurement set).

    Criteria [ours], fixed before looking at results:
      quality view  MF if k*90 ≤ C  (top C eigenfunctions express 90% of the target)
      utility view  MF if k90 ≤ C   (the output draws 90% of its norm from the top C)
      trace view    MF if the top C uncentred eigenvalues hold ≥ 90% of the trace
    """
    m = run.metrics.iloc[checkpoint]
    ev = run.arrays["train_u_eigenvalues"][checkpoint]
    kq, ku = m["train_u_kstar90"], m["train_u_k90"]
    tf = top_fraction(ev, C)
    views = {"quality view": bool(np.isfinite(kq) and kq <= C), "utility view": bool(np.isfinite(ku) and ku <= C),
             "trace view": tf >= LEVEL}
    row = {"run": name, "epoch": int(m["epoch"]), "test acc": m["test_acc"], "k*90": kq, "k90": ku,
           "Π*(C)": m["train_u_pistar_C"], "Π(C)": m["train_u_pi_C"], "top-C trace": tf,
           "gap ρC/ρC+1": m["train_u_gap"], "d_eff (centred)": m["train_c_d_eff"], "D_LR": m["train_dlr"]}
    row.update({k: ("MF" if v else "EF") for k, v in views.items()})
    agree = len(set(views.values())) == 1
    row["verdict"] = ("MF" if views["quality view"] else "EF") if agree else "mixed"
    return row


def regime_table(runs: dict, C: int) -> pd.DataFrame:
    return pd.DataFrame([regime_row(n, r, C) for n, r in runs.items()]).set_index("run")


def kernel_statement(run: Run, C: int, checkpoint: int = -1) -> dict:
    """The kernel picture of NC1+NC2, measured: how close the top-C eigenfunctions come to spanning
    the class indicators, and how equal the C−1 centred eigenvalues are (all 1/1/0 at exact collapse)."""
    A, m = run.arrays, run.metrics.iloc[checkpoint]
    evc = A["train_c_eigenvalues"][checkpoint]
    evc = evc[np.isfinite(evc)]
    evu = A["train_u_eigenvalues"][checkpoint]
    return {"Π*(C) uncentred": float(m["train_u_pistar_C"]),
            "Π*(C−1) centred": float(A["train_c_cum_quality"][checkpoint][C - 2]),
            "ρ_C−1/ρ_1 centred (1 = equal)": float(evc[C - 2] / evc[0]),
            "tail share ρ_k>C−1 centred (0 = collapse)": float(evc[C - 1:].sum() / evc.sum()),
            "tail share ρ_k>C uncentred": 1 - top_fraction(evu, C),
            "NC1": float(m["nc1"]), "NC2 equiangular": float(m["nc2_equiangular"]), "D_LR": float(m["train_dlr"])}


def regression_statement(run: Run, checkpoint: int = -1) -> dict:
    """Collapse onto {1, f̂} for a scalar target: Π(2), the correlation of the top centred
    eigenfunction with f̂, the share of the centred trace in that one mode, and D_LR."""
    A, m = run.arrays, run.metrics.iloc[checkpoint]
    evc = A["train_c_eigenvalues"][checkpoint]
    return {"Π(2) uncentred": float(m["train_u_pi_C"]), "Π*(2) uncentred": float(m["train_u_pistar_C"]),
            "|corr(e_1 centred, f̂)|": float(abs(A["ef_output_corr_c"][checkpoint][0])),
            "top-1 share of centred trace": top_fraction(evc, 1), "D_LR": float(m["train_dlr"]),
            "test acc (rounded digit)": float(m["test_acc"])}


@torch.no_grad()
def features_of(model, x, batch=2048):
    return torch.cat([model.features(x[i:i + batch]) for i in range(0, len(x), batch)]).double()
