"""The demo in a real browser: headless Chromium (Debian's package, installed by .ci/run) driven by Playwright.

The README's picture, ``docs/demo.png``, is the full-page screenshot these tests save at 1440 pixels:
``cp test-artifacts/demo_incident_1440.png docs/demo.png`` after a run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support import REPO

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)"),
              pytest.mark.slow, pytest.mark.e2e]  # a server and a browser

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
        "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]
ARTIFACTS = Path(os.environ.get("OPENSOC_TEST_ARTIFACTS", REPO / "test-artifacts"))


def test_demo_in_headless_chromium(live_server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{live_server}/demo/", wait_until="domcontentloaded")
            log_window = page.locator("#log-window")
            log_window.wait_for(timeout=60_000)
            first = log_window.inner_text()

            page.get_by_role("button", name="Next incident").click()
            page.wait_for_function("prev => { const w = document.querySelector('#log-window');"
                                   " return w !== null && w.innerText !== prev; }", arg=first, timeout=30_000)
            baseline, trained = page.locator("#baseline-decision").inner_text(), page.locator("#trained-decision").inner_text()
            assert "Baseline: heuristic" in baseline and "Action:" in baseline and "Reward:" in baseline
            assert "Trained: cpu_defender" in trained and "Action:" in trained
            assert "Ground truth" in page.locator("#ground-truth").inner_text()
            page.screenshot(path=str(ARTIFACTS / "demo_incident.png"))

            page.get_by_role("tab", name="Attacker").click()
            page.locator("#craft-json .cm-content").click()
            page.keyboard.press("Control+A")
            page.keyboard.type('{"category": "ransomware", ')
            page.get_by_role("button", name="Check incident").click()
            error = page.locator("#attacker-error")
            error.get_by_text("Invalid JSON").wait_for(timeout=30_000)
            assert "line 1, column" in error.inner_text()
            assert "Traceback" not in page.content()
            page.screenshot(path=str(ARTIFACTS / "demo_attacker_error.png"))

            page.get_by_role("tab", name="Investigation").click()
            title = page.locator("#replay-title")
            title.get_by_text("Alert").wait_for(timeout=30_000)
            page.get_by_role("button", name="Next step").click()
            title.get_by_text("Call 1").wait_for(timeout=30_000)
            assert page.locator("#replay-events tr[data-log-id]").count() >= 1
            page.screenshot(path=str(ARTIFACTS / "demo_investigation.png"))
        finally:
            browser.close()
    assert (ARTIFACTS / "demo_incident.png").stat().st_size > 10_000


# Widths from a small laptop window up: the log window and the page must fit, nothing cut off or scrolled sideways.
WIDTHS = (800, 1024, 1440, 1920)


def test_demo_reads_from_800_pixels_up(live_server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(f"{live_server}/demo/", wait_until="domcontentloaded")
                page.locator("#log-window").wait_for(timeout=60_000)
                fit = page.evaluate("""() => {
                    const w = document.querySelector('#log-window'), t = w.querySelector('table');
                    const cells = [...t.querySelectorAll('td, th')];
                    return {page: document.documentElement.scrollWidth, table: t.scrollWidth, window: w.clientWidth,
                            clipped: cells.filter(c => c.scrollWidth > c.clientWidth + 1).length,
                            right: Math.max(...cells.map(c => c.getBoundingClientRect().right))};
                }""")
                assert fit["page"] <= width, (width, fit)  # no sideways scrolling of the page
                assert fit["table"] <= fit["window"] and fit["right"] <= width and fit["clipped"] == 0, (width, fit)
                page.screenshot(path=str(ARTIFACTS / f"demo_incident_{width}.png"), full_page=True)
                page.get_by_role("tab", name="Investigation").click()
                page.locator("#replay-title").get_by_text("Alert").wait_for(timeout=30_000)
                assert page.evaluate("() => document.documentElement.scrollWidth") <= width
                page.close()
        finally:
            browser.close()


# Text the incident page shows in its sans-serif font, bold and regular: headings, labels, buttons, the decisions, the
# log window's header and plain cells.
SANS_TEXT = ["#alert-header h2", "#alert-header h3", "#alert-header p", "#baseline-decision h3", "#baseline-decision p",
             "#baseline-decision strong", "#ground-truth h3", "#ground-truth p", "#log-window th",
             "#log-window td:not(.fields)", "button#next-incident", "button[role=tab]", "label span"]


def _rendered_fonts(page, selectors: list[str]) -> list[dict]:
    """Per element: its selector, computed weight and the fonts Chromium actually drew its text with (DevTools'
    'Rendered Fonts'), which tells a face that lacks a glyph from the one named in the CSS."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]["nodeId"]
    seen = []
    for selector in selectors:
        for node in cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": selector})["nodeIds"][:3]:
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            style = {c["name"]: c["value"] for c in cdp.send("CSS.getComputedStyleForNode", {"nodeId": node})["computedStyle"]}
            if fonts:
                seen.append({"selector": selector, "weight": int(style["font-weight"]),
                             "families": sorted({f["familyName"] for f in fonts}),
                             "faces": sorted({f["postScriptName"] for f in fonts})})
    return seen


def test_demo_text_is_one_font_family_at_every_weight(live_server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"{live_server}/demo/", wait_until="domcontentloaded")
            page.locator("#log-window").wait_for(timeout=60_000)
            page.evaluate("document.fonts.ready.then(() => true)")
            seen = _rendered_fonts(page, SANS_TEXT)
        finally:
            browser.close()
    assert {s["weight"] for s in seen} >= {400, 600, 700}, seen  # regular, semibold and bold text were all looked at
    families = {family for s in seen for family in s["families"]}
    assert len(families) == 1, seen  # no letter drawn by a fallback font
    bold = {face for s in seen if s["weight"] >= 600 for face in s["faces"]}
    assert bold and all("Bold" in face for face in bold), seen  # bold text drawn with a bold face, not synthesised
