"""Measure the features of any training loop as it runs: D_LR, the spectral gap, Π*(C), Π(C),
k90, d_eff and NC1–NC3, for the penultimate features or for every layer named, in one pass.

    tracker = Tracker(model, measure_loader, layers=["layer1", "layer2", "fc"])
    for step in range(steps):
        ...                                   # the user's own training step
        if step % 100 == 0:
            tracker.measure(step)             # the model is left exactly as it was
    tracker.history                           # one row per step × layer (a pandas DataFrame)
    tracker.plot()

The numbers are :func:`nfl_utils.probe.probe`'s (the same streaming accumulator). Feature maps that
are not (n, p) are averaged over their positions (``reduce="pool"``, the default here: a
convolutional map (n, c, h, w) becomes (n, c), a sequence (n, t, d) becomes (n, d)); the report's
notes say so. With ``log_dir`` every measurement is appended to ``log_dir/track.csv`` (a restarted
run appends, never duplicating a step) and, when ``tensorboard`` is installed, written as scalars.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import torch

from .batches import Grab
from .probe import report_from, stream
from .errors import InputError
from typing import TYPE_CHECKING, Iterable
if TYPE_CHECKING:                 # names used in annotations only
    from matplotlib.figure import Figure

COLUMNS = ("dlr", "u_gap", "u_pistar_C", "u_pi_C", "u_k90", "u_d_eff", "c_d_eff", "nc1",
           "nc2_equiangular")


class Tracker:
    """Measures ``model`` over ``loader`` (a fixed measurement set: a list of batches or a
    DataLoader) whenever :meth:`measure` is called; ``every`` skips steps that are not multiples."""

    def __init__(self, model: torch.nn.Module, loader: Iterable,
                 layers: str | list[str] | None = None, num_classes: int | None = None,
                 every: int = 1, log_dir: str | Path | None = None, reduce: str = "pool",
                 device: torch.device | str | None = None):
        if isinstance(loader, (map, filter)) or hasattr(loader, "__next__"):
            raise InputError("the tracker reads its loader at every measurement: give a list of "
                             "batches or a DataLoader, not a generator")
        self.model, self.loader, self.num_classes, self.every = (
            model,
            loader,
            num_classes,
            max(1, every),
        )
        self.layers = [layers] if isinstance(layers, str) else list(layers) if layers else [None]
        self.reduce, self.device, self.notes = reduce, device, []
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.rows: list[dict] = []
        self._writer = None
        if self.log_dir is not None and (self.log_dir / "track.csv").exists():
            self.rows = pd.read_csv(self.log_dir / "track.csv").to_dict("records")   # a restart
        Grab(model, self.layers[0]).close()  # a wrong layer name fails here, listing candidates
        for name in self.layers[1:]:
            Grab(model, name).close()

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    def measure(self, step: int) -> pd.DataFrame | None:
        """Measure the model as it is now; the rows of this step (None for a skipped step)."""
        if step % self.every:
            return None
        done = [r for r in self.rows if r["step"] == step]
        if done:
            return pd.DataFrame(done)            # measured before a restart: never twice
        rows = [{"step": step, "layer": name, **_ascii(rep.numbers), "n": rep.n, "p": rep.p}
                for name, rep in self._reports(centred=False).items()]
        self.rows += rows
        self._log(rows)
        return pd.DataFrame(rows)

    def reports(self) -> dict:
        """{layer: Report} of the model as it is now, all layers from one pass over the loader.
        The model is left as it was found: modes per module, hooks removed (also on an error)."""
        return self._reports(centred=True)

    def _reports(self, centred: bool) -> dict:
        """:meth:`reports`; ``centred`` False (what :meth:`measure` records): of the centred
        spectrum only d_eff, from eigenvalues alone (one p×p eigenvector decomposition fewer)."""
        model = self.model
        modes = {m: m.training for m in model.modules()}
        grabs, heads = {}, {}
        try:
            for name in self.layers:
                g = Grab(model, name)
                label = name if name is not None else f"penultimate (input of {g.name})"
                grabs[label] = g
                if name is None:                      # the head reads these features: NC3 too
                    heads[label] = dict(model.named_modules())[g.name]
            model.eval()
            dev = torch.device(self.device) if self.device else next(model.parameters()).device
            st = stream(model, self.loader, grabs, None, self.reduce, self.num_classes, dev,
                        self.notes)
            C = st.num_classes if st.labelled else None
            return {name: report_from(acc, name, C, heads.get(name), self.notes, [], centred)[0]
                    for name, acc in st.accs.items()}
        finally:
            for g in grabs.values():
                g.close()
            for m, mode in modes.items():
                m.train(mode)

    def _log(self, rows: list[dict]) -> None:
        if self.log_dir is None:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        f = self.log_dir / "track.csv"
        pd.DataFrame(self.rows).to_csv(f.with_suffix(".tmp"), index=False)
        f.with_suffix(".tmp").replace(f)                  # whole or not at all
        writer = self._tensorboard()
        for r in rows if writer is not None else []:
            for k in COLUMNS:
                v = r.get(k)
                if isinstance(v, float) and math.isfinite(v):
                    writer.add_scalar(f"{r['layer']}/{k}", v, r["step"])
            writer.flush()

    def _tensorboard(self):
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:                           # tensorboard not installed: the CSV only
                self._writer = False
                return None
            self._writer = SummaryWriter(str(self.log_dir))
        return self._writer or None

    def plot(self, columns: tuple[str, ...] = ("dlr", "u_gap", "c_d_eff", "nc1")) -> Figure:
        """The metrics against step, one panel per metric, one line per layer."""
        import matplotlib.pyplot as plt

        h = self.history
        fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 3.4), squeeze=False)
        for ax, col in zip(axes[0], columns):
            for name, g in h.groupby("layer", sort=False):
                if col in g:
                    ax.plot(g["step"], g[col], "o-", ms=3, label=str(name))
            ax.set(xlabel="step", title=col, yscale="log" if col in ("u_gap", "nc1") else "linear")
        axes[0][0].legend(fontsize="small")
        fig.tight_layout()
        return fig


def _ascii(numbers: dict) -> dict:
    """The report's numbers under plain ASCII column names (the regime verdict stays a string)."""
    return {k: v for k, v in numbers.items() if k.isascii()}
