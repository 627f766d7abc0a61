"""Identity assurance in tokens, in the style of NHS login: the user's proofing level (P0/P5/P9) as
`identity_proofing_level` and how they signed in as `amr` (RFC 8176: `pwd`, `otp`), kept across refreshes."""

from __future__ import annotations

import base64
import json

import pyotp
import pytest
from click.testing import CliRunner

from caregate.auth.service import AuthService
from caregate.cli.main import cli
from tests.auth.conftest import PASSWORD, REDIRECT, Secured
from tests.auth.flow import authorize_params, hidden_fields, pkce, redirect_query, sign_in, url

pytestmark = pytest.mark.anyio
SCOPE = "launch/patient offline_access patient/*.rs"


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def _exchange(secured: Secured, code: str, verifier: str) -> dict:
    r = await secured.client.post("/auth/token", data={"grant_type": "authorization_code", "code": code,
                                                       "redirect_uri": REDIRECT, "client_id": "papp",
                                                       "code_verifier": verifier})
    assert r.status_code == 200, r.text
    return r.json()


async def test_password_sign_in_carries_proofing_level_and_method(secured: Secured) -> None:
    secured.auth.users.add("bob-user", PASSWORD, patient="bob", proofing="P9")
    verifier, challenge = pkce()
    done = await sign_in(secured.client, url("/auth/authorize", authorize_params(SCOPE, challenge)),
                         username="bob-user")
    tokens = await _exchange(secured, redirect_query(done)["code"], verifier)
    claims = _claims(tokens["access_token"])
    assert claims["identity_proofing_level"] == "P9" and claims["amr"] == ["pwd"]
    refreshed = await secured.client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": "papp",
                                                               "refresh_token": tokens["refresh_token"]})
    again = _claims(refreshed.json()["access_token"])
    assert again["identity_proofing_level"] == "P9" and again["amr"] == ["pwd"]


async def test_second_factor_shows_in_amr_and_unproofed_users_are_p0(secured: Secured) -> None:
    secret, _, _ = secured.auth.second_factor.enrol("alice-user")
    verifier, challenge = pkce()
    page = await secured.client.get(url("/auth/authorize", authorize_params(SCOPE, challenge)))
    code_page = await secured.client.post("/auth/authorize", data={**hidden_fields(page.text),
                                                                   "username": "alice-user", "password": PASSWORD})
    consent = await secured.client.post("/auth/verify", data={**hidden_fields(code_page.text),
                                                              "code": pyotp.TOTP(secret).now()})
    done = await secured.client.post("/auth/consent", data={**hidden_fields(consent.text), "decision": "allow"})
    claims = _claims((await _exchange(secured, redirect_query(done)["code"], verifier))["access_token"])
    assert claims["amr"] == ["pwd", "otp"] and claims["identity_proofing_level"] == "P0"


def test_users_add_proofing_option(database_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["users", "add", "pat", "--patient", "p1", "--proofing", "P9",
                                 "--database", database_url])
    assert result.exit_code == 0, result.output
    bad = runner.invoke(cli, ["users", "add", "pat2", "--proofing", "P7", "--database", database_url])
    assert bad.exit_code != 0 and "P7" in bad.output
    service = AuthService(database_url, "http://localhost:8080/fhir")
    assert service.users.get("pat").proofing == "P9"
    service.clients.add("App", "patient/*.rs", client_id="app")
    _, claims = service.issue("app", "patient/*.rs", user="pat")
    assert claims["identity_proofing_level"] == "P9"
    with pytest.raises(ValueError):
        service.users.add("pat3", proofing="P3")
