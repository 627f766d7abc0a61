"""Access tokens the resource server must refuse (RFC 9068 section 4, RFC 8725): each answers 401
invalid_token as an OperationOutcome, whatever the token claims to allow."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from caregate.auth.tokens import TokenIssuer
from tests.auth.conftest import FHIR, Secured

pytestmark = pytest.mark.anyio


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parts(token: str) -> tuple[dict, dict, str]:
    head, body, sig = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(head))), json.loads(base64.urlsafe_b64decode(pad(body))), sig


async def _refused(secured: Secured, token: str) -> None:
    r = await secured.client.get("/fhir/Patient/bob", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert r.json()["resourceType"] == "OperationOutcome"
    assert "Brown" not in r.text


async def test_a_good_token_works(secured: Secured) -> None:
    r = await secured.client.get("/fhir/Patient/bob", headers=secured.headers("user/Patient.r"))
    assert r.status_code == 200


async def test_expired(secured: Secured) -> None:
    await _refused(secured, secured.token("user/Patient.r", lifetime=-120))


async def test_tampered_claims(secured: Secured) -> None:
    head, claims, sig = _parts(secured.token("patient/Patient.r", patient="alice"))
    claims["patient"] = "bob"
    await _refused(secured, f"{_b64(head)}.{_b64(claims)}.{sig}")
    claims["scope"] = "user/*.cruds"
    await _refused(secured, f"{_b64(head)}.{_b64(claims)}.{sig}")


async def test_wrong_audience_and_issuer(secured: Secured) -> None:
    keys = secured.auth.keys
    other_aud = TokenIssuer(keys, secured.auth.issuer, "https://other.example/fhir")
    await _refused(secured, other_aud.access_token(client_id="app", subject="x", scope="user/Patient.r")[0])
    other_iss = TokenIssuer(keys, "https://evil.example", FHIR)
    await _refused(secured, other_iss.access_token(client_id="app", subject="x", scope="user/Patient.r")[0])


async def test_alg_none_and_algorithm_confusion(secured: Secured) -> None:
    head, claims, _ = _parts(secured.token("user/Patient.r"))
    await _refused(secured, f"{_b64({**head, 'alg': 'none'})}.{_b64(claims)}.")
    public = json.dumps((await secured.client.get("/auth/jwks")).json()["keys"][0]).encode()
    signing_input = f"{_b64({**head, 'alg': 'HS256'})}.{_b64(claims)}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    await _refused(secured, f"{signing_input}.{_b64(mac)}")


async def test_id_token_is_not_an_access_token(secured: Secured) -> None:
    id_token = secured.auth.tokens.id_token(client_id="app", subject="alice-user", fhir_user="Patient/alice",
                                            nonce=None)
    await _refused(secured, id_token)


async def test_unknown_key_and_garbage(secured: Secured) -> None:
    head, claims, sig = _parts(secured.token("user/Patient.r"))
    await _refused(secured, f"{_b64({**head, 'kid': 'nobody'})}.{_b64(claims)}.{sig}")
    for junk in ("abc", "a.b.c", "....", "e30.e30.e30"):
        await _refused(secured, junk)


async def test_rotated_keys_keep_live_tokens_valid(secured: Secured) -> None:
    before = secured.token("user/Patient.r")
    secured.auth.keys.rotate()
    after = secured.token("user/Patient.r")
    assert _parts(before)[0]["kid"] != _parts(after)[0]["kid"]
    for token in (before, after):
        r = await secured.client.get("/fhir/Patient/bob", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
    jwks = (await secured.client.get("/auth/jwks")).json()
    assert len(jwks["keys"]) == 2


async def test_scope_escalation_through_token_issue_is_refused(secured: Secured) -> None:
    from caregate.auth.service import GrantRefused

    granted = secured.auth.issue("papp", "patient/*.rs user/*.cruds system/*.cruds", patient="alice")[1]["scope"]
    assert granted == "patient/*.rs"
    with pytest.raises(GrantRefused):
        secured.auth.issue("papp", "user/*.cruds")
