"""End to end, as a learner uses the kit: JupyterLab in headless Chromium runs every notebook, and we
operate every widget, shut the kernel down, and operate the players again.

One ``jupyter lab`` on localhost serves clean copies of the notebooks (the working copies through
``tools/nbstrip.py``, so outputs a learner saved in ``make lab`` neither break the test nor get
overwritten). For each notebook, in the smoke profile: Run All Cells from the Run menu; scrub every
ClipPlayer with the keyboard and press Play on one; pick another clip in every clip picker; press
"random clip" in the neighbour browser; then Kernel > Shut Down Kernel, scrub every player again (they
are linked in the browser, so they keep working), and check that the widgets which need a kernel say so.
Notebook 06's attention explorer is operated (another position, another head) with and without the kernel.
Notebook 05's audio-visual players and cross-modal browser are checked for videos with sound (an MP4 in a data
URI with a video and an audio track), and the browser must show other neighbours when another query is picked,
before and after the shutdown (its results are precomputed and linked in the page). Screenshots of both states
go to ``test-artifacts/browser/<notebook>.png`` and ``...-no-kernel.png``.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import Locator, Page, expect, sync_playwright
except ImportError:  # reported by the `page` fixture: a failure under CI, a skip elsewhere
    sync_playwright = None

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
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
# The live player's outer VBox (vidkit.viz.widgets.ClipPlayer adds the class). `.jupyter-widgets` excludes the
# static GIF fallback <div class="vidkit-clipplayer">, shown only when no widget manager is running.
PLAYER = ".jupyter-widgets.vidkit-clipplayer"
PICKER = ".jupyter-widgets.vidkit-clippicker"
BROWSER = ".jupyter-widgets.vidkit-neighbour-browser"
# Notebook 05's widgets (vidkit.viz.av.AVPlayer, vidkit.viz.crossmodal.CrossModalBrowser): HTML5 videos with sound.
AVPLAYER = ".jupyter-widgets.vidkit-avplayer"
CROSSMODAL = ".jupyter-widgets.vidkit-crossmodal-browser"
# Notebook 06's attention explorer (vidkit.viz.hero.TransformerAttentionExplorer): pages linked in the browser.
ATTENTION = ".jupyter-widgets.vidkit-transformer-attention"
# Notebook 01's weight viewer (vidkit.viz.weights.WeightViewer): pre-rendered pages linked in the browser.
WEIGHTS = ".jupyter-widgets.vidkit-weight-viewer"

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


def clean_copies(folder: Path) -> Path:
    """``folder/notebooks/``: every notebook's working copy without outputs (tools/nbstrip.py), served instead
    of the working copies: a learner's saved outputs stay theirs, and the test starts from clean notebooks."""
    spec = importlib.util.spec_from_file_location("nbstrip", ROOT / "tools" / "nbstrip.py")
    nbstrip = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nbstrip)
    out = folder / "notebooks"
    out.mkdir(parents=True)
    for name in NOTEBOOKS:
        (out / name).write_bytes(nbstrip.clean((ROOT / "notebooks" / name).read_bytes()))
    return folder


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    jupyter = Path(sys.executable).with_name("jupyter")  # .venv/bin/jupyter, next to this interpreter
    if importlib.util.find_spec("jupyterlab") is None or not jupyter.exists():
        unavailable(f"JupyterLab is not installed next to {sys.executable} (make install)")
    find_chromium()  # no browser: skip (or fail under CI) before starting a server
    tmp_path = tmp_path_factory.mktemp("lab")
    served = clean_copies(tmp_path / "root")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    write_lab_settings(tmp_path / "settings")
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        str(jupyter), "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={served}",
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
        proc = subprocess.Popen(cmd, cwd=served, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
# Operating the widgets
# ---------------------------------------------------------------------------------------------------------
def scrub(page: Page, player: Locator, presses: int = 2) -> None:
    """Step the player's slider with the keyboard (noUiSlider handles arrow keys); the readout and the
    picture must both change."""
    player.scroll_into_view_if_needed()
    before = wait_for_frame(player)
    player.locator(".noUi-handle").focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    wait_for_frame(player, before)


def play(player: Locator) -> None:
    """Press Play (the first button of the Play widget toggles play/pause) until the frame moves, then pause.
    Screenshots while playing are unreliable: at 8 fps the image is replaced faster than a busy machine
    takes a screenshot of it."""
    readout = player.locator(".widget-readout")
    shown = readout.inner_text().strip()
    button = player.locator(".widget-play button").first
    button.click()
    expect(readout).not_to_have_text(shown, timeout=15_000)
    button.click()


def pick_another_clip(picker: Locator) -> None:
    """Choose the next clip in a clip picker's dropdown; the player it shows must change."""
    picker.scroll_into_view_if_needed()
    select = picker.locator("select").first
    options = select.locator("option")
    assert options.count() >= 2, "a clip picker with a single clip"
    current = select.input_value()
    values = [options.nth(i).get_attribute("value") for i in range(options.count())]
    def picture() -> bytes | None:  # None while the picker swaps the explorer's view (a detached element)
        try:
            return picker.locator(PLAYER).first.locator("img:visible").screenshot(timeout=5_000)
        except PlaywrightError:
            return None

    deadline = time.monotonic() + 60
    while (before := picture()) is None:
        assert time.monotonic() < deadline, "the clip picker shows no picture"
        time.sleep(0.5)
    select.select_option(next(v for v in values if v != current))
    deadline = time.monotonic() + 60  # the kernel builds the picked clip's explorer
    while (after := picture()) is None or after == before:
        assert time.monotonic() < deadline, "picking another clip did not change the shown clip"
        time.sleep(0.5)


def search_a_random_clip(browser: Locator) -> None:
    """Press "random clip" in the neighbour browser; what it shows must change."""
    browser.scroll_into_view_if_needed()
    before = browser.inner_html()
    browser.get_by_role("button", name="random clip").click()
    deadline = time.monotonic() + 60
    while browser.inner_html() == before:
        assert time.monotonic() < deadline, "the neighbour browser did not react to 'random clip'"
        time.sleep(0.5)


# What a <video> element holds: its source must be an MP4 in a data URI (the page needs no server and no kernel)
# with an H.264 video track ('avc1') and an AAC audio track ('mp4a', the sample entry of an AAC stream).
VIDEO_JS = """
(v) => {
  const src = v.currentSrc || v.getAttribute('src') || '';
  const comma = src.indexOf(',');
  const bytes = comma >= 0 ? atob(src.slice(comma + 1)) : '';
  return {dataUri: src.startsWith('data:video/mp4;base64,'), bytes: bytes.length, avc1: bytes.includes('avc1'),
          mp4a: bytes.includes('mp4a'), controls: v.controls,
          playable: v.canPlayType('video/mp4; codecs="avc1.42E01E, mp4a.40.2"'), readyState: v.readyState,
          duration: v.duration, error: v.error ? v.error.code : null};
}
"""


def check_videos_with_sound(widget: Locator, what: str) -> int:
    """Every <video> shown in ``widget`` has controls and an MP4 data URI with a video and an audio track; where
    this Chromium can decode H.264 + AAC, the first one also loads (its metadata gives a duration). Returns the
    number of videos."""
    widget.scroll_into_view_if_needed()
    videos = widget.locator("video:visible")
    expect(videos.first).to_be_attached(timeout=30_000)
    n = videos.count()
    for i in range(n):
        info = videos.nth(i).evaluate(VIDEO_JS)
        assert info["dataUri"] and info["controls"], f"{what}: video {i} is not a playable data-URI MP4: {info}"
        assert info["avc1"] and info["mp4a"], f"{what}: video {i}'s MP4 lacks a video or an audio track: {info}"
    first = videos.first
    if first.evaluate(VIDEO_JS)["playable"]:
        deadline = time.monotonic() + 30
        while (info := first.evaluate(VIDEO_JS))["readyState"] < 1:
            assert info["error"] is None, f"{what}: Chromium could not load the video: {info}"
            assert time.monotonic() < deadline, f"{what}: the video did not load its metadata: {info}"
            time.sleep(0.2)
        assert info["duration"] > 0, f"{what}: the video has no duration: {info}"
    return n


def pick_another_query(browser: Locator) -> None:
    """Pick the next query in the cross-modal browser's list (a <select> linked in the page to the result pages):
    the neighbours shown must change, and still be videos with sound."""
    browser.scroll_into_view_if_needed()
    select = browser.locator("select").first
    n = select.locator("option").count()
    assert n >= 2, "a cross-modal browser with a single query"
    current = select.evaluate("s => s.selectedIndex")
    before = browser.inner_text()
    select.select_option(index=(current + 1) % n)
    deadline = time.monotonic() + 30
    while browser.inner_text() == before:
        assert time.monotonic() < deadline, "picking another query did not change the shown neighbours"
        time.sleep(0.3)
    check_videos_with_sound(browser, "cross-modal browser")


def explore_attention(explorer: Locator, head: str) -> None:
    """Notebook 06's attention explorer: another query position changes the row view, another ``head`` button
    ("mean of heads", "head 0") changes the attention matrix picture (selectors linked in the page to nested
    stacks of pre-built pages)."""
    explorer.scroll_into_view_if_needed()

    def wait_until(changed: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 30
        while not changed():
            assert time.monotonic() < deadline, f"the attention explorer: {what}"
            time.sleep(0.3)

    select = explorer.locator("select").first
    n = select.locator("option").count()
    assert n >= 2, "an attention explorer with a single query position"
    before = explorer.inner_text()
    select.select_option(index=(select.evaluate("s => s.selectedIndex") + 1) % n)
    wait_until(lambda: explorer.inner_text() != before, "another query position did not change the row view")
    picture = explorer.locator("img:visible").first
    expect(picture).to_be_visible()
    src = picture.get_attribute("src")
    explorer.get_by_role("button", name=head, exact=True).first.click()
    wait_until(lambda: explorer.locator("img:visible").first.get_attribute("src") != src,
               f"{head!r} did not change the matrix picture")


def switch_weights(viewer: Locator, part: str) -> None:
    """Notebook 01's weight viewer: the ``part`` button ("future decoder output", "encoder input") must change the
    picture shown (the buttons are linked in the page to a stack of pre-rendered pages)."""
    viewer.scroll_into_view_if_needed()
    picture = viewer.locator("img:visible").first
    expect(picture).to_be_visible()
    src = picture.get_attribute("src")
    viewer.get_by_role("button", name=part, exact=True).first.click()
    deadline = time.monotonic() + 30
    while viewer.locator("img:visible").first.get_attribute("src") == src:
        assert time.monotonic() < deadline, f"the weight viewer: {part!r} did not change the picture"
        time.sleep(0.3)


def shut_down_kernel(page: Page, path: str) -> None:
    """Kernel > Shut Down Kernel, then wait until the notebook has no running kernel."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Shut Down Kernel$")).click()
    page.wait_for_function(
        f"() => {{ const s = ({NOTEBOOK_STATE_JS})({json.dumps(path)}); "
        "return s && (s.kernel === null || s.kernel === 'dead'); }",
        timeout=60_000,
    )


def screenshot(page: Page, name: str) -> None:
    try:
        page.screenshot(path=ARTIFACTS / name, full_page=True)
    except PlaywrightError as e:
        print(f"no screenshot {name}: {e}")


# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_its_widgets_work_with_and_without_a_kernel(page: Page, lab: Lab, name: str) -> None:
    nb, stem = f"notebooks/{name}", Path(name).stem
    try:
        page.goto(f"{lab.url}/lab/tree/{nb}?token={lab.token}", wait_until="domcontentloaded")
        state = run_all_cells(page, nb)
        # Widget views render asynchronously: wait for the players the outputs announce.
        page.wait_for_function(f"() => document.querySelectorAll({json.dumps(PLAYER)}).length >= {state['players']}")
        players, pickers, browsers = page.locator(PLAYER), page.locator(PICKER), page.locator(BROWSER)
        av_players, crossmodal, attention = page.locator(AVPLAYER), page.locator(CROSSMODAL), page.locator(ATTENTION)
        weights = page.locator(WEIGHTS)
        counts = {"players": players.count(), "clip pickers": pickers.count(), "neighbour browsers": browsers.count(),
                  "AV players": av_players.count(), "cross-modal browsers": crossmodal.count(),
                  "attention explorers": attention.count(), "weight viewers": weights.count()}
        print(f"{nb}: all cells ran in {state['seconds']:.0f}s; {counts}")
        assert sum(counts.values()) > 0, f"{nb} shows no widget to operate"

        for i in range(counts["players"]):
            scrub(page, players.nth(i))
        if counts["players"]:
            play(players.first)
        for i in range(counts["clip pickers"]):
            pick_another_clip(pickers.nth(i))
        for i in range(counts["neighbour browsers"]):
            search_a_random_clip(browsers.nth(i))
        for i in range(counts["AV players"]):
            check_videos_with_sound(av_players.nth(i), f"AV player {i}")
        for i in range(counts["cross-modal browsers"]):
            pick_another_query(crossmodal.nth(i))
        for i in range(counts["attention explorers"]):
            explore_attention(attention.nth(i), "mean of heads")
        for i in range(counts["weight viewers"]):
            switch_weights(weights.nth(i), "future decoder output")
        screenshot(page, f"{stem}.png")

        shut_down_kernel(page, nb)
        for i in range(players.count()):  # linked in the browser: they keep playing without a kernel
            scrub(page, players.nth(i))
        for widget in (*(pickers.nth(i) for i in range(counts["clip pickers"])),
                       *(browsers.nth(i) for i in range(counts["neighbour browsers"]))):
            expect(widget).to_contain_text("running kernel")  # what needs the kernel says so
        for i in range(counts["AV players"]):  # everything is in the page: still videos with sound
            check_videos_with_sound(av_players.nth(i), f"AV player {i}, no kernel")
        for i in range(counts["cross-modal browsers"]):  # the query list is linked in the browser
            pick_another_query(crossmodal.nth(i))
        for i in range(counts["attention explorers"]):  # so are the explorer's selectors
            explore_attention(attention.nth(i), "head 0")
        for i in range(counts["weight viewers"]):  # and the weight viewer's
            switch_weights(weights.nth(i), "encoder input")
        screenshot(page, f"{stem}-no-kernel.png")
    except BaseException:
        screenshot(page, f"{stem}-failed.png")
        raise
