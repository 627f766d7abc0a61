"""CORS for browser SMART apps: origins of registered redirect URIs may call the FHIR API and the token
endpoint from a page (preflight answered), other origins get no CORS headers, discovery is readable anywhere."""

from __future__ import annotations

import pytest

from caregate.web.cors import origin_of
from tests.auth.conftest import Secured

pytestmark = pytest.mark.anyio
APP = "https://app.example"  # the origin of the test app's redirect URI
PREFLIGHT = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}


async def test_preflight_from_a_registered_app_origin_is_answered(secured: Secured) -> None:
    for path in ("/fhir/Patient", "/auth/token"):
        r = await secured.client.options(path, headers={"Origin": APP, **PREFLIGHT})
        assert r.status_code == 204, r.text
        assert r.headers["access-control-allow-origin"] == APP
        assert "authorization" in r.headers["access-control-allow-headers"]
        assert "GET" in r.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in r.headers


async def test_responses_to_a_registered_origin_carry_cors_headers(secured: Secured) -> None:
    h = {"Origin": APP, **secured.headers("patient/*.rs", client="papp", patient="alice")}
    r = await secured.client.get("/fhir/Patient/alice", headers=h)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == APP and "Origin" in r.headers["vary"]
    assert "etag" in r.headers["access-control-expose-headers"]
    refused = await secured.client.get("/fhir/Patient/alice", headers={"Origin": APP})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == APP


async def test_other_origins_get_no_cors_headers(secured: Secured) -> None:
    r = await secured.client.options("/fhir/Patient", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    h = {"Origin": "https://evil.example", **secured.headers("patient/*.rs", client="papp", patient="alice")}
    r = await secured.client.get("/fhir/Patient/alice", headers=h)
    assert "access-control-allow-origin" not in r.headers


async def test_discovery_is_readable_from_any_origin(secured: Secured) -> None:
    for path in ("/fhir/.well-known/smart-configuration", "/.well-known/openid-configuration", "/auth/jwks"):
        r = await secured.client.get(path, headers={"Origin": "https://anywhere.example"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://anywhere.example"


def test_origin_of_redirect_uris() -> None:
    assert origin_of("https://app.example/callback?x=1") == "https://app.example"
    assert origin_of("https://app.example:443/cb") == "https://app.example"
    assert origin_of("http://localhost:8000/cb") == "http://localhost:8000"
    assert origin_of("com.example.app:/callback") is None
