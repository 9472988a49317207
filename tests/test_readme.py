"""The README as a front door (issue: front door): short, a figure and the citation in its first
screen, the two commands first, no typed result, and every local link resolving."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEXT = (ROOT / "README.md").read_text(encoding="utf-8")
LINES = TEXT.splitlines()


def test_the_readme_is_short_with_a_figure_and_the_citation_on_its_first_screen():
    assert len(LINES) <= 150
    first = "\n".join(LINES[:25])
    assert re.search(r"!\[[^\]]*\]\(figures/[\w/.-]+\.png\)", first) and "CITATION.cff" in first
    assert "2410.04264" in first and "2404.04312" in first
    assert TEXT.index("make figures") < TEXT.index("## What the figures show")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and "2410.04264" in cff["preferred-citation"]["url"]


def test_the_readme_types_no_regime_number_or_d_lr_value():
    typed = re.findall(r"D_LR[^|\n]{0,25}\d\.\d\d|gap[^|\n]{0,12}= ?\d+\.\d|\b\d{1,3}(\.\d)?%", TEXT)
    assert typed == [], typed
    for word in ("agrees", "disagrees", "partly"):            # verdicts live in the claims tables
        assert f"**{word}**" not in TEXT


def test_every_local_link_of_the_readme_and_docs_resolves():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if not target.startswith(("http://", "https://", "mailto:")):
                assert (doc.parent / target).exists(), f"{doc.name}: {target}"
