"""Drive the sign-in and consent pages as a browser without JavaScript would: follow the forms."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.auth.conftest import FHIR, PASSWORD, REDIRECT

_INPUT = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize_params(scope: str, challenge: str, *, client_id: str = "papp", state: str = "s-123",
                     redirect: str = REDIRECT, **extra: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": client_id, "redirect_uri": redirect, "scope": scope,
            "state": state, "aud": FHIR, "code_challenge": challenge, "code_challenge_method": "S256", **extra}


def hidden_fields(html: str) -> dict[str, str]:
    return {unescape(k): unescape(v) for k, v in _INPUT.findall(html)}


async def sign_in(client: httpx.AsyncClient, authorize_url: str, username: str = "alice-user",
                  password: str = PASSWORD, allow: bool = True) -> httpx.Response:
    """From the authorize URL to the final redirect (the response whose Location goes back to the app)."""
    page = await client.get(authorize_url)
    assert page.status_code == 200, page.text
    assert "<form" in page.text and "<script" not in page.text
    form = {**hidden_fields(page.text), "username": username, "password": password}
    consent = await client.post("/auth/authorize", data=form)
    assert consent.status_code == 200, consent.text
    ticket = hidden_fields(consent.text)
    return await client.post("/auth/consent", data={**ticket, "decision": "allow" if allow else "deny"})


def redirect_query(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def url(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}"
