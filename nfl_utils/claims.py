"""The claims table: one row per numbered claim of the spec (C1–C14, D1–D9), computed from stored
runs by the rules of :mod:`nfl_utils.claims_fm`, :mod:`nfl_utils.claims_dlr` and
:mod:`nfl_utils.claims_dlgn` (thresholds in :mod:`nfl_utils.verdicts`), written as Markdown with
a table of D_LR's conventions beneath.

    python -m nfl_utils.claims quick        # writes figures/quick/claims.md
"""
from __future__ import annotations

import sys

from . import conventions
from . import profiles as P
from . import verdicts as V
from .claim_record import (  # noqa: F401
    CLAIMS, REPORTED, across_conventions, by_parts, claim_row, mean_spread, seed_table)
from .claims_dlgn import circle_claims, dlgn_claims, image_claims, tree_claim  # noqa: F401
from .claims_dlr import (  # noqa: F401
    grokking_claim, grokking_claims, lr_claim, robustness_claim, seeded_contrast, shuffle_claim,
    size_claim, small_setting)
from .claims_fm import (  # noqa: F401
    collapse_claim, concentration_claim, early_mf_claim, main_claims, rate_claim, regression_claim)
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    from pathlib import Path


def table(profile: str) -> list[dict]:
    S = P.by_setting
    main = P.load(profile, "main")
    C = next(iter(main.values())).num_classes
    rows = main_claims(main, C)
    lr = S(P.load(profile, "lr"))
    rl = S(P.load(profile, "rich vs lazy"))
    rows.append(lr_claim(lr, small_setting(lr)))
    sh = S(P.load(profile, "shuffled labels"))
    rows.append(shuffle_claim(sh, C, memo_setting(sh)))
    groups = {k.split(": ", 1)[0] for k in P.table(profile)}
    if "terminal phase" in groups:
        rows.append(collapse_claim(P.load(profile, "terminal phase")["MLP, MSE"],
                                   _terminal_name(profile)))
    else:
        rows.append(collapse_claim(main["MLP, MSE"], "main: MLP, MSE"))
    reg = P.load(profile, "regression")
    rows.append(regression_claim(reg["MLP"], reg["MLP, head-only"]))
    rows.append(seeded_contrast("C10", rl, "full", "full, head-only", "lower", small_setting(rl)))
    rows += grokking_claims(S(P.load(profile, "grokking")))
    bn = S(P.load(profile, "batch norm"))
    rows.append(seeded_contrast("C12", bn, "BN", "no BN", "lower", bn_setting(bn)))
    rows.append(size_claim(S(P.load(profile, "train size"))))
    rows.append(robustness_claim(S(P.load(profile, "weight decay")),
                                 S(P.load(profile, "target scale"))))
    grid = P.load(profile, "dlgn tree grid") if "dlgn tree grid" in groups else None
    rows += dlgn_claims(P.load(profile, "dlgn circle")["DLGN"], S(P.load(profile, "dlgn image")),
                        P.load(profile, "dlgn tree"), grid)
    order = list(CLAIMS)
    return sorted(rows, key=lambda r: order.index(r["id"]))


def memo_setting(groups: dict) -> str:
    """The shuffled-label contrast's setting, from its runs."""
    runs = groups["shuffled"]
    c = runs[0].cfg
    return (f"{c.dataset} MLP {c.width}×{c.depth}, {c.train_size:,} images, {c.optimizer} lr "
            f"{c.lr:g}, {c.loss}, {c.epochs} ep, {len(runs)} seeds")


def bn_setting(groups: dict) -> str:
    """The batch-norm contrast's setting, from its no-BN runs."""
    runs = groups["no BN"]
    c = runs[0].cfg
    net = (
        f"VGG16 (13 conv layers) at {c.vgg_base}/64 of its channels"
        if c.model.startswith("vgg16")
        else f"small CNN ({c.channels} channels)"
    )
    return (f"{c.dataset} {net}, n={c.train_size}, {c.loss}, lr {c.lr:g}, {c.epochs} ep, "
            f"{len(runs)} seeds")


def _terminal_name(profile: str) -> str:
    c = P.group(profile, "terminal phase")["MLP, MSE"]
    return (f"terminal phase: {c.dataset} MLP {c.width}×{c.depth} MSE, n={c.train_size}, "
            f"{c.epochs} ep, lr {c.lr:g} {c.schedule} schedule, wd {c.weight_decay:g}")


# The figures that show each claim, where their JSON numbers do not name it (figure_links adds
# those)
SHOWN_IN = {"C1": ["04_mf_vs_ef_measures", "03_spectra_deff"], "C2": ["04_mf_vs_ef_measures"],
            "C4": ["04_mf_vs_ef_rates"], "C5": ["03_spectra_deff"],
            "C8": ["05_collapse_nc_dlr", "05_collapse_kernel"],
            "C9": ["05_collapse_regression"], "C11": ["07_richness_dlr_conventions"],
            "C14": ["07_richness_wd", "07_richness_target"], "D1": ["08_dlgn_overlap_spectrum"],
            "D2": ["08_dlgn_overlap_spectrum"], "D3": ["08_dlgn_image"], "D4": ["08_dlgn_image"],
            "D5": ["08_dlgn_circle_paths"], "D6": ["08_dlgn_circle_hyperplanes"],
            "D7": ["08_dlgn_circle_paths"],
            "D8": ["08_dlgn_image"], "D9": ["08_dlgn_tree_benchmark"]}


