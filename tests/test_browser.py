"""End-to-end test of the web page in headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

Starts the real server (``python -m hwocr serve``) on 127.0.0.1 and a free port, writes characters on the
canvas with the mouse and a (synthetic) pen, and checks the recognised text. Screenshots go to test-artifacts/.
Needs: apt-get install chromium chromium-driver fonts-noto-cjk; pip install playwright (never 'playwright install').
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path(os.environ.get("HWOCR_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium chromium-driver)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# strokes in a unit box (x0, y0, x1, y1), drawn top-to-bottom / left-to-right like a writer would
GLYPHS = {
    "一": [(0.1, 0.5, 0.9, 0.5)],
    "二": [(0.22, 0.3, 0.78, 0.3), (0.1, 0.72, 0.9, 0.72)],
    "十": [(0.1, 0.45, 0.9, 0.45), (0.5, 0.08, 0.5, 0.92)],
    "三": [(0.22, 0.2, 0.78, 0.2), (0.28, 0.5, 0.72, 0.5), (0.1, 0.8, 0.9, 0.8)],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "hwocr", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--lang-preload", "zh", "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see {ARTIFACTS / 'server.log'}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 90 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 960}, device_scale_factor=1)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server + "/")
    pg.wait_for_selector("#pad")
    yield pg
    ctx.close()
    assert not errors, errors


def draw(page, text: str, size: float = 150, left: float = 40, top: float = 60, pitch: float = 1.1) -> None:
    """Write ``text`` on the canvas with the mouse (each character a size x size box)."""
    box = page.locator("#pad").bounding_box()
    for k, ch in enumerate(text):
        ox = box["x"] + left + k * size * pitch
        oy = box["y"] + top
        for x0, y0, x1, y1 in GLYPHS[ch]:
            page.mouse.move(ox + x0 * size, oy + y0 * size)
            page.mouse.down()
            page.mouse.move(ox + x1 * size, oy + y1 * size, steps=12)
            page.mouse.up()


def wait_text(page, expected: str, timeout: float = 15_000) -> None:
    try:
        page.wait_for_function("(t) => document.getElementById('result-text').value === t", arg=expected,
                               timeout=timeout)
    except sync_api.TimeoutError:
        got = page.input_value("#result-text")
        status = page.text_content("#status")
        raise AssertionError(f"expected {expected!r}, page shows {got!r} (status: {status!r})") from None


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    p = ARTIFACTS / name
    page.screenshot(path=str(p), full_page=True)
    return p


def test_write_recognise_correct(page):
    draw(page, "十二")
    wait_text(page, "十二")
    chips = page.locator("#chars .char")
    assert chips.count() == 2
    # every character shows its confidence and its top-k candidates
    assert page.locator("#chars .char").first.locator(".alt").count() >= 3
    assert "%" in page.text_content("#chars .char .conf")
    shot(page, "browser-write.png")

    # clicking a candidate replaces that character in the text box
    alt = page.locator('#chars .char[data-index="1"] .alt:not(.current)').first
    new = alt.get_attribute("data-char")
    alt.click()
    assert page.input_value("#result-text") == "十" + new
    assert page.locator('#chars .char[data-index="1"]').get_attribute("class").endswith("edited")

    # undo the two strokes of 二, then write 三 instead
    page.click("#undo")
    page.click("#undo")
    wait_text(page, "十")
    draw(page, "三", left=40 + 150 * 1.1)
    wait_text(page, "十三")
    page.click("#clear")
    assert page.input_value("#result-text") == ""
    assert page.locator("#chars .char").count() == 0


def test_language_switch_and_pen(page):
    page.check('input[name="lang"][value="ja"]', force=True)
    # a pen (pointerType "pen" with pressure), as a tablet would send it
    page.evaluate("""() => {
        const pad = document.getElementById('pad');
        const r = pad.getBoundingClientRect();
        const ev = (type, x, y) => pad.dispatchEvent(new PointerEvent(type, {
            pointerId: 7, pointerType: 'pen', pressure: 0.7, isPrimary: true, bubbles: true, button: 0,
            buttons: type === 'pointerup' ? 0 : 1, clientX: r.left + x, clientY: r.top + y}));
        const line = (x0, y0, x1, y1) => {
            ev('pointerdown', x0, y0);
            for (let k = 1; k <= 12; k++) ev('pointermove', x0 + (x1 - x0) * k / 12, y0 + (y1 - y0) * k / 12);
            ev('pointerup', x1, y1);
        };
        line(55, 105, 175, 105);  line(40, 168, 190, 168);   // 二
    }""")
    wait_text(page, "二")
    page.check('input[name="lang"][value="zh"]', force=True)  # re-reads the same strokes in Chinese
    page.wait_for_function("() => document.getElementById('status').textContent.includes('characters')")
    wait_text(page, "二")


def test_upload_line_image(page, tmp_path):
    import cv2

    h = 80
    img = np.full((h, h * 3, 3), 255, np.uint8)
    for k, ch in enumerate("三二十"):
        for x0, y0, x1, y1 in GLYPHS[ch]:
            cv2.line(img, (int(k * h + x0 * h), int(y0 * h)), (int(k * h + x1 * h), int(y1 * h)), (0, 0, 0), 6,
                     cv2.LINE_AA)
    f = tmp_path / "line.png"
    cv2.imwrite(str(f), img)
    page.set_input_files("#file", str(f))
    wait_text(page, "三二十")
    page.wait_for_selector("#preview:not([hidden])")
    shot(page, "browser-upload.png")



def test_upload_page(page, tmp_path):
    """Whole-page mode: the lines come back with their outlines drawn over the image."""
    sample = ROOT / "samples" / "zh-line.png"
    if not sample.exists():
        pytest.skip("samples/zh-line.png not present")
    page.check('input[name="mode"][value="page"]', force=True)
    page.set_input_files("#file", str(sample))
    page.wait_for_function("() => /line|not available|error/.test(document.getElementById('status').textContent)"
                           " && !document.getElementById('status').className.includes('busy')", timeout=30_000)
    health = httpx.get(page.url.rstrip("/") + "/healthz").json()
    if not health["page"]:
        assert "not available" in page.text_content("#status")
        shot(page, "browser-page-mode.png")
        return
    page.wait_for_selector("#page-lines li")
    assert page.input_value("#result-text").strip()
    # the overlay has something drawn on it (the line outline)
    painted = page.evaluate("""() => {
        const c = document.getElementById('overlay');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
    }""")
    assert painted > 100
    shot(page, "browser-page-mode.png")


def test_bad_upload_shows_error(page, tmp_path):
    f = tmp_path / "broken.png"
    f.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    page.set_input_files("#file", str(f))
    page.wait_for_function("() => document.getElementById('status').className.includes('error')")
    assert "upload:" in page.text_content("#status")
    # and the server still answers
    draw(page, "一")
    wait_text(page, "一")
