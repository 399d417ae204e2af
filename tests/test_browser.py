"""End to end: JupyterLab in headless Chromium runs a notebook, then we play its rollout player.

The test starts ``jupyter lab`` on localhost, opens the notebook in the smoke profile, runs all cells from
the Run menu, moves the last ClipPlayer's slider, presses Play, checks that the shown frame changes each
time, and saves a screenshot to ``test-artifacts/browser/``.

It needs a Chromium or Chrome and the Python ``playwright`` package (the ``dev`` extra). Which browser:
``tools/find-chromium`` (``$VIDKIT_CHROMIUM``, ``chromium``/``google-chrome``/... on PATH,
``/usr/bin/chromium``, the macOS apps), the lookup ``tools/install-chromium`` uses too; that script
installs Debian's ``chromium`` where it can (root or passwordless sudo, and apt-get). Playwright's own
browser download (``playwright install``) cannot work here. Where either is missing the test fails under
CI (``CI=true``, as ``.ci/run`` sets) and skips otherwise, saying what to install.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import Locator, Page, expect, sync_playwright
except ImportError:  # reported by the `page` fixture: a failure under CI, a skip elsewhere
    sync_playwright = None

NOTEBOOK = "notebooks/01_future_prediction.ipynb"

ROOT = Path(__file__).resolve().parents[1]
ROLLOUT_PLAYER_TITLE = "test sequence"  # notebook 01's rollout player is titled "test sequence <index>"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
FIND_CHROMIUM = ROOT / "tools" / "find-chromium"  # the one Chromium lookup, shared with tools/install-chromium
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # Chromium refuses to start as root with its sandbox on (CI containers run as root)
    "--disable-gpu",  # no GPU: software rendering only
    # The machine has no network beyond localhost. Without these, Chromium's background services
    # (component updates, sync, QUIC probes, safe browsing...) open connections that are refused, many
    # at a time, at every start.
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The live player's outer VBox (vidkit.widgets.ClipPlayer adds the class). `.jupyter-widgets` excludes the
# static GIF fallback <div class="vidkit-clipplayer">, shown only when no widget manager is running.
PLAYER = ".jupyter-widgets.vidkit-clipplayer"

SERVER_START_S = 90
# The smoke profile aims at ~90 s per notebook on 2 cores; notebook 01 took 5 min on a busy machine.
NOTEBOOK_RUN_S = 900

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def in_ci() -> bool:
    """Same reading of ``CI`` as ``vidkit.profiles``."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """A missing browser is an error in CI (the test must not silently vanish), a skip on a laptop."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str:
    """The Chromium (or Chrome) executable tools/find-chromium finds; unavailable() with its message if none."""
    try:
        found = subprocess.run(["bash", str(FIND_CHROMIUM)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        unavailable(f"could not run {FIND_CHROMIUM.relative_to(ROOT)}: {e}")
    if found.returncode != 0 or not found.stdout.strip():
        unavailable(found.stderr.strip() or f"{FIND_CHROMIUM.relative_to(ROOT)} found no Chromium")
    return found.stdout.strip()


# ---------------------------------------------------------------------------------------------------------
# JupyterLab server
# ---------------------------------------------------------------------------------------------------------
@dataclass
class Lab:
    url: str  # http://127.0.0.1:PORT
    token: str
    log: Path

    def api(self, path: str, method: str = "GET", timeout: float = 5) -> Any:
        req = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_lab_settings(settings_dir: Path) -> None:
    """User settings for this throwaway server (the developer's own settings are not read)."""
    settings = {
        # Never write outputs back into the committed notebook (tests/test_repo.py wants it clean).
        "docmanager-extension/plugin": {"autosave": False},
        # Attach every cell to the DOM, so the player exists without scrolling it into a virtual window.
        "notebook-extension/tracker": {"windowingMode": "none"},
        # No news/update checks: they go to the internet and pop up toasts over the page.
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }
    for plugin, values in settings.items():
        path = settings_dir / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def tail(path: Path, n: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    jupyter = Path(sys.executable).with_name("jupyter")  # .venv/bin/jupyter, next to this interpreter
    if importlib.util.find_spec("jupyterlab") is None or not jupyter.exists():
        unavailable(f"JupyterLab is not installed next to {sys.executable} (make install)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    write_lab_settings(tmp_path / "settings")
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        str(jupyter), "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={ROOT}",
        f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",  # no restored tabs from earlier sessions
        # Opening a notebook writes a checkpoint; keep it out of notebooks/.ipynb_checkpoints.
        f"--FileCheckpoints.checkpoint_dir={tmp_path / 'checkpoints'}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: read cell and kernel state exactly
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")  # JupyterLab refuses to run as root otherwise (containers, CI)
    env = {
        **os.environ,
        "VIDKIT_PROFILE": "smoke", "CI": "true", "MPLBACKEND": "Agg",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),  # ignore ~/.jupyter
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    log_path = ARTIFACTS / "jupyter.log"
    with log_path.open("w") as log:
        # A session of its own, so teardown can signal the whole process group.
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        server = Lab(f"http://127.0.0.1:{port}", token, log_path)
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{tail(log_path)}", pytrace=False)
                try:
                    server.api("/api/status")
                    break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    if time.monotonic() > deadline:
                        pytest.fail(f"jupyter lab not up after {SERVER_START_S}s:\n{tail(log_path)}", pytrace=False)
                    time.sleep(0.5)
            yield server
        finally:
            stop_server(proc, server)


def stop_server(proc: subprocess.Popen, server: Lab) -> None:
    """Shut down through the API first: kernels run in sessions of their own (jupyter_client starts them
    with start_new_session), so only the server can stop them. Then signal the server's process group."""
    if proc.poll() is None:
        try:
            server.api("/api/shutdown", method="POST")
            proc.wait(timeout=20)
        except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
            pass
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)  # the group also holds anything the server started in it
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue


# ---------------------------------------------------------------------------------------------------------
# Browser
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def page() -> Iterator[Page]:
    if sync_playwright is None:
        unavailable("Python package playwright is not installed (it is in the dev extra: make install)")
    chromium = find_chromium()
    with sync_playwright() as pw:
        try:
            # Playwright gives it a fresh, empty user-data-dir.
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        except PlaywrightError as e:
            unavailable(f"Chromium ({chromium}) did not start: {e}")
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            pg = context.new_page()
            pg.set_default_timeout(60_000)
            yield pg
        finally:
            browser.close()


# Reads the open notebook's model through the app object (exposed by --LabApp.expose_app_in_browser):
# kernel status, how many non-empty code cells have no execution count yet, every error output, and how
# many outputs are live ClipPlayers (a widget view whose text/plain is the player's repr).
NOTEBOOK_STATE_JS = """
(path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
  if (!panel || !panel.context.isReady) return null;
  const kernel = panel.sessionContext.session ? panel.sessionContext.session.kernel : null;
  const cells = panel.content.model.toJSON().cells;
  let code = 0, pending = 0, players = 0;
  const errors = [];
  cells.forEach((c, i) => {
    if (c.cell_type !== 'code' || ![].concat(c.source).join('').trim()) return;
    code += 1;
    if (c.execution_count === null || c.execution_count === undefined) pending += 1;
    for (const o of c.outputs) {
      const data = o.data || {};
      if (data['application/vnd.jupyter.widget-view+json'] && [].concat(data['text/plain'] || '').join('').startsWith('ClipPlayer('))
        players += 1;
      if (o.output_type === 'error')
        errors.push(`cell ${i}: ${o.ename}: ${o.evalue}\\n${(o.traceback || []).join('\\n')}`);
    }
  });
  return {kernel: kernel ? kernel.status : null, code, pending, errors, players};
}
"""


def notebook_state(page: Page, path: str) -> dict[str, Any] | None:
    return page.evaluate(NOTEBOOK_STATE_JS, path)


def run_all_cells(page: Page, path: str) -> dict[str, Any]:
    """Run > Run All Cells, then wait until every code cell ran and the kernel is idle; return the state."""
    page.wait_for_function(
        f"() => {{ const s = ({NOTEBOOK_STATE_JS})({json.dumps(path)}); return s && s.kernel === 'idle'; }}",
        timeout=120_000,
    )
    state = notebook_state(page, path)
    assert state and state["code"] > 0 and state["pending"] == state["code"], (
        f"{path} should open with no executed cells: {state}"
    )
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    start = time.monotonic()
    while True:
        state = notebook_state(page, path)
        assert state is not None, f"the notebook {path} is no longer open"
        if state["errors"]:
            ansi = re.compile(r"\x1b\[[0-9;]*m")
            pytest.fail(f"{path} raised:\n" + "\n\n".join(ansi.sub("", e) for e in state["errors"]), pytrace=False)
        if state["kernel"] in ("dead", "unknown"):
            pytest.fail(f"the kernel is {state['kernel']}", pytrace=False)
        if state["pending"] == 0 and state["kernel"] == "idle":
            return {**state, "seconds": time.monotonic() - start}
        if time.monotonic() - start > NOTEBOOK_RUN_S:
            pytest.fail(f"{path} still running after {NOTEBOOK_RUN_S}s: {state}", pytrace=False)
        time.sleep(1)


Frame = tuple[str, bytes]  # (slider readout, screenshot of the image the player shows)


def shown_frame(player: Locator) -> Frame | None:
    """The frame on screen, or None while the player is between frames: the Stack shows one child at a
    time and replaces the child's view on every change, so for a moment there may be no image at all."""
    image = player.locator("img:visible")
    try:
        if image.count() != 1:
            return None
        return player.locator(".widget-readout").inner_text().strip(), image.screenshot(timeout=5_000)
    except PlaywrightError:  # the image was replaced while we looked at it
        return None


def wait_for_frame(player: Locator, old: Frame | None = None, timeout_s: float = 15) -> Frame:
    """The shown frame, once there is one (and, given ``old``, once both readout and picture differ)."""
    deadline = time.monotonic() + timeout_s
    while True:
        frame = shown_frame(player)
        if frame is not None and (old is None or (frame[0] != old[0] and frame[1] != old[1])):
            return frame
        if time.monotonic() > deadline:
            what = "no single frame shown" if frame is None else f"still frame {frame[0]!r}"
            pytest.fail(f"the player's frame did not change within {timeout_s}s ({what})", pytrace=False)
        time.sleep(0.2)


# ---------------------------------------------------------------------------------------------------------
def test_notebook_runs_and_player_plays_in_jupyterlab(page: Page, lab: Lab) -> None:
    nb = NOTEBOOK
    screenshot = ARTIFACTS / "notebook01.png"
    try:
        page.goto(f"{lab.url}/lab/tree/{nb}?token={lab.token}", wait_until="domcontentloaded")
        state = run_all_cells(page, nb)
        print(f"{nb}: all cells ran in {state['seconds']:.0f}s, {state['players']} ClipPlayer(s)")
        assert state["players"] > 0, f"{nb} shows no ClipPlayer"

        # Widget views render asynchronously: wait for all of them before picking the rollout player.
        players = page.locator(PLAYER)
        page.wait_for_function(
            f"() => document.querySelectorAll({json.dumps(PLAYER)}).length >= {state['players']}"
        )
        player = players.filter(has_text=ROLLOUT_PLAYER_TITLE).first  # section 6's rollout player
        player.scroll_into_view_if_needed()
        player.wait_for(state="visible")

        # Scrub: focus the slider's handle and step it with the keyboard (noUiSlider handles arrow keys).
        first = wait_for_frame(player)
        assert first[0] == "0", f"the player should start at frame 0, shows {first[0]!r}"
        player.locator(".noUi-handle").focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        scrubbed = wait_for_frame(player, first)
        assert scrubbed[0] == "3", f"three ArrowRight presses should show frame 3, not {scrubbed[0]!r}"

        # Play (the first button of the Play widget toggles play/pause) until the slider moves, then pause
        # and look at the picture. Screenshots while playing are unreliable: at 8 fps the image element is
        # replaced faster than a busy machine takes a screenshot of it.
        play = player.locator(".widget-play button").first
        play.click()
        expect(player.locator(".widget-readout")).not_to_have_text(scrubbed[0], timeout=15_000)
        play.click()
        played = wait_for_frame(player, scrubbed)
        print(f"slider: frame {first[0]} -> {scrubbed[0]}; after Play: frame {played[0]}")
        player.scroll_into_view_if_needed()
    finally:
        try:
            page.screenshot(path=screenshot)  # the end state, on failure too
        except PlaywrightError as e:
            print(f"no screenshot: {e}")
        # Autosave is off, so JupyterLab must not have written outputs into the committed notebook.
        # (Only report it: someone may be editing the file, so never write it back.)
        cells = json.loads((ROOT / nb).read_text())["cells"]
        if any(c.get("outputs") for c in cells):
            pytest.fail(f"{nb} now holds outputs: JupyterLab saved it during the test", pytrace=False)
