"""In headless Chromium with JavaScript off, against `caregate serve`: a patient signs in through an external
OpenID Connect provider (the small one the tests start), and a clinician whose app asks for a patient context
without an EHR launch finds and chooses the patient on the picker page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.auth.flow import pkce
from tests.auth.live import LiveServer
from tests.auth.oidc_provider import OidcProvider
from tests.auth.test_federation import NHS_NUMBER, RECORDS, rp_key, write_federation
from tests.auth.test_signin_browser import _chromium

playwright = pytest.importorskip("playwright.sync_api")
REDIRECT = "http://app.invalid/callback"
PASSWORD = "a long enough password"


def _load(database_url: str) -> None:
    from caregate.storage import open_store
    from caregate.storage.base import Write

    async def write() -> None:
        store = open_store(database_url)
        try:
            await store.transact([Write("update", r["resourceType"], r["id"], r) for r in RECORDS])
        finally:
            await store.close()

    asyncio.run(write())


@pytest.fixture
def provider() -> Iterator[tuple[OidcProvider, bytes]]:
    pem, public = rp_key()
    with OidcProvider("caregate-rp", public) as idp:
        yield idp, pem


@pytest.fixture
def server(tmp_path: Path, sqlite_url: str, provider: tuple[OidcProvider, bytes]) -> Iterator[LiveServer]:
    from caregate.auth.service import AuthService

    _load(sqlite_url)
    idp, pem = provider
    live = LiveServer(sqlite_url, tmp_path / "server.log", "--federation",
                      str(write_federation(tmp_path, idp, None, pem)))
    auth = AuthService(sqlite_url, live.base)
    auth.clients.add("Diary app", "launch/patient openid fhirUser patient/*.rs", client_id="diary",
                     redirect_uris=(REDIRECT,))
    auth.clients.add("Ward app", "launch/patient openid fhirUser patient/*.rs user/*.rs", client_id="ward",
                     redirect_uris=(REDIRECT,))
    auth.users.add("dr-who", PASSWORD, practitioner="drwho", org="RX1", roles=("R8000",))
    try:
        yield live
    finally:
        live.stop()


def _authorize_url(server: LiveServer, client_id: str, scope: str, challenge: str) -> str:
    return f"{server.root}/auth/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "st-1", "scope": scope,
        "aud": server.base, "code_challenge": challenge, "code_challenge_method": "S256"})


def _token(server: LiveServer, client_id: str, code: str, verifier: str) -> dict:
    r = httpx.post(f"{server.root}/auth/token", data={"grant_type": "authorization_code", "client_id": client_id,
                                                       "code": code, "redirect_uri": REDIRECT,
                                                       "code_verifier": verifier})
    assert r.status_code == 200, r.text
    return r.json()


def _browser(p):  # Playwright objects: its own types
    return p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"])


@contextmanager
def _authorize_page(server: LiveServer, client: str, challenge: str) -> Iterator:
    """Headless Chromium without JavaScript on the authorization page for `client` (the app's redirect answered
    by the test), closed afterwards."""
    with playwright.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.route("http://app.invalid/**", lambda route: route.fulfill(status=200, body="back in the app"))
            page.goto(_authorize_url(server, client, "launch/patient openid fhirUser patient/*.rs", challenge))
            yield page
        finally:
            browser.close()


def test_patient_signs_in_with_the_provider_in_a_browser(server: LiveServer,
                                                         provider: tuple[OidcProvider, bytes]) -> None:
    idp, _ = provider
    idp.claims = {"nhs_number": NHS_NUMBER, "vot": "P9.Cp.Cd"}
    verifier, challenge = pkce()
    with _authorize_page(server, "diary", challenge) as page:
        page.get_by_role("button", name="Sign in with NHS login").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Allow access?"
        assert "nhs-login:person-1" in page.inner_text("main")
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{REDIRECT}?*")
        returned = parse_qs(urlsplit(page.url).query)
    assert returned["state"] == ["st-1"]
    tokens = _token(server, "diary", returned["code"][0], verifier)
    assert tokens["patient"] == "alice"
    record = httpx.get(f"{server.base}/Patient/alice", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert record.status_code == 200


def test_provider_answer_that_does_not_verify_shows_a_page(server: LiveServer,
                                                           provider: tuple[OidcProvider, bytes]) -> None:
    idp, _ = provider
    idp.claims = {"nhs_number": NHS_NUMBER}
    idp.tamper = "signature"
    _, challenge = pkce()
    with _authorize_page(server, "diary", challenge) as page:
        page.get_by_role("button", name="Sign in with NHS login").click()
        assert page.title() == "Sign-in cannot continue - caregate"
        assert "could not be verified" in page.get_by_role("alert").inner_text()


def test_clinician_picks_the_patient_without_javascript(server: LiveServer) -> None:
    verifier, challenge = pkce()
    with _authorize_page(server, "ward", challenge) as page:
        page.get_by_label("User name").fill("dr-who")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        assert page.get_by_role("heading", level=1).inner_text() == "Choose the patient"
        search = page.get_by_label("Name or NHS number")
        search.fill("Nobody")
        page.get_by_role("button", name="Search").click()
        assert page.get_by_role("status").inner_text() == "0 patients found"
        page.get_by_label("Name or NHS number").fill(NHS_NUMBER)
        page.get_by_role("button", name="Search").click()
        assert page.get_by_role("status").inner_text() == "1 patient found"
        assert "born 1970-01-02" in page.get_by_role("listitem").inner_text()
        page.get_by_role("button", name="Choose Alice Ashby").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Allow access?"
        assert "Alice Ashby" in page.inner_text("main")
        items = page.get_by_role("listitem").all_inner_texts()
        assert any(i.startswith("Read, search all kinds of data in this patient's record") for i in items)
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{REDIRECT}?*")
        returned = parse_qs(urlsplit(page.url).query)
    tokens = _token(server, "ward", returned["code"][0], verifier)
    assert tokens["patient"] == "alice"
