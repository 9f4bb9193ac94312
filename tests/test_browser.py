"""The explorers in a real browser: JupyterLab in headless Chromium runs notebook 00, then a
slider is dragged with the keyboard and the picture must follow.

Needs Debian's chromium (/usr/bin/chromium, installed by .ci/run) and the playwright
Python package (the dev extra); playwright never downloads a browser of its own here.
"""
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

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A throwaway JupyterLab server on 127.0.0.1 serving a copy of the notebooks folder."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", root)
    config = tmp / "config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": {
        "@jupyterlab/apputils-extension:announcements": True}}))
    port, token = _free_port(), "fmlite-test-token"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTERLAB_WORKSPACES_DIR=str(tmp / "ws"))
    env.pop("MPLBACKEND", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=open(tmp / "server.log", "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("JupyterLab did not start within 60 s")
            time.sleep(0.5)
    yield base, token
    server.terminate()
    server.wait(timeout=20)


def test_slider_in_jupyterlab_redraws_the_flow(lab):
    playwright = pytest.importorskip("playwright.sync_api")
    base, token = lab
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
            "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/lab/tree/00_start_here.ipynb?reset&token={token}")
        page.wait_for_selector(".jp-Notebook", timeout=60_000)
        page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')")
        # wait until the notebook's kernel is connected and idle (the status bar says idle before that)
        page.wait_for_function(
            "() => { const w = window.jupyterapp.shell.currentWidget; const k = w && w.sessionContext"
            " && w.sessionContext.session && w.sessionContext.session.kernel;"
            " return k && k.connectionStatus === 'connected' && k.status === 'idle'; }", timeout=90_000)
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); return true; }")
        slider = page.locator(".widget-slider .noUi-handle").first
        slider.wait_for(timeout=120_000)
        label = page.locator(".widget-label", has_text="t = ").first
        label.wait_for(timeout=60_000)
        image = page.locator(".widget-image").first
        before_label, before_src = label.inner_text(), image.get_attribute("src")
        slider.focus()
        for _ in range(10):
            page.keyboard.press("ArrowLeft")
        page.wait_for_function(
            "([old]) => { const l = [...document.querySelectorAll('.widget-label')].find(e => e.innerText.startsWith('t = '));"
            " return l && l.innerText !== old; }", arg=[before_label], timeout=30_000)
        page.wait_for_timeout(1500)  # let the last of the streamed slider events land
        after_label = label.inner_text()
        assert after_label != before_label and after_label.startswith("t = ")
        assert image.get_attribute("src") != before_src
        assert page.locator("text=Error displaying widget").count() == 0
        page.screenshot(path=str(Path(os.environ.get("FMLITE_SCREENSHOT_DIR", "/tmp")) / "fmlite_lab.png"))
        browser.close()
