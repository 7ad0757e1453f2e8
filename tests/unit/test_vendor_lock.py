"""The vendored browser code is exactly the pinned npm files: ``scripts/vendor --check`` offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_vendored_file_matches_its_locked_hash():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "vendor"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "match" in done.stdout


def test_the_check_notices_a_changed_file(tmp_path):
    # A copy of the tree's lock pointing at a changed file must fail the check.
    import json

    lock = json.loads((ROOT / "scripts" / "vendor.lock.json").read_text(encoding="utf-8"))
    name, entry = next(iter(lock.items()))
    source = next(iter(entry["files"]))
    entry["files"][source] = "0" * 64
    spec = tmp_path / "vendor"
    spec.write_text((ROOT / "scripts" / "vendor").read_text(encoding="utf-8").replace(
        'ROOT / "scripts" / "vendor.lock.json"', f'Path({str(tmp_path / "lock.json")!r})').replace(
        "ROOT = Path(__file__).resolve().parent.parent", f"ROOT = Path({str(ROOT)!r})"), encoding="utf-8")
    (tmp_path / "lock.json").write_text(json.dumps({name: entry}), encoding="utf-8")
    done = subprocess.run([sys.executable, str(spec), "--check"], capture_output=True, text=True)
    assert done.returncode == 1
    assert f"differs from {entry['version']}" in done.stderr
