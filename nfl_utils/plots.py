"""One figure style, byte-stable saving, and the plots the notebooks show.

``save(fig, stem, caption, numbers, profile)`` writes ``figures/<profile>/<stem>.png`` and ``.pdf``
(no timestamps, so reruns give the same bytes) and a caption file that ``python -m nfl_utils.plots
index figures/<profile>`` gathers into ``index.md``.
"""
from __future__ import annotations

import functools
import json
import math
import os
import sys
from pathlib import Path

import matplotlib
import numpy as np
import seaborn as sns

from .paths import default_dir
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from .run import Run

FIG_ENV = "NFL_FIGURES_DIR"
PALETTE = "colorblind"


def short_errors(shell: object = None) -> None:
    """In IPython/Jupyter, show the project's own errors (bad config, missing data, damaged run,
    divergence) as one line instead of a traceback; the cell still fails. ``NFL_DEBUG=1`` keeps the
    traceback."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
    if shell is None or os.environ.get("NFL_DEBUG"):
        return
    from .errors import user_errors

    def one_line(sh, etype, value, tb, tb_offset=None):
        line = f"{etype.__name__}: {value}  (NFL_DEBUG=1 shows the traceback)"
        print(line, file=sys.stderr)
        return [line]
    shell.set_custom_exc(user_errors(), one_line)


def setup() -> None:
    short_errors()
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font_scale=0.9)
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight",
                                "axes.titlesize": "medium", "figure.titlesize": "large",
                                "pdf.fonttype": 42, "svg.hashsalt": "nfl", "image.cmap": "viridis"})


def colors(n: int) -> list:
    return sns.color_palette(PALETTE, n)


def figures_dir(profile: str) -> Path:
    env = os.environ.get(FIG_ENV)
    return (Path(env).expanduser() if env else default_dir("figures")) / profile


def save(fig: Figure, stem: str, caption: str, numbers: dict | None = None,
         profile: str = "quick") -> Path:
    """Save ``fig`` as PNG and PDF under figures/<profile>/ with its caption and key numbers."""
    out = figures_dir(profile)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{stem}.png", metadata={"Software": None})
    fig.savefig(out / f"{stem}.pdf",
                metadata={"CreationDate": None, "ModDate": None, "Producer": None,
                                                "Creator": None})
    clean = {k: _plain(v) for k, v in (numbers or {}).items()}
    (out / f"{stem}.json").write_text(json.dumps({"stem": stem, "caption": caption,
                                                  "numbers": clean,
                                                  **provenance(profile)}, indent=1,
                                                 ensure_ascii=False) + "\n")
    return out / f"{stem}.png"


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """sha256 (12 hex) of the package and notebook sources: the same on every machine and clone
    that holds the same code (unlike a commit id, it does not change when only the figures do)."""
    import hashlib

    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted([*root.glob("*.py"), *root.parent.glob("notebooks/*.py")]):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def provenance(profile: str) -> dict:
    """What a figure's JSON records about how it was made: the source hash and the seeds of the
    profile's runs (initialisation/data order, and the data subsets)."""
    from . import profiles

    table = profiles.table(profile) if profile in profiles.PROFILES else {}
    return {"source": source_hash(), "profile": profile,
            "seeds": sorted({c.seed for c in table.values()}),
            "data_seeds": sorted({c.data_seed for c in table.values()})}


