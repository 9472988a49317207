"""A static site of one profile's executed notebooks, claims table and figures: ``make site``.

``python -m nfl_utils.site PROFILE`` reads what ``make figures PROFILE=...`` produced (the executed
notebooks in ``build/<profile>/``, the figures, their JSON and ``claims.md`` in
``figures/<profile>/``) and writes ``build/site/<profile>/``: no training, no network. Every figure
carries its provenance (notebook, profile, commit, source hash) and a link to the notebook cell
that saved it.
"""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import InputError, one_line, user_errors

STYLE = ("body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 "
         "1rem}table{border-collapse:collapse}td,th{border:1px solid "
         "#ccc;padding:.3rem;vertical-align:top}figure{margin:2rem "
         "0}img{max-width:100%}figcaption{color:#333}.prov{font-size:.85rem;color:#666}")


def _page(title: str, body: str) -> str:
    nav = ('<p><a href="index.html">index</a> · <a href="claims.html">claims</a> · '
           '<a href="figures.html">figures</a></p>')
    t = html.escape(title)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{t}</title>"
            f"<style>{STYLE}</style></head><body>{nav}<h1>{t}</h1>{body}</body></html>")


def _write(path: Path, title: str, body: str) -> None:
    path.write_text(_page(title, body), encoding="utf-8")


def _commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def notebook_page(src: Path, out: Path) -> list[tuple[str, str]]:
    """Write ``src`` (an executed notebook) as HTML; return its code cells as (id, source)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(src, as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    out.write_text(body, encoding="utf-8")
    return [(c.get("id", ""), c.source) for c in nb.cells if c.cell_type == "code"]


def cell_of(stem: str, cells: list[tuple[str, str]]) -> str:
    """The id of the cell that saved figure ``stem``: the cell that names it, else the one whose
    f-string builds it from its longest prefix (one figure per label); "" when none does."""
    cuts = [i + 1 for i, ch in enumerate(stem) if ch == "_"][::-1]
    for key in (f'"{stem}"', f"'{stem}'", *(f'f"{stem[:i]}' for i in cuts)):
        for cid, source in cells:
            if key in source and "save(" in source:
                return cid
    return ""


def figure_block(meta: dict, notebook: str, cid: str, commit: str) -> str:
    stem = meta["stem"]
    link = f"{notebook}.html" + (f"#cell-id={cid}" if cid else "")
    prov = (f"notebook <a href='{html.escape(link)}'>{html.escape(notebook)}</a> · profile "
            f"{html.escape(meta.get('profile', '?'))} · commit {html.escape(commit)} · source "
            f"{html.escape(meta.get('source', '?'))}")
    s, caption = html.escape(stem), html.escape(meta.get("caption", ""))
    return (f"<figure id='{s}'><img src='figures/{s}.png' alt='{s}'><figcaption><b>{s}</b>: "
            f"{caption}<div class='prov'>{prov}</div></figcaption></figure>")


def claims_page(md: Path) -> str:
    """claims.md as HTML; its links to figure PNGs point at the figures page instead."""
    import mistune

    text = re.sub(r"\]\(([\w.-]+)\.png\)", r"](figures.html#\1)", md.read_text(encoding="utf-8"))
    return mistune.create_markdown(plugins=["table"])(text)


def build_site(profile: str, root: Path | None = None, out: Path | None = None) -> Path:
    """Write the site of ``profile`` and return its index.html."""
    root = Path(root or Path.cwd())
    built, figs = root / "build" / profile, root / "figures" / profile
    books = sorted(p for p in built.glob("*.ipynb")
                   if not p.name.endswith((".src.ipynb", ".tmp.ipynb")))
    if not books:
        raise InputError(f"no executed notebooks in {built}: run `make figures PROFILE={profile}` "
                         "first (the site shows what it built, it trains nothing)")
    out = Path(out or root / "build" / "site" / profile)
    shutil.rmtree(out, ignore_errors=True)
    (out / "figures").mkdir(parents=True)
    commit, cells = _commit(root), {}
    for nb in books:
        cells[nb.stem] = notebook_page(nb, out / f"{nb.stem}.html")
    blocks = figure_blocks(figs, out / "figures", cells, commit)
    _write(out / "figures.html", f"Figures: profile {profile}", "".join(blocks))
    md = figs / "claims.md"
    claims = claims_page(md) if md.is_file() else "<p>No claims table.</p>"
    _write(out / "claims.html", f"Claims: profile {profile}", claims)
    items = "".join(f"<li><a href='{n}.html'>{html.escape(n)}</a></li>" for n in cells)
    body = (f"<p>Profile <b>{html.escape(profile)}</b>, commit {html.escape(commit)}: the executed "
            f"notebooks, the <a href='claims.html'>claims table</a> and the "
            f"<a href='figures.html'>figures</a> ({len(blocks)}).</p><ul>{items}</ul>")
    _write(out / "index.html", "The feature-learning companion", body)
    return out / "index.html"


def figure_blocks(figs: Path, dest: Path, cells: dict, commit: str) -> list[str]:
    """Copy each figure of ``figs`` (PNG with its JSON) to ``dest``; one block per figure, linked
    to the notebook whose number prefixes its name (else the first notebook)."""
    blocks = []
    for meta_file in sorted(figs.glob("*.json")):
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        png = figs / f"{meta['stem']}.png"
        if not png.is_file():
            continue
        shutil.copy2(png, dest / png.name)
        prefix = meta["stem"].split("_")[0] + "_"
        notebook = next((n for n in cells if n.startswith(prefix)), next(iter(cells)))
        blocks.append(figure_block(meta, notebook, cell_of(meta["stem"], cells[notebook]), commit))
    return blocks


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    try:
        print(f"site: {build_site(argv[0] if argv else 'quick')}")
    except user_errors() as e:
        sys.exit(one_line(e))


if __name__ == "__main__":
    main()
