"""`make site`: a static site of a profile's notebooks, claims and figures (issue: front door).

Built from a tiny profile build: every page exists, every internal link and image resolves (anchors
too), each figure names its notebook, cell, profile, commit and source hash.
"""
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from nfl_utils.errors import InputError
from nfl_utils.site import build_site, cell_of
from site_fixture import make_build


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and tag in ("a", "img", "link", "script"):
                self.refs.append(a[key])


def parse(path: Path) -> Links:
    p = Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_every_internal_link_and_image_of_the_site_resolves(tmp_path):
    index = build_site("demo", root=make_build(tmp_path))
    site = index.parent
    pages = sorted(site.glob("*.html"))
    assert {p.name for p in pages} == {"index.html", "claims.html", "figures.html", "01_first.html",
                                       "02_second.html"}
    checked = 0
    for page in pages:
        for ref in parse(page).refs:
            url = urlsplit(ref)
            if url.scheme or ref.startswith("//"):
                continue                                   # external (MathJax, require.js)
            target = (page.parent / url.path) if url.path else page
            assert target.is_file(), f"{page.name}: {ref}"
            if url.fragment:
                assert url.fragment in parse(target).ids, f"{page.name}: {ref}"
            checked += 1
    assert checked >= 15
    figures = (site / "figures.html").read_text()
    assert figures.count("<figure") == 5
    assert "source abc123" in figures and "profile demo" in figures
    assert "figures.html#01_first_curve" in (site / "claims.html").read_text()


def test_each_figure_links_the_cell_that_saved_it(tmp_path):
    site = build_site("demo", root=make_build(tmp_path)).parent
    refs = [r for r in parse(site / "figures.html").refs if ".html#cell-id=" in r]
    assert len(refs) == 5                                   # f-string names found too
    cells = [("a", 'x = 1'), ("b", 'plots.save(fig, "03_spectra_deff", "c")'),
             ("c", 'plots.save(fig, f"03_spectra_{slug(n)}", "c")')]
    assert cell_of("03_spectra_deff", cells) == "b" and cell_of("03_spectra_mlp_mse", cells) == "c"
    assert cell_of("07_other", cells) == ""


def test_a_site_without_a_build_says_to_make_the_figures(tmp_path):
    with pytest.raises(InputError, match="make figures PROFILE=quick"):
        build_site("quick", root=tmp_path)
