"""SMART standalone launch through the authorization code flow with PKCE, sign-in and consent pages, refresh
rotation, revocation and introspection (RFC 6749, 7636, 7009, 7662; smart-app-launch/app-launch.html)."""

from __future__ import annotations

import pytest

from tests.auth.conftest import REDIRECT, Secured
from tests.auth.flow import authorize_params, pkce, redirect_query, sign_in, url

pytestmark = pytest.mark.anyio
SCOPE = "launch/patient openid fhirUser offline_access patient/*.rs"


async def _code(secured: Secured, scope: str = SCOPE) -> tuple[str, str]:
    verifier, challenge = pkce()
    done = await sign_in(secured.client, url("/auth/authorize", authorize_params(scope, challenge)))
    assert done.status_code == 303
    assert done.headers["location"].startswith(REDIRECT + "?")
    query = redirect_query(done)
    assert query["state"] == "s-123"
    return query["code"], verifier


async def _exchange(secured: Secured, code: str, verifier: str) -> dict:
    r = await secured.client.post("/auth/token", data={"grant_type": "authorization_code", "code": code,
                                                       "redirect_uri": REDIRECT, "client_id": "papp",
                                                       "code_verifier": verifier})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()


async def test_discovery_documents_describe_what_is_supported(secured: Secured) -> None:
    smart = (await secured.client.get("/fhir/.well-known/smart-configuration")).json()
    oidc = (await secured.client.get("/.well-known/openid-configuration")).json()
    assert smart["issuer"] == oidc["issuer"] == "http://127.0.0.1:8080"
    assert smart["code_challenge_methods_supported"] == ["S256"]
    assert "registration_endpoint" not in smart  # only with --sandbox
    jwks = (await secured.client.get("/auth/jwks")).json()
    assert all(k["kid"] and k["kty"] == "RSA" and "d" not in k for k in jwks["keys"])
    cs = (await secured.client.get("/fhir/metadata")).json()
    assert cs["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"


async def test_standalone_patient_launch(secured: Secured) -> None:
    code, verifier = await _code(secured)
    tokens = await _exchange(secured, code, verifier)
    assert tokens["patient"] == "alice"
    assert tokens["scope"] == SCOPE
    assert tokens["id_token"] and tokens["refresh_token"]
    h = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await secured.client.get("/fhir/Patient/alice", headers=h)).status_code == 200
    assert (await secured.client.get("/fhir/Patient/bob", headers=h)).status_code == 404


async def test_code_works_once_and_needs_the_verifier(secured: Secured) -> None:
    code, verifier = await _code(secured)
    bad = await secured.client.post("/auth/token", data={"grant_type": "authorization_code", "code": code,
                                                         "redirect_uri": REDIRECT, "client_id": "papp",
                                                         "code_verifier": "wrong" * 10})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    code, verifier = await _code(secured)
    await _exchange(secured, code, verifier)
    again = await secured.client.post("/auth/token", data={"grant_type": "authorization_code", "code": code,
                                                           "redirect_uri": REDIRECT, "client_id": "papp",
                                                           "code_verifier": verifier})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_pkce_plain_and_missing_are_refused(secured: Secured) -> None:
    verifier, _ = pkce()
    for extra in ({"code_challenge": verifier, "code_challenge_method": "plain"}, {"code_challenge": ""}):
        params = {**authorize_params(SCOPE, "x"), **extra}
        r = await secured.client.get(url("/auth/authorize", params))
        assert r.status_code == 302
        query = redirect_query(r)
        assert query["error"] == "invalid_request" and query["state"] == "s-123"


async def test_unregistered_redirect_uri_is_never_followed(secured: Secured) -> None:
    _, challenge = pkce()
    for redirect in ("https://evil.example/callback", REDIRECT + "/../../evil", REDIRECT + "x"):
        r = await secured.client.get(url("/auth/authorize", authorize_params(SCOPE, challenge, redirect=redirect)))
        assert r.status_code == 400
        assert "location" not in r.headers
        assert "evil" not in r.text


async def test_wrong_password_and_lock_out(secured: Secured) -> None:
    _, challenge = pkce()
    start = url("/auth/authorize", authorize_params(SCOPE, challenge))
    page = await secured.client.get(start)
    from tests.auth.flow import hidden_fields

    form = hidden_fields(page.text)
    for _ in range(5):
        r = await secured.client.post("/auth/authorize", data={**form, "username": "alice-user", "password": "no"})
        assert r.status_code == 401
        assert 'role="alert"' in r.text
    r = await secured.client.post("/auth/authorize", data={**form, "username": "alice-user",
                                                            "password": "correct horse battery staple"})
    assert r.status_code == 401  # locked for a while, even with the right password


async def test_denied_consent_returns_access_denied(secured: Secured) -> None:
    _, challenge = pkce()
    done = await sign_in(secured.client, url("/auth/authorize", authorize_params(SCOPE, challenge)), allow=False)
    assert redirect_query(done)["error"] == "access_denied"


async def test_refresh_rotates_and_reuse_revokes_the_family(secured: Secured) -> None:
    code, verifier = await _code(secured)
    first = await _exchange(secured, code, verifier)
    form = {"grant_type": "refresh_token", "client_id": "papp", "refresh_token": first["refresh_token"]}
    second = await secured.client.post("/auth/token", data=form)
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    reuse = await secured.client.post("/auth/token", data=form)
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    after = await secured.client.post("/auth/token", data={**form, "refresh_token": rotated["refresh_token"]})
    assert after.status_code == 400  # the whole family is gone
    h = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert (await secured.client.get("/fhir/Patient/alice", headers=h)).status_code == 401


async def test_refresh_cannot_widen_scope(secured: Secured) -> None:
    code, verifier = await _code(secured)
    first = await _exchange(secured, code, verifier)
    r = await secured.client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": "papp",
                                                       "refresh_token": first["refresh_token"],
                                                       "scope": SCOPE + " user/*.cruds"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    narrower = await secured.client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": "papp",
                                                              "refresh_token": first["refresh_token"],
                                                              "scope": "patient/*.rs offline_access"})
    assert narrower.status_code == 400  # the first attempt used it up; a failed refresh is not a free retry


async def test_revoked_access_and_refresh_tokens_stop_working(secured: Secured) -> None:
    code, verifier = await _code(secured)
    tokens = await _exchange(secured, code, verifier)
    h = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await secured.client.get("/fhir/Patient/alice", headers=h)).status_code == 200
    r = await secured.client.post("/auth/revoke", data={"token": tokens["access_token"], "client_id": "papp"})
    assert r.status_code == 200
    denied = await secured.client.get("/fhir/Patient/alice", headers=h)
    assert denied.status_code == 401 and 'error="invalid_token"' in denied.headers["www-authenticate"]
    await secured.client.post("/auth/revoke", data={"token": tokens["refresh_token"], "client_id": "papp"})
    r = await secured.client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": "papp",
                                                       "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 400
    unknown = await secured.client.post("/auth/revoke", data={"token": "nonsense", "client_id": "papp"})
    assert unknown.status_code == 200


async def test_registration_is_closed_without_sandbox(secured: Secured) -> None:
    r = await secured.client.post("/auth/register", json={"redirect_uris": [REDIRECT]})
    assert r.status_code == 403
