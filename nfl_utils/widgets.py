"""Interactive exploration of stored runs (ipywidgets in JupyterLab).

``Explorer()`` lists every finished run in the store; a dropdown picks one, a slider scrubs its
checkpoints, another sets k, a toggle switches uncentred/centred. The figure (spectrum,
Π*(k)/Π(k), class means of the top k eigenfunctions, the most exciting inputs) and the summary
numbers are redrawn from the stored arrays: nothing the store holds is recomputed. Problems (a run
without checkpoints, a deleted run directory) show as a message in the widget, not a traceback.

Headless (papermill, ``NFL_HEADLESS=1``) the same drawing is rendered as a static figure.
"""
from __future__ import annotations

import html
import os
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure

from . import plots
from .store import Run, is_complete, list_runs, load_run


def headless() -> bool:
    return os.environ.get("NFL_HEADLESS") == "1"


def run_label(run: Run) -> str:
    c = run.config
    extra = [f"lr={c['lr']:g}"]
    for key, tag in (("head_only", "head-only"), ("batch_norm", "BN"), ("task", None)):
        v = c.get(key)
        if key == "task" and v == "regress":
            extra.append("regression")
        elif v is True:
            extra.append(tag)
    return f"{c['dataset']} / {c['model']} ({', '.join(extra)}) [{run.hash[:8]}]"


@lru_cache(maxsize=4)
def _data(dataset: str, train_size, seed: int):
    from .data import load_dataset

    return load_dataset(dataset, train_size=train_size, seed=seed)


def draw(run: Run, checkpoint: int, k: int, centre: str = "u", fig=None):
    """Draw one checkpoint of one run; returns (figure, summary dict). Raises ValueError with a
    readable message when the run cannot be shown."""
    if len(run.metrics) == 0 or "epochs" not in run.arrays:
        raise ValueError(f"run {run.hash} has no checkpoints to show")
    n = len(run.arrays["epochs"])
    checkpoint = int(np.clip(checkpoint, 0, n - 1))
    C = run.config.get("num_classes", 10)
    epoch = int(run.arrays["epochs"][checkpoint])
    fig = fig or Figure(figsize=(13, 6.8))
    fig.clf()
    axes = fig.subplots(2, 3)
    ev = run.arrays[f"train_{centre}_eigenvalues"]
    cols = plots.checkpoint_colors(n)
    for i in range(n):
        r = ev[i][np.isfinite(ev[i])]
        axes[0, 0].loglog(np.arange(1, len(r) + 1), r / r[0], color=cols[i], lw=2.4 if i == checkpoint else 0.6,
                          alpha=1.0 if i == checkpoint else 0.35)
    axes[0, 0].axvline(k, color="0.3", ls="--", lw=1)
    axes[0, 0].set(xlabel="k", ylabel=r"$\rho_k/\rho_1$", title="spectrum (bold: this checkpoint)")
    for which, ls, lab in (("quality", "-", "Π*(k) quality"), ("utility", "--", "Π(k) utility")):
        cum = run.arrays[f"train_{centre}_cum_{which}"][checkpoint]
        cum = cum[np.isfinite(cum)]
        axes[0, 1].semilogx(np.arange(1, len(cum) + 1), cum, ls, label=lab)
    axes[0, 1].axvline(k, color="0.3", ls="--", lw=1)
    axes[0, 1].set(xlabel="k", ylabel="cumulative", ylim=(0, 1.02), title="quality and utility")
    axes[0, 1].legend(fontsize="small")
    m = run.metrics
    for col, lab in (("test_acc", "test acc"), ("train_dlr", "D_LR")):
        axes[0, 2].plot(m["epoch"], m[col], "o-", ms=2.5, label=lab)
    axes[0, 2].axvline(epoch, color="0.3", ls="--", lw=1)
    axes[0, 2].set(xlabel="epoch", title="over training (dashed: this checkpoint)")
    axes[0, 2].legend(fontsize="small")
    key = f"ef_class_means_{centre}"
    if key in run.arrays:
        kk = min(k, run.arrays[key].shape[1])
        plots.class_means_panel(axes[1, 0], run, checkpoint, centre, kk, f"E[e_k | class], top {kk}")
    else:
        corr = run.arrays[f"ef_output_corr_{centre}"][checkpoint][:k]
        axes[1, 0].bar(np.arange(1, len(corr) + 1), np.abs(corr))
        axes[1, 0].set(xlabel="k", ylabel="|corr(e_k, f̂)|", title="eigenfunctions vs output (regression)")
    top = run.arrays[f"top_inputs_{centre}"][checkpoint]
    c = run.config
    data = _data(c["dataset"], c.get("train_size"), c.get("data_seed", 0))
    for ax, j in zip((axes[1, 1], axes[1, 2]), (0, 1)):
        idx = top[j][np.isfinite(top[j])].astype(int)
        plots.inputs_panel(ax, data.x_train[idx].numpy(), f"most exciting inputs of e_{j + 1}", data.mean, data.std)
    row = m.iloc[checkpoint]
    fig.suptitle(f"{run_label(run)} · epoch {epoch} · {'centred' if centre == 'c' else 'uncentred'}")
    fig.tight_layout()
    summary = {"epoch": epoch, "test acc": row["test_acc"], "Π(C)": row[f"train_{centre}_pi_C"],
               "Π*(C)": row[f"train_{centre}_pistar_C"], "k90": row[f"train_{centre}_k90"],
               "d_eff": row[f"train_{centre}_d_eff"], "D_LR": row["train_dlr"], "C": C}
    return fig, summary


