"""The HTML report as a browser shows it: headless Chromium renders the page with no network, and a reader sees
the verdict, the "not secured" finding and each failure with its requirement."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.check.tiny import Serving, broken_app


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium here (scripts/install-chromium.sh installs it from Debian)")
    return ""


def test_the_report_renders_in_a_browser(tmp_path: Path) -> None:
    browser = _chromium()
    server = Serving(broken_app())
    try:
        subprocess.run([sys.executable, "-m", "caregate", "check", server.base, "--report",
                        str(tmp_path / "report.html")], capture_output=True, timeout=300)
    finally:
        server.stop()
    page = (tmp_path / "report.html").as_uri()
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    assert "Does not meet the standards" in text
    assert text.index("NOT SECURED") < text.index("Score per standard")
    assert "fhirVersion is '3.0.2', not '4.0.1'" in text
    assert "The standard requires:" in text and "Evidence:" in text
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, "--window-size=1000,1200", f"--screenshot={shot}", page],
                   capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
