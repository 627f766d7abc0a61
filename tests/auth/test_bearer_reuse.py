"""A token sent again and again is checked again each time for what can change while it is in use: its expiry
and its revocation. Only its signature, issuer and audience, fixed by its text, are remembered."""

from __future__ import annotations

import pytest

from caregate.auth.bearer import LEEWAY, InvalidToken
from tests.auth.conftest import Secured, secured  # noqa: F401

pytestmark = pytest.mark.anyio


async def test_a_token_used_before_still_expires(secured: Secured) -> None:  # noqa: F811
    bearer = secured.app.app.fhir.bearer
    token = secured.token("user/*.rs", lifetime=60)
    h = {"Authorization": f"Bearer {token}"}
    assert (await secured.client.get("/fhir/Patient/alice", headers=h)).status_code == 200
    claims = bearer.claims(token)
    real_now = bearer.now
    bearer.now = lambda: claims["exp"] + LEEWAY + 1
    try:
        with pytest.raises(InvalidToken, match="expired"):
            bearer.claims(token)
        r = await secured.client.get("/fhir/Patient/alice", headers=h)
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    finally:
        bearer.now = real_now
    assert (await secured.client.get("/fhir/Patient/alice", headers=h)).status_code == 200


async def test_a_token_altered_after_a_good_one_was_used_is_refused(secured: Secured) -> None:  # noqa: F811
    token = secured.token("user/*.rs")
    good = {"Authorization": f"Bearer {token}"}
    assert (await secured.client.get("/fhir/Patient/alice", headers=good)).status_code == 200
    head, body, signature = token.split(".")
    altered = f"{head}.{body}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    r = await secured.client.get("/fhir/Patient/alice", headers={"Authorization": f"Bearer {altered}"})
    assert r.status_code == 401