def _summary_html(s: dict) -> str:
    cells = "".join(f"<td style='padding:2px 10px'><b>{html.escape(k)}</b><br>{v:.4g}</td>" if isinstance(v, float)
                    else f"<td style='padding:2px 10px'><b>{html.escape(k)}</b><br>{v}</td>" for k, v in s.items())
    return f"<table class='nfl-summary'><tr>{cells}</tr></table>"


class Explorer:
    """The interactive explorer; ``Explorer().widget`` is the ipywidgets box to display."""

    def __init__(self, runs: list[Run] | None = None):
        import ipywidgets as W

        self.runs = {r.path: r for r in (runs if runs is not None else list_runs())}
        options = [(run_label(r), str(p)) for p, r in self.runs.items()]
        self.message = W.HTML(layout=W.Layout(min_height="1.5em"))
        self.message.add_class("nfl-message")
        self.pick = W.Dropdown(options=options, description="run", layout=W.Layout(width="60%"))
        self.ck = W.IntSlider(min=0, max=0, value=0, description="checkpoint", continuous_update=False)
        self.ck.add_class("nfl-checkpoint")
        self.k = W.IntSlider(min=1, max=40, value=10, description="k", continuous_update=False)
        self.centre = W.ToggleButtons(options=[("uncentred", "u"), ("centred", "c")], description="kernel")
        self.summary = W.HTML()
        self.out = W.Image(format="png")
        self.fig = None
        self.widget = W.VBox([self.pick, W.HBox([self.ck, self.k, self.centre]), self.message, self.summary, self.out])
        self.widget.add_class("nfl-explorer")
        self.pick.observe(self._on_run, "value")
        for w in (self.ck, self.k, self.centre):
            w.observe(lambda _: self.redraw(), "value")
        if not options:
            self.message.value = "<b>No finished runs in the store.</b> Train some first (notebook 01 or python -m nfl_utils.train)."
        else:
            self._on_run(None)

    def current(self) -> Run:
        path = self.pick.value
        if path is None:
            raise ValueError("no run selected")
        from pathlib import Path
        if not is_complete(Path(path)):
            raise ValueError(f"the run directory {path} is gone or incomplete (deleted?); re-run its config "
                             "to rebuild it, or pick another run")
        return self.runs.get(Path(path)) or load_run(path)

    def _on_run(self, _):
        try:
            run = self.current()
            n = len(run.arrays.get("epochs", []))
            if n == 0:
                raise ValueError(f"run {run.hash} has no checkpoints to show")
            self.ck.unobserve_all("value")
            self.ck.max, self.ck.value = n - 1, n - 1
            self.ck.observe(lambda _: self.redraw(), "value")
        except Exception as e:      # shown in the widget, never a traceback
            self._error(e)
            return
        self.redraw()

    def _error(self, e):
        self.message.value = f"<span style='color:#b00'><b>Cannot show this run:</b> {html.escape(str(e))}</span>"
        self.summary.value = ""
        self.out.layout.display = "none"

    def redraw(self):
        try:
            run = self.current()
            self.fig, s = draw(run, self.ck.value, self.k.value, self.centre.value, self.fig)
            self.out.value = plots.png_bytes(self.fig, dpi=80)
            self.out.layout.display = ""
            self.summary.value = _summary_html(s)
            self.message.value = f"<span class='nfl-status'>showing epoch {s['epoch']}</span>"
        except Exception as e:
            self._error(e)


def explore(runs: list[Run] | None = None, static_run: Run | None = None, static_checkpoint: int = -1, k: int = 10):
    """Display the explorer over ``runs`` (default: every finished run), or, headless, a static
    figure of ``static_run`` (default: the first run). Returns the Explorer or (figure, summary)."""
    if headless():
        run = static_run or next(iter(runs if runs is not None else list_runs()), None)
        if run is None:
            raise ValueError("no finished runs in the store: run notebook 01 first")
        return draw(run, len(run.arrays["epochs"]) - 1 if static_checkpoint < 0 else static_checkpoint, k)
    from IPython.display import display

    ex = Explorer(runs)
    display(ex.widget)
    return ex
