"""`make site` in a real browser (Debian's chromium via Playwright): every page loads, every image
renders, every internal link resolves. The site of a tiny profile build always; the sites already
built under build/site/ too (a developer's `make site`). Screenshots go to build/browser/."""
import functools
import http.server
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from site_fixture import make_build  # noqa: E402
from test_explorer_browser import CHROMIUM, SHOTS, pytestmark  # noqa: E402,F401

ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
CHECK = """() => {
  const imgs = [...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);
  const links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
  return {imgs, links};
}"""


def sites(tmp_path_factory):
    from nfl_utils.site import build_site

    demo = build_site("demo", root=make_build(tmp_path_factory.mktemp("site"))).parent
    return [demo] + sorted(p.parent for p in (ROOT / "build" / "site").glob("*/index.html"))


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path):
    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check_site(browser, folder: Path, name: str) -> int:
    server = serve(folder)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    seen = 0
    try:
        for html in sorted(folder.glob("*.html")):
            resp = page.goto(base + html.name, wait_until="load")
            assert resp.ok, html.name
            found = page.evaluate(CHECK)
            broken = [src for src, ok in found["imgs"] if not ok]
            assert not broken, f"{html.name}: images that do not render: {broken[:5]}"
            for href in found["links"]:
                if href.startswith(("http://", "https://", "//", "mailto:")):
                    continue
                path, _, frag = href.partition("#")
                target = base + (path or html.name)
                assert page.request.get(target).ok, f"{html.name}: {href}"
                if frag and path.endswith(".html"):
                    body = page.request.get(target).text()
                    assert f'id="{frag}"' in body or f"id='{frag}'" in body, f"{html.name}: {href}"
                seen += 1
            if html.stem in ("index", "claims", "figures") or html.stem.startswith("04"):
                page.screenshot(path=str(SHOTS / f"site_{name}_{html.stem}.png"))
    finally:
        page.close()
        server.shutdown()
    return seen


def test_the_site_loads_renders_and_links_in_a_real_browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for folder in sites(tmp_path_factory):
            name = folder.name
            assert check_site(browser, folder, name) >= 10, name
        browser.close()
