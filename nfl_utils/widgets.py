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
import numpy as np
from matplotlib.figure import Figure

from . import plots
from .store import Run, is_complete, list_runs, load_run
from .errors import InputError


def headless() -> bool:
    return os.environ.get("NFL_HEADLESS") == "1"


def run_label(run: Run) -> str:
    c = run.cfg
    extra = [f"lr={c.lr:g}", c.loss]
    extra += [tag for flag, tag in ((c.head_only, "head-only"), (c.batch_norm, "BN"),
                                    (c.task == "regress", "regression"),
                                    (c.seed != 0, f"seed {c.seed}")) if flag]
    return f"{c.dataset} / {c.model} ({', '.join(extra)}) [{run.hash[:8]}]"


def draw(run: Run, checkpoint: int, k: int, centred: bool = False,
         fig: Figure | None = None) -> tuple:
    """Draw one checkpoint of one run with the notebooks' panel functions (that checkpoint
    highlighted): (figure, summary dict); an InputError says why a run cannot be shown."""
    if len(run) == 0:
        raise InputError(f"run {run.hash} has no checkpoints to show")
    checkpoint = int(np.clip(checkpoint, 0, len(run) - 1))
    epoch = int(run.epochs[checkpoint])
    fig = fig or Figure(figsize=(13, 6.8))
    fig.clf()
    axes = fig.subplots(2, 3)
    plots.spectrum_panel(axes[0, 0], run, "train", centred, C=k, highlight=checkpoint)
    axes[0, 0].set_title("spectrum (bold: this checkpoint; dashed: k)")
    plots.cumulative_panel(axes[0, 1], run, "quality", "train", centred, C=k, highlight=checkpoint)
    axes[0, 1].set_title("quality Π*(k)")
    plots.cumulative_panel(axes[0, 2], run, "utility", "train", centred, C=k, highlight=checkpoint)
    axes[0, 2].set_title("utility Π(k)")
    plots.metric_panel(axes[1, 0], {"test acc": run}, "test_acc", "test accuracy", mark=epoch)
    ax2 = axes[1, 0].twinx()
    plots.metric_panel(ax2, {"D_LR": run}, "train_dlr", "D_LR", styles={"D_LR": plots.colors(2)[1]})
    ax2.grid(False)
    axes[1, 0].set_title("test accuracy and D_LR (orange) over training")
    if run.is_regression:
        plots.output_corr_panel(axes[1, 1], run, checkpoint, centred, k)
    else:
        plots.class_means_panel(axes[1, 1], run, checkpoint, centred, k, f"E[e_k | class], top {k}")
    data = run.data()
    idx = run.top_inputs(checkpoint, centred)[0]
    plots.inputs_panel(axes[1, 2], data.x_train[idx].numpy(), "most exciting inputs of e_1",
                       data.mean, data.std)
    fig.suptitle(f"{run_label(run)} · epoch {epoch} · {'centred' if centred else 'uncentred'}")
    fig.tight_layout()
    c = "c" if centred else "u"
    row = run.metrics.iloc[checkpoint]
    C = run.measured_C  # 2 for a regression run, not its 10 digits
    summary = {"epoch": epoch, "test acc": row["test_acc"], f"Π({C})": row[f"train_{c}_pi_C"],
               f"Π*({C})": row[f"train_{c}_pistar_C"], "k90": row[f"train_{c}_k90"],
               f"d_eff ({'centred' if centred else 'uncentred'})": row[f"train_{c}_d_eff"],
               "D_LR": row["train_dlr"], "C": C}
    return fig, summary


def _summary_html(s: dict) -> str:
    cells = "".join(
        (
            f"<td style='padding:2px 10px'><b>{html.escape(k)}</b><br>{v:.4g}</td>"
            if isinstance(v, float)
            else f"<td style='padding:2px 10px'><b>{html.escape(k)}</b><br>{v}</td>"
        )
        for k, v in s.items()
    )
    return f"<table class='nfl-summary'><tr>{cells}</tr></table>"


