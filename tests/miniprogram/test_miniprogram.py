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
