"""The mini-program's Jest suite (miniprogram/test), run from the README's test command.

Jest renders each page with miniprogram-simulate and a stubbed ``wx`` whose ``wx.request`` calls a
real seeded server of ours (``tests/miniprogram/stack.py``, started by Jest's global setup with this
interpreter). The npm packages come from ``miniprogram/package-lock.json`` (``npm ci``); without
Node the test fails rather than skips, so a green run always means the pages were tested. Then the
pages Jest saved as HTML are screenshotted in Chromium at a phone's width.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MINIPROGRAM = ROOT / "miniprogram"
ARTIFACTS = MINIPROGRAM / "test" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
MIN_TESTS = 20  # the suite's size when this was written: fewer means test files went missing


def _npm_ci() -> None:
    lock = MINIPROGRAM / "package-lock.json"
    stamp = MINIPROGRAM / "node_modules" / ".package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=MINIPROGRAM, check=True, timeout=600)


def test_miniprogram_pages_against_the_real_server(tmp_path: Path) -> None:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.fail("Node.js and npm are required for the mini-program tests (apt-get install -y nodejs npm)")
    _npm_ci()
    report = tmp_path / "jest.json"
    env = {**os.environ, "PYTHON": sys.executable, "MP_ARTIFACTS": str(ARTIFACTS)}
    run = subprocess.run(
        [str(MINIPROGRAM / "node_modules" / ".bin" / "jest"), "--ci", "--json", f"--outputFile={report}"],
        cwd=MINIPROGRAM, env=env, capture_output=True, text=True, timeout=900)
    assert report.exists(), f"jest wrote no report (exit {run.returncode}):\n{run.stdout[-4000:]}\n{run.stderr[-8000:]}"
    result = json.loads(report.read_text())
    failures = [f"{Path(suite['name']).name} › {case['fullName']}\n" + "\n".join(case.get("failureMessages") or [])
                for suite in result["testResults"] for case in suite["assertionResults"]
                if case["status"] != "passed"]
    broken = [f"{Path(s['name']).name}: {s.get('message', '')[:2000]}" for s in result["testResults"]
              if s["status"] != "passed" and not s["assertionResults"]]
    assert not failures and not broken, "\n\n".join(failures + broken)[:20000]
    assert result["numPendingTests"] == 0 and result["numTodoTests"] == 0, "skipped mini-program tests"
    assert result["numPassedTests"] >= MIN_TESTS, f"only {result['numPassedTests']} mini-program tests ran"
    assert run.returncode == 0, run.stderr[-4000:]
    _screenshots()


def _screenshots() -> None:
    """Each page Jest saved (test/artifacts/*.html) as a PNG at 750 CSS px, a 375-pt phone at 2x."""
    pages = sorted(ARTIFACTS.glob("*.html"))
    assert pages, "the Jest suite saved no page for screenshots"
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {CHROMIUM} is missing: the page screenshots cannot be taken")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 750, "height": 1334})
        for html in pages:
            page.goto(html.as_uri())
            # Nothing may leave the file: the pages' images are data URLs, their styles inline.
            png = ARTIFACTS / f"{html.stem}.png"
            page.screenshot(path=str(png), full_page=True)
            assert png.stat().st_size > 5000, f"{png} looks empty"
        browser.close()