def figure_links(folder: Path | str) -> dict[str, list[str]]:
    """{claim id: figure stems that exist in ``folder``}: those whose JSON numbers name the claim,
    and those of SHOWN_IN."""
    import json
    import re
    from pathlib import Path

    out: dict[str, list[str]] = {}
    for f in sorted(Path(folder).glob("*.json")):
        try:
            numbers = json.loads(f.read_text()).get("numbers", {})
        except (OSError, ValueError):
            continue
        for cid in sorted(
            {m.group(1) for k in numbers for m in [re.match(r"(C\d+|D\d+)\b", str(k))] if m}
        ):
            out.setdefault(cid, []).append(f.stem)
    for cid, stems in SHOWN_IN.items():
        out.setdefault(cid, []).extend(st for st in stems if (Path(folder) / f"{st}.png").exists()
                                       and st not in out[cid])
    return {k: v for k, v in out.items() if v}


def summary(rows: list[dict]) -> str:
    """'N rows: a agree, b partly, ...' in the order of verdicts.py."""
    counts = {
        v: sum(r["verdict"] == v for r in rows)
        for v in (V.AGREES, V.PARTLY, V.DISAGREES, V.UNTESTABLE)
    }
    return f"{len(rows)} rows: " + ", ".join(f"{n} {v}" for v, n in counts.items())


def markdown(rows: list[dict], profile: str, links: dict | None = None) -> str:
    links = links or {}
    lines = [f"# Claims table: profile `{profile}`", "",
             "Generated by `python -m nfl_utils.claims` from the stored runs; verdict rules in "
             "`nfl_utils/verdicts.py`,",
             "criteria in `docs/measures.md`. A verdict is about *this setting*: a disagreement on "
             "MNIST is not one on CIFAR-10.",
             "", f"**{summary(rows)}.**", "",
             "| id | claim | setting | measured | reported | verdict | why | figures |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    esc = lambda s: str(s).replace("|", "\\|")
    lines += [
        f"| {r['id']} | {esc(r['claim'])} | {esc(r['setting'])} | {esc(r['measured'])} | "
        f"{esc(r['reported'])} | **{r['verdict']}** | {esc(r['reason'])} | "
        + ", ".join(f"[{st}]({st}.png)" for st in links.get(r["id"], []))
        + " |"
        for r in rows
    ]
    return "\n".join(lines + conventions_section(rows)) + "\n"


def conventions_section(rows: list[dict]) -> list[str]:
    """The rows that rest on a D_LR direction: that direction under each of D_LR's open
    conventions (docs/measures.md), a table of its own below the claims."""
    rs = [r for r in rows if r.get("by_convention")]
    if not rs:
        return []
    names = list(conventions.CONVENTIONS)
    esc = lambda s: str(s).replace("|", "\\|")
    short = lambda s: s if len(s) <= 60 else s[:59] + "…"
    lines = ["", "## D_LR's directions under its open conventions", "",
             "Each row that rests on a D_LR direction, recomputed from the runs' stored weights "
             "under every convention of `docs/measures.md` (the claims table uses the first). A "
             "direction that differs between columns is no finding about the network; its row "
             "above reads *partly*.", "",
             "| id | setting | compares | " + " | ".join(names) + " |",
             "| --- " * (len(names) + 3) + "|"]
    lines += [f"| {r['id']} | {esc(short(r['setting']))} | {esc(r['by_convention_what'])} | "
              + " | ".join(esc(r["by_convention"].get(n, "—")) for n in names) + " |" for r in rs]
    return lines


def write(profile: str) -> str:
    from .plots import figures_dir

    out = figures_dir(profile) / "claims.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(table(profile), profile, figure_links(out.parent)))
    return str(out)


def say(row: dict) -> str:
    """One claims-table row as a Markdown sentence for a notebook."""
    why = f" ({row['reason']})" if row["reason"] else ""
    return (f"* **{row['id']}** {row['claim']} — **{row['verdict']}**{why}. Measured "
            f"({row['setting']}): {row['measured']}. Reported: {row['reported']}.")


def main(argv: list[str] | None = None) -> None:
    """``python -m nfl_utils.claims PROFILE``: one line (no traceback) when runs are missing."""
    from .errors import one_line, user_errors

    argv = sys.argv[1:] if argv is None else argv
    profile = argv[0] if argv else "quick"
    if profile not in P.PROFILES:
        sys.exit(f"error: unknown profile {profile!r}; valid: {', '.join(P.PROFILES)}")
    try:
        print(write(profile))
    except user_errors() as e:      # the user's store or machine, not a bug: one line
        sys.exit(one_line(e))


if __name__ == "__main__":
    main()