class Explorer:
    """The interactive explorer; ``Explorer().widget`` is the ipywidgets box to display."""

    def __init__(self, runs: list[Run] | None = None, profile: str | None = None,
                 start: Run | None = None):
        import ipywidgets as W

        self.runs = {r.path: r for r in (runs if runs is not None else list_runs())}
        options = labelled_options(self.runs, profile)
        self.message = W.HTML(layout=W.Layout(min_height="1.5em"))
        self.message.add_class("nfl-message")
        self.pick = W.Dropdown(options=options, description="run", layout=W.Layout(width="60%"))
        self.ck = W.IntSlider(min=0, max=0, value=0, description="checkpoint",
                              continuous_update=False)
        self.ck.add_class("nfl-checkpoint")
        self.k = W.IntSlider(min=1, max=40, value=10, description="k", continuous_update=False)
        self.centre = W.ToggleButtons(options=[("uncentred", False), ("centred", True)],
                                      description="kernel")
        self.summary = W.HTML()
        self.out = W.Image(format="png")
        self.fig = None
        self.widget = W.VBox([self.pick, W.HBox([self.ck, self.k, self.centre]), self.message,
                              self.summary, self.out])
        self.widget.add_class("nfl-explorer")
        self.pick.observe(self._on_run, "value")
        for w in (self.ck, self.k, self.centre):
            w.observe(lambda _: self.redraw(), "value")
        if start is not None and str(start.path) in dict((v, k) for k, v in options):
            self.pick.value = str(start.path)
        if not options:
            self.message.value = ("<b>No finished runs in the store.</b> Train some first "
                                  "(notebook 01 or python -m nfl_utils.train).")
        else:
            self._on_run(None)

    def current(self) -> Run:
        path = self.pick.value
        if path is None:
            raise InputError("no run selected")
        from pathlib import Path
        if not is_complete(Path(path)):
            raise InputError(f"the run directory {path} is gone or incomplete "
                             "(deleted?); re-run its config "
                             "to rebuild it, or pick another run")
        run = self.runs.get(Path(path))  # (a Run of no checkpoints is falsy: test for None)
        return run if run is not None else load_run(path)

    def _on_run(self, _):
        try:
            run = self.current()
            n = len(run)
            if n == 0:
                raise InputError(f"run {run.hash} has no checkpoints to show")
            self.ck.unobserve_all("value")
            self.ck.max, self.ck.value = n - 1, n - 1
            self.ck.observe(lambda _: self.redraw(), "value")
        except Exception as e:      # shown in the widget, never a traceback
            self._error(e)
            return
        self.redraw()

    def _error(self, e):
        self.message.value = (
            f"<span style='color:#b00'><b>Cannot show this run:</b> {html.escape(str(e))}</span>"
        )
        self.summary.value = ""
        self.out.layout.display = "none"

    def redraw(self) -> None:
        try:
            run = self.current()
            self.fig, s = draw(run, self.ck.value, self.k.value, self.centre.value, self.fig)
            self.out.value = plots.png_bytes(self.fig, dpi=80)
            self.out.layout.display = ""
            self.summary.value = _summary_html(s)
            self.message.value = (
                f"<span class='nfl-status'>showing epoch {s['epoch']} of run {run.hash[:8]}</span>"
            )
        except Exception as e:
            self._error(e)


def labelled_options(runs: dict, profile: str | None) -> list[tuple[str, str]]:
    """(label, path) for the dropdown: with ``profile``, its runs first under the profile's own
    labels ("group: name [hash]", in table order; a run in two groups keeps its first label),
    then any other run of the store by its config."""
    from .profiles import table

    by_hash = {r.hash: (p, r) for p, r in runs.items()}
    out, seen = [], set()
    for name, cfg in (table(profile).items() if profile else ()):
        if cfg.hash in by_hash and cfg.hash not in seen:
            seen.add(cfg.hash)
            out.append((f"{name} [{cfg.hash[:8]}]", str(by_hash[cfg.hash][0])))
    return out + [(run_label(r), str(p)) for p, r in runs.items() if r.hash not in seen]


def explore(runs: list[Run] | None = None, static_run: Run | None = None,
            static_checkpoint: int = -1, k: int = 10, profile: str | None = None) -> object:
    """Display the explorer over ``runs`` (default: every finished run), or, headless, a static
    figure of ``static_run`` (default: the first run). ``profile``: list its runs under its own
    labels; the explorer opens on ``static_run``. Returns the Explorer or (figure, summary)."""
    if headless():
        run = static_run or next(iter(runs if runs is not None else list_runs()), None)
        if run is None:
            raise InputError("no finished runs in the store: run notebook 01 first")
        return draw(run, len(run) - 1 if static_checkpoint < 0 else static_checkpoint, k)
    from IPython.display import display

    ex = Explorer(runs, profile=profile, start=static_run)
    display(ex.widget)
    return ex
