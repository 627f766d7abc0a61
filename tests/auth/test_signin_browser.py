"""The sign-in and consent pages in headless Chromium with JavaScript switched off (Playwright driving Debian's
Chromium): a person finds the fields by their labels, is told clearly when the password is wrong, sees the
requested access in plain words, and is sent back to the app with a code."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.auth.flow import pkce
from tests.auth.live import LiveServer

playwright = pytest.importorskip("playwright.sync_api")
REDIRECT = "http://app.invalid/callback"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium here (scripts/install-chromium.sh installs it from Debian)")
    return ""


@pytest.fixture
def server(tmp_path: Path, sqlite_url: str) -> Iterator[LiveServer]:
    from caregate.auth.service import AuthService

    live = LiveServer(sqlite_url, tmp_path / "server.log")
    auth = AuthService(sqlite_url, live.base)
    auth.clients.add("Diary app", "launch/patient openid fhirUser patient/Observation.rs", client_id="diary",
                     redirect_uris=(REDIRECT,))
    auth.users.add("ada", "a long enough password", patient="p1")
    try:
        yield live
    finally:
        live.stop()


def test_sign_in_and_consent_without_javascript(server: LiveServer) -> None:
    browser_path = _chromium()
    _, challenge = pkce()
    query = urlencode({"response_type": "code", "client_id": "diary", "redirect_uri": REDIRECT, "state": "xyz",
                       "scope": "launch/patient openid fhirUser patient/Observation.rs", "aud": server.base,
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(java_script_enabled=False)
            page = context.new_page()
            page.route("http://app.invalid/**", lambda route: route.fulfill(status=200, body="back in the app"))
            page.goto(f"{server.root}/auth/authorize?{query}")
            assert page.title() == "Sign in - caregate"
            assert page.locator("html").get_attribute("lang") == "en"
            assert "Diary app" in page.inner_text("main")
            page.get_by_label("User name").fill("ada")
            page.get_by_label("Password").fill("not it")
            page.get_by_role("button", name="Sign in").click()
            alert = page.get_by_role("alert")
            assert "not right" in alert.inner_text()
            assert page.get_by_label("User name").get_attribute("aria-describedby") == "error-summary"
            page.get_by_label("User name").fill("ada")
            page.get_by_label("Password").fill("a long enough password")
            page.get_by_role("button", name="Sign in").click()
            assert page.get_by_role("heading", level=1).inner_text() == "Allow access?"
            items = page.get_by_role("listitem").all_inner_texts()
            assert any(i.startswith("Read, search Observation resources in your own record") for i in items)
            page.get_by_role("button", name="Allow").click()
            page.wait_for_url(f"{REDIRECT}?*")
            returned = parse_qs(urlsplit(page.url).query)
            assert returned["state"] == ["xyz"] and returned["code"][0]
        finally:
            browser.close()