def slug(name: str) -> str:
    """A file-name stem from a run label: 'MLP, MSE' → 'mlp_mse'."""
    out = "".join(ch if ch.isalnum() else "_" for ch in name.lower())
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_")


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (for ipywidgets.Image or IPython.display.Image)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _plain(v):
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if math.isfinite(v) else str(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


def build_index(folder: Path | str) -> Path:
    folder = Path(folder)
    entries = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    lines = [f"# Figures: profile `{folder.name}`", "",
             "Generated by `make figures` from the notebooks in `notebooks/`; numbers are "
             "computed, not typed.", ""]
    for e in entries:
        lines += [f"## {e['stem']}", "", f"![{e['stem']}]({e['stem']}.png)", "", e["caption"], ""]
        if e["numbers"]:
            lines += ["| quantity | value |", "| --- | --- |"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in e["numbers"].items()]
            lines.append("")
    path = folder / "index.md"
    path.write_text("\n".join(lines))
    return path


INDEX_DIGITS = 3     # significant digits in index.md: what two builds with float-rounding-level
                     # differences reproduced (docs/measures.md, "Reproducibility"); the JSON keeps
                     # all
NUMERICAL_ZERO = 1e-12


def _fmt(v):
    if isinstance(v, float):
        if abs(v) < NUMERICAL_ZERO:
            return f"0 (below {NUMERICAL_ZERO:g})"
        return f"{v:.{INDEX_DIGITS}g}"
    return str(v)


# ----------------------------------------------------------------------------- plots
def checkpoint_colors(n: int) -> np.ndarray:
    return sns.color_palette("crest", n)


def _epochs_legend(ax, epochs, cols, every=None):
    from matplotlib.lines import Line2D

    # every checkpoint up to 10 of them (two columns past 5); beyond that an even sample
    idx = sorted(
        set(np.linspace(0, len(epochs) - 1, min(len(epochs), every or 10)).round().astype(int))
    )
    handles = [Line2D([], [], color=cols[i], label=f"epoch {int(epochs[i])}") for i in idx]
    ax.legend(handles=handles, fontsize="x-small" if len(idx) > 5 else "small", loc="best",
              ncol=2 if len(idx) > 5 else 1)


def _per_checkpoint(ax, run, curve, plot, highlight=None):
    """One line per checkpoint (darker = later); with ``highlight`` that checkpoint bold, the rest
    faint."""
    epochs = run.epochs
    cols = checkpoint_colors(len(epochs))
    hi = None if highlight is None else range(len(epochs))[highlight]
    for i in range(len(epochs)):
        y = curve(i)
        style = {} if hi is None else ({"lw": 2.4} if i == hi else {"lw": 0.6, "alpha": 0.35})
        getattr(ax, plot)(np.arange(1, len(y) + 1), y, **{"color": cols[i], "lw": 1.2, **style})
    if hi is None:
        _epochs_legend(ax, epochs, cols)


def spectrum_panel(ax: Axes, run: Run, split: str = "train", centred: bool = False,
                   C: int | None = None, highlight: int | None = None) -> None:
    """ρ_k/ρ_1 against k, one line per checkpoint (log-log), a dashed line at k = C."""
    def curve(i):
        r = run.eigenvalues(i, split, centred)
        return r / r[0]
    _per_checkpoint(ax, run, curve, "loglog", highlight)
    if C:
        ax.axvline(C, color="0.3", ls="--", lw=1)
    ax.set_xlabel("k")
    ax.set_ylabel(r"$\rho_k/\rho_1$" + (" (centred)" if centred else ""))


def cumulative_panel(ax: Axes, run: Run, which: str = "quality", split: str = "train",
                     centred: bool = False, C: int | None = None,
                     highlight: int | None = None) -> None:
    """Π*(k) (quality) or Π(k) (utility) against k, one line per checkpoint."""
    get = run.cum_quality if which == "quality" else run.cum_utility
    _per_checkpoint(ax, run, lambda i: get(i, split, centred), "semilogx", highlight)
    if C:
        ax.axvline(C, color="0.3", ls="--", lw=1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("k")
    ax.set_ylabel(r"$\Pi^*(k)$ (quality)" if which == "quality" else r"$\Pi(k)$ (utility)")


def metric_panel(ax: Axes, runs: dict, metric: str, ylabel: str | None = None, logy: bool = False,
                 styles: dict | None = None, x: str = "epoch", mark: dict | None = None) -> None:
    """A metric against epoch (or step) for several named runs, one colour each; runs whose Φ is
    frozen (head-only) dashed. ``mark``: an x value to mark with a vertical line. On a log x axis
    the initial point (x = 0) cannot be drawn and is left out (the caption says so)."""
    cols = colors(max(1, len(runs)))
    for i, (name, run) in enumerate(runs.items()):
        ls = "--" if run.cfg.head_only else "-"
        col = (styles or {}).get(name, cols[i])
        y = run.metrics[metric].replace([np.inf], np.nan)
        ax.plot(run.metrics[x], y, ls, color=col, marker="o", ms=2.5, lw=1.3, label=name)
    if mark is not None:
        ax.axvline(mark, color="0.3", ls="--", lw=1)
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel or metric)
    if logy:
        ax.set_yscale("log")


def class_means_panel(ax: Axes, run: Run, checkpoint: int, centred: bool = False,
                      K: int | None = None, title: str | None = None) -> None:
    """Heatmap of E[e_k | class] for the top K eigenfunctions at one checkpoint."""
    M = run.class_means(checkpoint, centred)
    K = min(K or M.shape[0], M.shape[0])
    M = M[:K]
    lim = np.abs(M).max()
    sns.heatmap(M, ax=ax, cmap="vlag", vmin=-lim, vmax=lim,
                cbar_kws={"label": r"$E[e_k \mid y=c]$"},
                xticklabels=range(M.shape[1]), yticklabels=range(1, K + 1))
    ax.tick_params(axis="y", labelrotation=0, labelsize="x-small")
    ax.set_xlabel("class c")
    ax.set_ylabel("eigenfunction k")
    if title:
        ax.set_title(title)


def output_corr_panel(ax: Axes, run: Run, checkpoint: int, centred: bool = True,
                      K: int | None = None, title: str | None = None) -> None:
    """|corr(e_k, f̂)| of the top K eigenfunctions (regression runs)."""
    corr = np.abs(run.output_corr(checkpoint, centred))[:K]
    ax.bar(np.arange(1, len(corr) + 1), corr)
    ax.set(xlabel="k", ylabel="|corr(e_k, f̂)|",
           title=title or "eigenfunctions vs output (regression)")


def token_pairs(xs: np.ndarray) -> np.ndarray | None:
    """(a, b, p) when every row of ``xs`` (m, 2p) is a pair of one-hot tokens [e_a, e_b] (modular
    addition), else None."""
    h = xs.shape[1] // 2
    if xs.shape[1] % 2 or not np.isin(xs, (0.0, 1.0)).all():
        return None
    if not ((xs[:, :h].sum(1) == 1) & (xs[:, h:].sum(1) == 1)).all():
        return None
    return xs[:, :h].argmax(1), xs[:, h:].argmax(1), h


def _montage(ax, xs, mean, std):
    """(m, C, H, W) images in a grid, de-normalised; cells past the last input stay blank."""
    if mean is not None:
        xs = xs * np.asarray(std)[None, :, None, None] + np.asarray(mean)[None, :, None, None]
    imgs = np.clip(np.transpose(xs, (0, 2, 3, 1)), 0, 1)
    m, H, W, C = imgs.shape
    cols = int(math.ceil(math.sqrt(m)))
    rows = int(math.ceil(m / cols))
    # light-grey separators; cells past the last input stay blank (white), not a solid block
    grid = np.full((rows * (H + 1), cols * (W + 1), C), 0.25 if C == 1 else 0.75)
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        cell = imgs[i] if i < m else (np.nan if C == 1 else 1.0)
        grid[r * (H + 1):r * (H + 1) + H, c * (W + 1):c * (W + 1) + W] = cell
    cmap = matplotlib.colormaps["gray_r"].copy()
    cmap.set_bad("white")
    ax.imshow(grid.squeeze(-1) if C == 1 else grid, cmap=cmap if C == 1 else None, vmin=0, vmax=1)
    ax.axis("off")


def _vectors(ax, xs):
    """2-D inputs as points in the plane (the unit circle drawn), token pairs as (a, b) on the
    p × p grid, other vectors as overlaid lines over their coordinates."""
    pairs = token_pairs(xs)
    if xs.shape[1] == 2:
        t = np.linspace(0, 2 * np.pi, 200)
        ax.plot(np.cos(t), np.sin(t), color="0.8", lw=1)
        ax.scatter(xs[:, 0], xs[:, 1], s=18, color=colors(1)[0], zorder=3)
        ax.set(xlabel="x₁", ylabel="x₂", aspect="equal")
    elif pairs is not None:
        a, b, h = pairs
        ax.scatter(a, b, s=18, color=colors(1)[0])
        ax.set(xlabel="token a", ylabel="token b", xlim=(-1, h), ylim=(-1, h), aspect="equal")
    else:
        cols = sns.color_palette("crest", len(xs))
        for i, x in enumerate(xs):
            ax.plot(x, color=cols[i], lw=1, alpha=0.8)
        ax.set(xlabel="position", ylabel="signal")


def inputs_panel(ax: Axes, xs: np.ndarray, title: str | None = None, mean: tuple | None = None,
                 std: tuple | None = None) -> None:
    """Show a few inputs: images as a montage (de-normalised), 2-D points in the plane, one-hot
    token pairs on their grid, 1-D signals as overlaid lines."""
    xs = np.asarray(xs, dtype=float)
    if xs.ndim == 2:
        _vectors(ax, xs)
    else:
        _montage(ax, xs, mean, std)
    if title:
        ax.set_title(title)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "index":
        if not Path(argv[1]).is_dir():
            sys.exit(f"error: no figures folder {argv[1]}: build the figures first (make figures)")
        print(f"wrote {build_index(argv[1])}")
    else:
        sys.exit("usage: python -m nfl_utils.plots index FIGURES_DIR")


if __name__ == "__main__":
    main()
