"""JupyterLab + Debian's chromium driven by Playwright: open 06_explore, run it, move the slider,
check the plot changed, delete a run and check the widget says so. Screenshots go to
build/browser/. Run with `make test-browser` (it installs chromium when missing)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IMG = ".nfl-explorer img"      # the explorer's figure (an ipywidgets Image)
pytestmark = pytest.mark.skipif(os.environ.get("NFL_BROWSER_TEST") != "1", reason="run with make test-browser")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    import jupytext

    from nfl_utils import profiles, store
    from nfl_utils.train import train

    base = tmp_path_factory.mktemp("lab")
    env = {**os.environ, store.RUNS_ENV: str(base / "runs"), "NFL_HEADLESS": "0"}
    os.environ[store.RUNS_ENV] = env[store.RUNS_ENV]
    main = list(profiles.group("smoke", "main").values())      # 06_explore reads this whole group
    runs = [train(c, progress=False) for c in main]
    victim = train(main[0].replace(lr=0.01), progress=False)
    nb = jupytext.read(ROOT / "notebooks" / "06_explore.py")
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = 'profile = "smoke"'
    (base / "nb").mkdir()
    jupytext.write(nb, base / "nb" / "06_explore.ipynb")
    port, token = free_port(), "nfl-test-token"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={base / 'nb'}", "--LabApp.expose_app_in_browser=True",
           "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(base / "lab.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError((base / "lab.log").read_text())
            time.sleep(0.5)
    else:
        raise RuntimeError("JupyterLab did not start: " + (base / "lab.log").read_text()[-2000:])
    yield {"url": url, "token": token, "runs": runs, "victim": victim}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_explorer_in_a_real_browser(lab):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                                          "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1500, "height": 1300})
        page.goto(f"{lab['url']}/lab/tree/06_explore.ipynb?token={lab['token']}")
        page.wait_for_selector(".jp-Notebook", timeout=60_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                               "&& window.jupyterapp.shell.currentWidget.sessionContext "
                               "&& window.jupyterapp.shell.currentWidget.sessionContext.session "
                               "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel", timeout=90_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        status = page.locator(".nfl-status")
        status.wait_for(timeout=120_000)
        page.wait_for_function("() => document.querySelector('.nfl-status') && "
                               "document.querySelector('.nfl-status').textContent.includes('epoch 3')", timeout=60_000)
        img = page.locator(f"{IMG}").first
        try:
            img.wait_for(timeout=60_000)
        except Exception:
            page.screenshot(path=str(SHOTS / "0_failure.png"), full_page=True)
            (SHOTS / "0_failure.html").write_text(page.inner_html(".jp-Notebook"))
            raise
        img.scroll_into_view_if_needed()
        before = img.get_attribute("src")
        page.screenshot(path=str(SHOTS / "1_loaded.png"), full_page=True)

        handle = page.locator(".nfl-checkpoint .noUi-handle").first
        handle.focus()
        page.keyboard.press("Home")            # to the first checkpoint (epoch 0)
        page.wait_for_function("() => document.querySelector('.nfl-status').textContent.includes('epoch 0')", timeout=60_000)
        page.wait_for_function(f"(b) => {{ const i = document.querySelector('{IMG}'); return i && i.src !== b; }}",
                               arg=before, timeout=60_000)
        after = page.locator(IMG).first.get_attribute("src")
        assert after != before
        page.screenshot(path=str(SHOTS / "2_slider_moved.png"), full_page=True)

        select = page.locator(".nfl-explorer select").first
        labels = select.locator("option").all_inner_texts()
        victim = next(t for t in labels if lab["victim"].hash[:8] in t)
        other = next(t for t in labels if t != victim)
        select.select_option(label=other)       # show another run first, so choosing the victim is a change
        other_hash = other.rsplit("[", 1)[1].rstrip("]")
        page.wait_for_function("(h) => document.querySelector('.nfl-status') && "
                               "document.querySelector('.nfl-status').textContent.includes('of run ' + h)",
                               arg=other_hash, timeout=60_000)
        shutil.rmtree(lab["victim"].path)       # delete a run the dropdown still lists
        select.select_option(label=victim)
        msg = page.locator(".nfl-message")
        page.wait_for_function("() => document.querySelector('.nfl-message').textContent.includes('Cannot show this run')",
                               timeout=60_000)
        text = msg.inner_text()
        assert "deleted" in text and "Traceback" not in page.content()
        page.screenshot(path=str(SHOTS / "3_deleted_run_message.png"), full_page=True)
        browser.close()
    print(json.dumps({"screenshots": sorted(str(p) for p in SHOTS.glob("*.png"))}))
